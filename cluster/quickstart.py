"""`mmei quickstart`: the platform end to end on this machine, as far as it goes today.

Stages, on an embedded local Ray cluster with W&B offline:
generate the SYNTHETIC corpus → prepare it with Ray Data → train MMEI with Ray Train
and DeepSpeed ZeRO-2 on 2 CPU workers → evaluate it (report with ablation and
robustness) → deploy the Serve graph on 127.0.0.1 → send sample requests over HTTP
(text + audio + frames, text only, a sarcastic one) → keep serving until Ctrl-C, or
shut down with --exit.
"""
from __future__ import annotations

import base64
import json
import shutil
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pyarrow.parquet as pq

from mmei.pipelines.sources.synthetic import write_corpus
from mmei.platform.config import load_config


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


def as_request(row: dict[str, Any], user_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": user_id, "k": 3, "text": row.get("text")}
    if row.get("audio"):
        body["audio"] = base64.b64encode(row["audio"]).decode()
    if row.get("frames"):
        body["frames"] = [base64.b64encode(frame).decode() for frame in row["frames"]]
    return body


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
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
                   port: int = 8000, exit_after: bool = False) -> int:
    from mmei.cluster.ray_session import ray_session
    from mmei.pipelines.evaluate import full_evaluation
    from mmei.pipelines.prepare import check_inputs, run_preparation
    from mmei.pipelines.report import write_eval_report
    from mmei.pipelines.train import run_training
    from mmei.serving.config import load_serve_config
    from mmei.serving.launch import start, stop

    config = load_config(config_name, [f"corpus.samples={samples}", *(overrides or [])])
    workdir.mkdir(parents=True, exist_ok=True)
    corpus, features, run = workdir / "corpus", workdir / "features", workdir / "train"
    for stale in (features, run):
        if stale.exists():
            shutil.rmtree(stale)  # the quickstart's own outputs: always a fresh run
    started = time.perf_counter()
    print(f"mmei quickstart: config {config.name!r}, outputs in {workdir}")

    with stage("1/6 SYNTHETIC corpus"):
        if sorted(corpus.glob("synthetic-part-*.parquet")):
            print(f"   reusing the corpus in {corpus}")
        else:
            summary = write_corpus(corpus, config.corpus, config.labels, config.features, progress=lambda _: None)
            print(f"   {summary['rows']} SYNTHETIC samples, splits {summary['splits']}, scenarios {summary['scenario']}")

    with ray_session():  # worker logs on: the training workers print one line per epoch
        with stage("2/6 prepare with Ray Data"):
            manifest = run_preparation(check_inputs(corpus, features), features, config, echo=lambda m: print("   " + m))
        with stage(f"3/6 train MMEI: Ray Train + DeepSpeed ZeRO-{config.train.zero_stage}, "
                   f"{config.train.num_workers} CPU workers"):
            trained = run_training(config, features, run, echo=lambda m: print("   " + m))
        with stage("4/6 evaluate on the test split"):
            result = full_evaluation(trained.bundle, features, "test")
            report = write_eval_report(result, workdir / "report")
            m = result["metrics"]
            print(f"   macro-F1 emotion {m['emotion_macro_f1']:.3f}, sentiment {m['sentiment_macro_f1']:.3f}, "
                  f"intent {m['intent_macro_f1']:.3f}; quarantined rows: {manifest['rows_quarantined']}")
            print(f"   report: {report}")

        with stage(f"5/6 deploy the Serve graph on 127.0.0.1:{port}"):
            serving = load_serve_config(None, [f"bundle={trained.bundle}", f"port={port}",
                                               f"store_url=sqlite:///{workdir.resolve() / 'serve.db'}"])
            url = start(serving)
            print(f"   {url} (OpenAPI docs at {url}/docs); store {serving.store_url}; "
                  f"catalog {serving.catalog_path.name} (SYNTHETIC)")
        try:
            with stage("6/6 recommend over HTTP"):
                for number, (title, row) in enumerate(pick_examples(corpus)):
                    show(title, row, post(f"{url}/v1/recommend", as_request(row, f"quickstart-user-{number}")))
            print(f"\nquickstart done in {time.perf_counter() - started:.0f}s. Outputs: {workdir}")
            if trained.wandb_offline_dir:
                print(f"W&B offline run: {trained.wandb_offline_dir} (wandb sync it to upload)")
            print(f"\nTry it:\n  curl -s {url}/v1/recommend -H 'content-type: application/json' "
                  f"-d '{{\"user_id\": \"me\", \"text\": \"I feel low, show me something uplifting\", \"k\": 3}}'")
            if not exit_after:
                print("Serving until Ctrl-C.", flush=True)
                while True:
                    time.sleep(3600)
        except KeyboardInterrupt:
            print("\nstopping the Serve graph")
        finally:
            stop()
    return 0
