"""`mmei quickstart`: the platform end to end on this machine, as far as it goes today.

Stages: generate the SYNTHETIC corpus → build MMEI → predict a few samples (text +
audio + frames, text only, a sarcastic one) → save a bundle and reload it. The model
is untrained at this stage of the platform, and the output says so: training lands
with `mmei train`.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pyarrow.parquet as pq

from mmei.pipelines.sources.synthetic import write_corpus
from mmei.platform.bundle import load_bundle, save_bundle
from mmei.platform.config import load_config
from mmei.platform.models.build import build_model
from mmei.platform.predict import Predictor


@contextmanager
def stage(name: str) -> Iterator[None]:
    print(f"\n== {name}", flush=True)
    start = time.perf_counter()
    yield
    print(f"   ({name}: {time.perf_counter() - start:.1f}s)", flush=True)


def pick_examples(corpus: Path) -> list[tuple[str, dict[str, Any]]]:
    """A complete sample, the same with text only, and a sarcastic one."""
    rows = pq.read_table(sorted(corpus.glob("synthetic-part-*.parquet"))).to_pylist()
    rows.sort(key=lambda r: r["split"] != "test")  # prefer held-out samples
    complete = [r for r in rows if r["text"] and r["audio"] and r["frames"]]
    if not complete:
        raise ValueError(f"{corpus} has no sample with all three modalities; generate more samples")
    aligned = next((r for r in complete if r["scenario"] == "aligned"), complete[0])
    sarcastic = next((r for r in complete if r["scenario"] == "sarcasm"), None)
    complete = aligned
    examples = [("text + audio + frames", complete),
                ("text only", {**complete, "audio": None, "frames": None})]
    if sarcastic:
        examples.append(("sarcastic: positive words, negative voice and face", sarcastic))
    return examples


def show(title: str, row: dict[str, Any], prediction: dict[str, Any]) -> None:
    print(f"\n-- {title}  [{row['sample_id']}, SYNTHETIC]")
    print(f"   text: {row['text']!r}")
    print(f"   truth:     emotion={row['emotion']}, sentiment={row['sentiment']}, intent={row['intent']}")
    guess = ", ".join(f"{head}={prediction[head]['label']} ({max(prediction[head]['probabilities'].values()):.2f})"
                      for head in ("emotion", "sentiment", "intent"))
    print(f"   predicted: {guess}")
    weights = "  ".join(f"{m}={w:.2f}" for m, w in prediction["fusion_weights"].items())
    print(f"   fusion weights: {weights}")


def run_quickstart(workdir: Path, samples: int, config_name: str = "tiny", overrides: list[str] | None = None) -> int:
    config = load_config(config_name, [f"corpus.samples={samples}", *(overrides or [])])
    workdir.mkdir(parents=True, exist_ok=True)
    corpus = workdir / "corpus"
    started = time.perf_counter()
    print(f"mmei quickstart: config {config.name!r}, outputs in {workdir}")

    with stage("1/4 SYNTHETIC corpus"):
        if sorted(corpus.glob("synthetic-part-*.parquet")):
            print(f"   reusing the corpus in {corpus}")
        else:
            summary = write_corpus(corpus, config.corpus, config.labels, config.features, progress=lambda _: None)
            print(f"   {summary['rows']} SYNTHETIC samples, splits {summary['splits']}, scenarios {summary['scenario']}")

    with stage("2/4 build MMEI"):
        model = build_model(config)
        sizes = {name: sum(p.numel() for p in module.parameters()) for name, module in model.named_children()}
        print(f"   {sum(sizes.values()):,} parameters: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
        predictor = Predictor(model, config)

    with stage("3/4 recognise emotion and intent"):
        print("   NOTE: this model is UNTRAINED; its guesses are chance until `mmei train` lands.")
        examples = pick_examples(corpus)
        predictions = predictor.predict([row for _, row in examples])
        for (title, row), prediction in zip(examples, predictions):
            show(title, row, prediction)

    with stage("4/4 model bundle"):
        bundle = save_bundle(model, config, workdir / "bundle", extra={"trained": False})
        reloaded = load_bundle(bundle).predict([row for _, row in examples])
        same = all(abs(a["emotion"]["probabilities"][k] - b["emotion"]["probabilities"][k]) < 1e-5
                   for a, b in zip(predictions, reloaded) for k in a["emotion"]["probabilities"])
        print(f"   saved {bundle}; reloaded without training code: predictions {'match' if same else 'DIFFER'}")

    print(f"\nquickstart done in {time.perf_counter() - started:.1f}s. Outputs: {workdir}")
    return 0 if same else 1
