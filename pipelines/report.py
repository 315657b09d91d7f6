"""`mmei eval` outputs: metrics.json (the numbers), report.md (the same numbers, read
from that dict, 4 decimals) and PNG plots beside it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mmei.platform.config import MODALITIES  # noqa: E402
from mmei.platform.labels import HEADS  # noqa: E402

METRICS = ("accuracy", "macro_f1", "weighted_f1", "cross_entropy")


def fmt(value: float) -> str:
    return f"{value:.4f}"


def plot_confusion(matrix: list[list[int]], names: list[str], title: str, path: Path) -> None:
    figure, axis = plt.subplots(figsize=(1 + 0.6 * len(names), 1 + 0.5 * len(names)))
    axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(names)), names, rotation=45, ha="right")
    axis.set_yticks(range(len(names)), names)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            axis.text(j, i, str(value), ha="center", va="center", fontsize=8)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def plot_learning_curves(history: list[dict[str, float]], path: Path) -> None:
    epochs = [h["epoch"] + 1 for h in history]
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train loss")
    left.plot(epochs, [h["val_loss"] for h in history], marker="o", label="val loss")
    left.set_xlabel("epoch")
    left.legend()
    right.plot(epochs, [h["val_macro_f1_mean"] for h in history], marker="o", color="green")
    right.set_xlabel("epoch")
    right.set_ylabel("val macro-F1 (mean of heads)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def plot_fusion(fusion: dict[str, Any], path: Path) -> None:
    groups = {"all": fusion["overall"], **fusion["per_emotion"]}
    figure, axis = plt.subplots(figsize=(1.5 + 0.8 * len(groups), 3.5))
    bottom = [0.0] * len(groups)
    for modality in MODALITIES:
        values = [g[modality] for g in groups.values()]
        axis.bar(list(groups), values, bottom=bottom, label=modality)
        bottom = [b + v for b, v in zip(bottom, values)]
    axis.set_ylabel("mean fusion weight")
    axis.legend()
    plt.setp(axis.get_xticklabels(), rotation=30, ha="right")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def plot_ablation(ablation: dict[str, dict[str, float]], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(8, 3.5))
    axis.bar(list(ablation), [v["macro_f1_mean"] for v in ablation.values()], color="slateblue")
    axis.set_ylabel("macro-F1 (mean of heads)")
    plt.setp(axis.get_xticklabels(), rotation=30, ha="right")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def plot_robustness(robustness: dict[str, list[dict[str, float]]], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for name, points in robustness.items():
        axis.plot([p["level"] for p in points], [p["macro_f1_mean"] for p in points], marker="o", label=name)
    axis.set_xlabel("level (noise sigma / share of tokens dropped)")
    axis.set_ylabel("macro-F1 (mean of heads)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def write_eval_report(result: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    synthetic = " on SYNTHETIC data" if result["synthetic"] else ""
    lines = [f"# Evaluation: {result['model_type']}{synthetic}", "", *eval_sections(result, out)]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path


def mmsa_section(mmsa: dict[str, Any]) -> list[str]:
    """MMSA's own metrics on the sentiment score, with what each one means."""
    lines = ["## Sentiment score: MMSA's metrics", "",
             f"On the {mmsa['n']} rows with a true score, computed as thuiar/MMSA does, so they compare with "
             "published CMU-MOSI / CMU-MOSEI results.", "", "| metric | value | definition |", "|---|---|---|"]
    lines += [f"| {name} | {fmt(mmsa[name])} | {text} |" for name, text in mmsa["definitions"].items()]
    return lines + [""]


def eval_sections(result: dict[str, Any], out: Path) -> list[str]:
    """The evaluation's Markdown sections, with their PNGs and metrics.json written to `out`."""
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    metrics = result["metrics"]
    lines = [f"Bundle `{result['bundle']}`, split `{result['split']}` of `{result['data']}` ({result['rows']} rows).", "",
             "## Metrics per head", "", "| head | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for head in HEADS:
        if f"{head}_accuracy" in metrics:
            lines.append(f"| {head} | " + " | ".join(fmt(metrics[f"{head}_{m}"]) for m in METRICS) + " |")
    lines += ["", f"Joint loss (sum of the heads' cross-entropies): {fmt(metrics['loss'])}; "
              f"mean macro-F1: {fmt(metrics['macro_f1_mean'])}.", ""]
    if result.get("mmsa"):
        lines += mmsa_section(result["mmsa"])
    lines += ["## Confusion matrices", ""]
    for head in HEADS:
        plot_confusion(result["confusion"][head], result["labels"][head], head, out / f"confusion_{head}.png")
        lines.append(f"![{head}](confusion_{head}.png)")
    if result["history"]:
        plot_learning_curves(result["history"], out / "learning_curves.png")
        lines += ["", "## Learning curves", "", "![learning curves](learning_curves.png)"]
    plot_fusion(result["fusion_weights"], out / "fusion_weights.png")
    overall = result["fusion_weights"]["overall"]
    lines += ["", "## Fusion weights", "", "Mean weight per modality: " +
              ", ".join(f"{m} {fmt(w)}" for m, w in overall.items()) + ".", "", "![fusion](fusion_weights.png)"]
    plot_ablation(result["ablation"], out / "ablation.png")
    lines += ["", "## Modality ablation (dropped at test time)", "", "| condition | macro-F1 mean | loss |", "|---|---|---|"]
    lines += [f"| {name} | {fmt(v['macro_f1_mean'])} | {fmt(v['loss'])} |" for name, v in result["ablation"].items()]
    lines += ["", "![ablation](ablation.png)"]
    plot_robustness(result["robustness"], out / "robustness.png")
    lines += ["", "## Robustness", "", "| perturbation | level | macro-F1 mean | loss |", "|---|---|---|---|"]
    for name, points in result["robustness"].items():
        lines += [f"| {name} | {p['level']} | {fmt(p['macro_f1_mean'])} | {fmt(p['loss'])} |" for p in points]
    lines += ["", "![robustness](robustness.png)", ""]
    return lines
