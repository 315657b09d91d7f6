"""`mmei bench audio` and `mmei bench visual`: the platform's own path on REAL voices
and faces, against a classical baseline on the same rows.

- **audio**: RAVDESS speech (Livingstone & Russo 2018; CC BY-NC-SA 4.0), imported with
  `--format ravdess` (speaker-independent: actors 01-18 train, 19-20 val, 21-24 test),
  trained with the `audio` preset; baseline MFCC statistics → logistic regression.
- **visual**: FER2013 faces (Goodfellow et al. 2013), imported with `--format fer2013`
  (its own train and test; 10% of train as val), trained with the `visual` preset;
  baseline HOG → logistic regression.

The path is the user's: import, `run_preparation` and `run_training` as the CLI runs
them, over several seeds. Nothing here downloads: `--input` is a copy the user has
(the full sets: `make bench-audio RAVDESS=DIR`; the tests use ../shared/data's subsets).
The last line is the test macro-F1 of each, with a paired bootstrap 95% interval of
the difference over test rows (MMEI averaged over its seeds).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from mmei.cluster.bench_seeds import bench_line, compare_with_baseline, train_seeds
from mmei.cluster.ray_session import ray_session
from mmei.pipelines.media_baseline import media_logistic_regression
from mmei.pipelines.prepare import check_inputs, run_preparation
from mmei.pipelines.sources.importers import import_dataset
from mmei.platform.config import MODALITIES, load_config

HEAD = "emotion"
SETS = {
    "audio": {"format": "ravdess", "preset": "audio", "name": "RAVDESS speech",
              "get": "RAVDESS's Audio_Speech_Actors_01-24.zip from Zenodo record 1188976 (unzipped: Actor_NN/*.wav)"},
    "visual": {"format": "fer2013", "preset": "visual", "name": "FER2013 faces",
               "get": "FER2013 as train/<class>/ and test/<class>/ image folders, or the original fer2013.csv"},
}


def run_bench(modality: str, source: Path, output: Path, epochs: int | None = None, seeds: int = 2,
              overrides: list[str] | None = None) -> dict:
    spec = SETS[modality]
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist; get {spec['get']}")
    if output.exists() and any(output.iterdir()):
        raise FileExistsError(f"{output} is not empty; choose a new --output")
    if seeds < 1:
        raise ValueError("--seeds must be >= 1")
    started = time.perf_counter()
    say = lambda message: print(f"bench {modality}: {message}", flush=True)  # noqa: E731
    report = import_dataset(spec["format"], source, output / "shards")
    rejected = sum(report["files_rejected"].values())
    reasons = f" {report['files_rejected']}" if rejected else ""
    say(f"REAL data: {spec['name']} from {source}: {report['files_in']} files in = {report['rows']} samples + "
        f"{rejected} rejected{reasons}; splits {report['splits']} ({report['split_from']})")
    common = [*report["prepare_overrides"], *([f"train.epochs={epochs}"] if epochs else []), *(overrides or [])]
    config = load_config(spec["preset"], common)
    with ray_session(quiet=True):
        manifest = run_preparation(check_inputs(output / "shards", output / "features"), output / "features", config,
                                   echo=lambda _: None)
        say(f"prepared {manifest['rows_in']} rows in → {manifest['rows_out']} out + {manifest['rows_quarantined']} "
            f"quarantined{' ' + str(manifest['reasons']) if manifest['reasons'] else ''} in {manifest['elapsed_s']:.0f}s")
        trained = train_seeds(spec["preset"], common, output / "features", output, seeds, HEAD, say)
    baseline = media_logistic_regression(output / "features", HEAD, modality)
    say(f"baseline {baseline['feature']} + logistic regression: C={baseline['C']} (val macro-F1 "
        f"{baseline['val_macro_f1']:.4f})")
    stats = compare_with_baseline(trained, baseline)
    fusion = dict(zip(MODALITIES, trained["fusion_weights"].astype(float).round(3).tolist()))
    say("test macro-F1 per seed: " + ", ".join(f"{run['test_macro_f1']:.4f}" for run in trained["runs"]) +
        f"; accuracy {stats['accuracy']:.4f} (baseline {stats['baseline_accuracy']:.4f}); mean fusion weights {fusion}")
    training_s = sum(run["seconds"] for run in trained["runs"])
    result = {"corpus": spec["name"], "source": str(source), "preset": spec["preset"], "import": report,
              "prepare": {key: manifest[key] for key in ("rows_in", "rows_out", "rows_quarantined", "reasons")},
              "epochs": config.train.epochs, "runs": trained["runs"], "training_s": training_s,
              "baseline_C": baseline["C"], "fusion_weights": fusion, **stats,
              "seconds": round(time.perf_counter() - started)}
    (output / f"bench_{modality}.json").write_text(json.dumps(result, indent=2, default=str))
    say(f"test rows {stats['rows']}, {seeds} seeds, training {training_s}s of {result['seconds']}s in all; "
        f"details in {output / f'bench_{modality}.json'}")
    print(bench_line(modality, stats), flush=True)
    return result
