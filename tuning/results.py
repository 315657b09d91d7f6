"""What a sweep leaves behind: results table, objective plot, best config and bundle."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any, Callable

import matplotlib
import yaml
from ray.train import Checkpoint
from ray.tune.integration.ray_train import CHECKPOINT_PATH_KEY

from mmei.pipelines.export import bundle_from_checkpoint
from mmei.platform.config import config_from_dict

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def trial_rows(results, meta: dict[str, Any], output: Path) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        metrics = result.metrics or {}
        trial_id = metrics.get("trial_id") or Path(result.path).name
        epochs = int(metrics.get("epoch", -1)) + 1
        if result.error:
            status = "error"
        elif epochs >= meta["epochs"]:
            status = "completed"
        elif epochs <= 0 or meta.get("scheduler") == "none":
            status = "unfinished"  # interrupted: no scheduler stops a trial early
        else:
            status = f"stopped early (ASHA) after {epochs} epoch(s)"
        rows.append({"trial_id": trial_id, **{k: result.config["hp"][k] for k in meta["space"]},
                     "objective": metrics.get(meta["metric"]), "epochs": epochs, "status": status,
                     "checkpoint": metrics.get(CHECKPOINT_PATH_KEY)})
    return sorted(rows, key=lambda r: (r["objective"] is None, -(r["objective"] or 0.0)))


def unfinished_trials(rows: list[dict[str, Any]], meta: dict[str, Any]) -> int:
    """Trials an interruption left unfinished: never created, never reported, or (with
    no scheduler to stop them) short of the last epoch. Tune's ResultGrid does not say
    whether its run was interrupted, and it counts a trial stopped by Ctrl-C as
    terminated. Under ASHA, a trial interrupted after its first report reads as stopped
    early; `--resume` still finishes it."""
    return max(0, meta["samples"] - len(rows)) + sum(r["status"] == "unfinished" for r in rows)


def plot_objective(rows: list[dict[str, Any]], keys: list[str], path: Path) -> None:
    figure, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys), 2.8), squeeze=False)
    for axis, key in zip(axes[0], keys):
        points = [(r[key], r["objective"]) for r in rows if r["objective"] is not None]
        if points and all(isinstance(x, str) for x, _ in points):
            labels = sorted({x for x, _ in points})
            axis.scatter([labels.index(x) for x, _ in points], [y for _, y in points])
            axis.set_xticks(range(len(labels)), labels, rotation=30)
        else:
            axis.scatter([x for x, _ in points], [y for _, y in points])
        axis.set_title(key, fontsize=8)
    axes[0][0].set_ylabel("objective")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def write_results(results, output: Path, echo: Callable[[str], None]) -> dict[str, Any]:
    meta = json.loads((output / "sweep_meta.json").read_text())
    rows = trial_rows(results, meta, output)
    columns = ["trial_id", *meta["space"], "objective", "epochs", "status"]
    with (output / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = [f"# Sweep results: objective {meta['metric']} (higher is better)", "",
             "| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c])
                                       for c in columns) + " |")
    (output / "results.md").write_text("\n".join(lines) + "\n")
    plot_objective(rows, list(meta["space"]), output / "objective.png")
    unfinished = unfinished_trials(rows, meta)
    if unfinished:  # Ctrl-C: Tune saved its state and returned early
        echo(f"sweep interrupted: {unfinished} of {meta['samples']} trials unfinished (results so far in "
             f"{output / 'results.md'}); resume with: mmei tune --output {output} --resume")
        raise KeyboardInterrupt
    completed = [r for r in rows if r["status"] == "completed"]
    if not completed:
        raise RuntimeError(f"no trial of {output} ran to the end; see results.md")
    best = completed[0]
    destination = output / "best"
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir()
    config_file = output / "trials" / best["trial_id"] / "config.yaml"
    shutil.copy2(config_file, destination / "config.yaml")
    config = config_from_dict(yaml.safe_load(config_file.read_text()))
    if not best["checkpoint"]:
        raise RuntimeError(f"best trial {best['trial_id']} reported no checkpoint; see {output / 'trials'}")
    with Checkpoint(best["checkpoint"]).as_directory() as folder:  # local path or cloud URI
        bundle_from_checkpoint(Path(folder), config, destination / "bundle",
                               extra={"trained": True, "sweep": str(output), "trial": best["trial_id"],
                                      "objective": {meta["metric"]: best["objective"]}})
    echo(f"sweep done: {len(rows)} trials ({len(completed)} completed); best {best['trial_id']} "
         f"{meta['metric']}={best['objective']:.4f}; results {output / 'results.md'}; best bundle {destination / 'bundle'}")
    return {"rows": rows, "best": best, "metric": meta["metric"]}
