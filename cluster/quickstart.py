"""`mmei quickstart`: the whole platform end to end on this machine.

Stages, on an embedded local Ray cluster with W&B offline:
generate the SYNTHETIC corpus (plus four planted corrupt rows) → prepare it with Ray
Data (the corrupt rows are quarantined) → train MMEI with Ray Train and DeepSpeed
ZeRO-2 on 2 CPU workers → evaluate it, and compare it with the baselines on the same
budget over seeds → write the run report → deploy the Serve graph on 127.0.0.1 →
send sample requests over HTTP (text + audio + frames, text only, a sarcastic one) →
keep serving until Ctrl-C, or shut down with --exit.

The trained MMEI is seed 0 of the comparison: the baselines and MMEI's other seeds
train with exactly its config, so every model has the same budget.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pyarrow.parquet as pq

from mmei.pipelines.sources.corrupt_rows import CORRUPT_SHARD, plant_corrupt_rows
from mmei.pipelines.sources.synthetic import write_corpus
from mmei.platform.config import load_config
from mmei.platform.errors import UserInputError


class Stages:
    """Prints each stage's name and elapsed time, and keeps the times for the report."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        print(f"\n== {name}", flush=True)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - start
            print(f"   ({name}: {self.seconds[name]:.1f}s)", flush=True)


def pick_examples(corpus: Path) -> list[tuple[str, dict[str, Any]]]:
    """A complete sample, the same with text only, and a sarcastic one."""
    rows = pq.read_table([path for path in sorted(corpus.glob("synthetic-part-*.parquet"))
                          if path.name != CORRUPT_SHARD]).to_pylist()
    rows.sort(key=lambda r: r["split"] != "test")  # prefer held-out samples
    complete = [r for r in rows if r["text"] and r["audio"] and r["frames"]]
    if not complete:
        raise UserInputError(f"{corpus} has no sample with all three modalities; generate more samples")
    aligned = next((r for r in complete if r["scenario"] == "aligned"), complete[0])
    sarcastic = next((r for r in complete if r["scenario"] == "sarcasm"), None)
    complete = aligned
    examples = [("text + audio + frames", complete),
                ("text only", {**complete, "audio": None, "frames": None})]
    if sarcastic:
        examples.append(("sarcastic: positive words, negative voice and face", sarcastic))
    return examples


def as_request(row: dict[str, Any], user_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": user_id, "k": 3, "text": row.get("text")}
    if row.get("audio"):
        body["audio"] = base64.b64encode(row["audio"]).decode()
    if row.get("frames"):
        body["frames"] = [base64.b64encode(frame).decode() for frame in row["frames"]]
    return body


def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def show(title: str, row: dict[str, Any], answer: dict[str, Any]) -> None:
    recognition = answer["recognition"]
    print(f"\n-- {title}  [{row['sample_id']}, SYNTHETIC]")
    print(f"   text: {row['text']!r}")
    print(f"   truth:      emotion={row['emotion']}, sentiment={row['sentiment']}, intent={row['intent']}")
    guess = ", ".join(f"{head}={recognition[head]['label']} ({max(recognition[head]['probabilities'].values()):.2f})"
                      for head in ("emotion", "sentiment", "intent"))
    print(f"   recognised: {guess}")
    weights = "  ".join(f"{m}={w:.2f}" for m, w in recognition["fusion_weights"].items())
    print(f"   fusion weights: {weights}")
    items = "; ".join(f"{item['title']} ({item['score']:.2f})" for item in answer["items"])
    print(f"   recommended ({answer['strategy']}, variant {answer['variant']}): {items}")


def run_quickstart(workdir: Path, samples: int, config_name: str = "tiny", overrides: list[str] | None = None,
                   port: int = 8000, exit_after: bool = False, compare_seeds: int = 2, verbose: bool = False,
                   models: list[str] | None = None, parallel_runs: int = 2) -> int:
    """`verbose` lets Ray's and DeepSpeed's own output through to the console; `models`
    are the models compared (MMEI always, default: every baseline too)."""
    from mmei.cluster.ray_session import ray_session
    from mmei.pipelines.compare import run_compare, verdict_line
    from mmei.pipelines.evaluate import full_evaluation
    from mmei.pipelines.prepare import check_inputs, run_preparation
    from mmei.pipelines.run_report import write_run_report
    from mmei.pipelines.train import run_training
    from mmei.serving.config import load_serve_config
    from mmei.serving.launch import serve_until_stopped, start, stop

    config = load_config(config_name, [f"corpus.samples={samples}", *(overrides or [])])
    workdir.mkdir(parents=True, exist_ok=True)
    corpus, features, run = workdir / "corpus", workdir / "features", workdir / "train"
    for stale in (features, run, workdir / "compare", workdir / "report"):
        if stale.exists():
            shutil.rmtree(stale)  # the quickstart's own outputs: always a fresh run
    stage = Stages()
    print(f"mmei quickstart: config {config.name!r}, outputs in {workdir}")

    with stage("1/6 SYNTHETIC corpus"):
        if sorted(corpus.glob("synthetic-part-0*.parquet")):
            print(f"   reusing the corpus in {corpus}")
        else:
            summary = write_corpus(corpus, config.corpus, config.labels, config.features, progress=lambda _: None)
            print(f"   {summary['rows']} SYNTHETIC samples, splits {summary['splits']}, scenarios {summary['scenario']}")
        print(f"   planted 4 corrupt rows for the quarantine to catch: {plant_corrupt_rows(corpus).name}")

    indented = lambda line: print("   " + line)  # noqa: E731 - stage output sits under its heading
    with ray_session(quiet=not verbose, announce=indented):
        with stage("2/6 prepare with Ray Data"):
            manifest = run_preparation(check_inputs(corpus, features), features, config, echo=indented,
                                       show_progress=True, indent="   ")
        with stage(f"3/6 train MMEI: Ray Train + DeepSpeed ZeRO-{config.train.zero_stage}, "
                   f"{config.train.num_workers} CPU workers"):
            trained = run_training(config, features, run, echo=indented, show_progress=True, indent="   ")
        with stage("4/6 evaluate" + (f", and compare with the baselines ({compare_seeds} seeds, same budget)"
                                     if compare_seeds else " (no comparison: --compare-seeds 0)")):
            evaluation = full_evaluation(trained.bundle, features, "test")
            m = evaluation["metrics"]
            print(f"   MMEI test macro-F1: emotion {m['emotion_macro_f1']:.3f}, sentiment {m['sentiment_macro_f1']:.3f}, "
                  f"intent {m['intent_macro_f1']:.3f}")
            comparison = None
            if compare_seeds:
                kinds = ["mmei", *(m for m in models if m != "mmei")] if models else None
                comparison = run_compare(config, features, workdir / "compare", compare_seeds, kinds, echo=indented,
                                         reuse={("mmei", 0): trained}, show_progress=True, indent="   ",
                                         parallel_runs=parallel_runs)
        def write_report() -> Path:  # now, so a failed Serve start still leaves it; again with every stage's time
            return write_run_report(workdir / "report", title="MMEI quickstart run", stage_seconds=stage.seconds,
                                    manifest=manifest, features=features, comparison=comparison,
                                    evaluation=evaluation, wandb_dir=trained.wandb_offline_dir)

        report = write_report()
        print(f"   run report: {report}")

        with stage(f"5/6 deploy the Serve graph on 127.0.0.1:{port}"):
            serving = load_serve_config(None, [f"bundle={trained.bundle}", f"port={port}",
                                               f"store_url=sqlite:///{workdir.resolve() / 'serve.db'}"])
            url = start(serving)
            print(f"   {url} (OpenAPI docs at {url}/docs); store {serving.store_url}; "
                  f"catalog {serving.catalog_path.name} (SYNTHETIC)")
        try:
            with stage("6/6 recommend over HTTP"):
                answers = []
                for number, (title, row) in enumerate(pick_examples(corpus)):
                    answer = post(f"{url}/v1/recommend", as_request(row, f"quickstart-user-{number}"),
                                  serving.client_headers(os.environ))
                    show(title, row, answer)
                    answers.append({"example": title, "sample_id": row["sample_id"], "response": answer})
                (workdir / "sample_requests.json").write_text(json.dumps(answers, indent=2))
            write_report()
            print(f"\nquickstart done in {sum(stage.seconds.values()):.0f}s. Outputs: {workdir}")
            print(f"Run report: {report}")
            if comparison:
                print(verdict_line(comparison) + " (SYNTHETIC data: a check of the platform, not of the paper)")
            if trained.wandb_offline_dir:
                print(f"W&B offline run: {trained.wandb_offline_dir} (wandb sync it to upload)")
            print(f"\nTry it:\n  curl -s {url}/v1/recommend -H 'content-type: application/json' "
                  f"-d '{{\"user_id\": \"me\", \"text\": \"I feel low, show me something uplifting\", \"k\": 3}}'")
        except BaseException:
            stop()
            raise
        if exit_after:
            stop()
        else:
            print("Serving until Ctrl-C or SIGTERM (both drain first).", flush=True)
            serve_until_stopped(serving)
    return 0
