"""`mmei eval --compare`: MMEI against every baseline, same budget, several seeds.

Same budget means: the same prepared data, the same training config (epochs, batch
size, steps, optimiser, schedule), and trainable parameter counts within ±10% of
MMEI's (checked before any training; each baseline has a width knob to get there).
Each (model, seed) trains through `mmei train`'s own path and is evaluated on the test
split; the table gives mean ± std over seeds.
The verdict line states MMEI's macro-F1 difference and cross-entropy ratio against
the best baseline, whichever way they come out, with paired statistics: every model
and seed predicts the same test rows, so each baseline's difference from MMEI gets a
bootstrap interval over rows and seeds, a paired t-test across seeds and the smallest
difference this budget could detect (`platform.paired_stats.seed_paired_comparison`).
An interval that holds zero is reported as "not resolved at this budget".
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mmei.pipelines.compare_budget import check_tuned, parameter_counts, with_model
from mmei.pipelines.evaluate import mean_std, predict_split
from mmei.pipelines.train import TrainResult, run_training
from mmei.platform.bundle import load_bundle
from mmei.platform.config import Config, config_from_dict
from mmei.platform.console import ProgressLine
from mmei.platform.metrics import joint_metrics
from mmei.platform.errors import UserInputError
from mmei.platform.models.build import MODEL_TYPES
from mmei.platform.paired_stats import seed_paired_comparison

COLUMNS = ("macro_f1_mean", "emotion_macro_f1", "sentiment_macro_f1", "intent_macro_f1", "loss")

class SplitPredictions:
    """Every (model, seed)'s predicted class per head on the test rows, in one row order
    (sorted sample ids), with the labels: what the paired statistics compare."""

    def __init__(self) -> None:
        self.ids: list[str] | None = None
        self.labels: dict[str, np.ndarray] = {}
        self.classes: dict[str, int] = {}
        self.predictions: dict[str, list[dict[str, np.ndarray]]] = {}

    def add(self, kind: str, ids: list[str], outputs) -> None:
        order = np.argsort(ids, kind="stable")
        ids = [ids[i] for i in order]
        if self.ids is None:
            self.ids = ids
            self.labels = {head: labels[order] for head, labels in outputs.labels.items()}
            self.classes = {head: p.shape[1] for head, p in outputs.probabilities.items()}
        elif ids != self.ids:
            raise RuntimeError(f"{kind} was evaluated on other test rows than the first model")
        self.predictions.setdefault(kind, []).append(
            {head: p[order].argmax(axis=1) for head, p in outputs.probabilities.items()})

    def stacked(self, kind: str) -> dict[str, np.ndarray]:
        """head → (seeds, rows)."""
        return {head: np.stack([seed[head] for seed in self.predictions[kind]]) for head in self.classes}


def verdict(summary: dict[str, dict[str, tuple[float, float]]], test: SplitPredictions | None = None) -> dict[str, Any]:
    """The headline against the best baseline, and under `baselines` the paired
    statistics of MMEI against each baseline."""
    baselines = {k: v for k, v in summary.items() if k != "mmei"}
    if "mmei" not in summary or not baselines:
        return {}
    best = max(baselines, key=lambda k: baselines[k]["macro_f1_mean"][0])
    mmei_f1, base_f1 = summary["mmei"]["macro_f1_mean"][0], baselines[best]["macro_f1_mean"][0]
    mmei_ce, base_ce = summary["mmei"]["loss"][0], baselines[best]["loss"][0]
    result = {"best_baseline": best, "macro_f1_difference": mmei_f1 - base_f1,
              "macro_f1_relative_percent": 100 * (mmei_f1 - base_f1) / base_f1 if base_f1 else None,
              "cross_entropy_ratio": mmei_ce / base_ce if base_ce else None}
    if test is not None:
        result["baselines"] = {kind: seed_paired_comparison(test.labels, test.stacked("mmei"), test.stacked(kind),
                                                            test.classes) for kind in baselines}
    return result


def run_compare(config: Config, data_dir: Path, output: Path, seeds: int, kinds: list[str] | None = None,
                tuned: Path | None = None, echo: Callable[[str], None] = print,
                reuse: dict[tuple[str, int], TrainResult] | None = None, show_progress: bool = False,
                indent: str = "", parallel_runs: int = 1) -> dict[str, Any]:
    """`reuse` maps (model, seed) to a run already trained with exactly that config (the
    quickstart's MMEI): it is evaluated, not trained again. Any other config is refused.
    `show_progress` draws a runs-done line with an ETA; each finished run is one line.

    `parallel_runs` trains that many runs at once on the cluster (each its own Ray Train
    worker group); results are read in the same (seed, model) order either way, and each
    run is seeded by its own config, so the numbers do not depend on it."""
    kinds = kinds or list(MODEL_TYPES)
    if parallel_runs < 1:
        raise UserInputError(f"--parallel-runs must be at least 1, got {parallel_runs}")
    if tuned:
        check_tuned(tuned, kinds)
        echo(f"tuned configs: every model's sweep best from {tuned}, same sweep budget")
    counts = parameter_counts(config, kinds, tuned)
    echo(f"comparing {', '.join(kinds)} over {seeds} seeds; trainable parameters: "
         + ", ".join(f"{k} {v['trainable']:,}" for k, v in counts.items()))
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    test = SplitPredictions()
    bar = ProgressLine("compare: runs", seeds * len(kinds), indent=indent) if show_progress else None
    say = bar.message if bar else echo
    planned = [(kind, seed) for seed in range(seeds) for kind in kinds]
    reuse = reuse or {}
    for kind, seed in planned:
        result = reuse.get((kind, seed))
        if result is not None and config_from_dict(json.loads((Path(result.bundle) / "bundle.json").read_text())[
                "config"]) != with_model(config, kind, seed, tuned):
            raise UserInputError(f"the run given for {kind} seed {seed} was trained with another config: not the same budget")
    pool = ThreadPoolExecutor(max_workers=parallel_runs)
    try:
        futures = {(kind, seed): pool.submit(run_training, with_model(config, kind, seed, tuned), data_dir,
                                             output / "runs" / f"{kind}-seed{seed}", echo=lambda _: None)
                   for kind, seed in planned if (kind, seed) not in reuse}
        for kind, seed in planned:
            result = reuse.get((kind, seed)) or futures[(kind, seed)].result()
            ids, outputs = predict_split(load_bundle(result.bundle).model, data_dir, "test")
            test.add(kind, ids, outputs)
            metrics = joint_metrics(outputs.probabilities, outputs.labels)
            runs[kind].append(metrics)
            say(f"  {kind} seed {seed}: test macro-F1 mean {metrics['macro_f1_mean']:.4f}, loss "
                f"{metrics['loss']:.4f} ({result.seconds:.0f}s{', trained above' if (kind, seed) in reuse else ''})")
            if bar:
                bar.update(sum(len(r) for r in runs.values()), f"{kind} seed {seed} done")
    finally:  # a failed run stops the runs not yet started
        pool.shutdown(wait=True, cancel_futures=True)
    if bar:
        bar.close()
    summary = {kind: {c: mean_std([m[c] for m in runs[kind]]) for c in COLUMNS} for kind in kinds}
    result = {"seeds": seeds, "parameters": counts, "budget": config.to_dict()["train"], "runs": runs,
              "summary": summary, "verdict": verdict(summary, test)}
    output.mkdir(parents=True, exist_ok=True)
    (output / "compare.json").write_text(json.dumps(result, indent=2))
    (output / "compare.md").write_text(compare_markdown(result))
    echo(verdict_line(result))
    return result


def verdict_line(result: dict[str, Any]) -> str:
    v = result["verdict"]
    if not v:
        return "no verdict: compare needs mmei and at least one baseline"
    line = (f"MMEI vs best baseline ({v['best_baseline']}), {result['seeds']} seeds: macro-F1 difference "
            f"{v['macro_f1_difference']:+.4f} ({v['macro_f1_relative_percent']:+.1f}%), cross-entropy ratio "
            f"{v['cross_entropy_ratio']:.3f} (the paper claims +4.3% F1 and 0.877)")
    paired = v.get("baselines", {}).get(v["best_baseline"])
    if paired:
        low, high = paired["paired_difference_ci"]
        line += (f"; paired over {paired['seeds']} seeds x {paired['rows']} test rows: 95% CI [{low:+.4f}, {high:+.4f}], "
                 f"{p_value_text(paired)}, smallest detectable difference {paired['min_detectable_difference']:.4f}: "
                 f"{resolution(paired)}")
    return line


def p_value_text(paired: dict[str, Any]) -> str:
    p = paired["paired_p_value"]
    return "no test across 1 seed" if p is None else f"paired t-test across seeds p={p:.3g}"


def resolution(paired: dict[str, Any]) -> str:
    low, high = paired["paired_difference_ci"]
    if low > 0:
        return "MMEI better"
    if high < 0:
        return "the baseline better"
    return "not resolved at this budget"


def compare_markdown(result: dict[str, Any]) -> str:
    return "\n".join([f"# MMEI vs baselines: {result['seeds']} seeds, same budget", "", *compare_sections(result)])


def compare_sections(result: dict[str, Any]) -> list[str]:
    """The budget line, the mean ± std table and the verdict, as Markdown lines."""
    lines = [f"Budget: {result['budget']['epochs']} epochs, batch {result['budget']['batch_size']} per worker × "
             f"{result['budget']['num_workers']} workers, lr {result['budget']['lr']} (pretrained encoders "
             f"{result['budget']['encoder_lr']}), warmup {result['budget']['warmup_ratio']:.0%} of steps, bundle from "
             f"the {result['budget']['select']} val epoch.", "",
             "| model | trainable / total parameters | " + " | ".join(COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 2) + "|"]
    for kind, columns in result["summary"].items():
        cells = [f"{mean:.4f} ± {std:.4f}" for mean, std in columns.values()]
        count = result["parameters"][kind]
        lines.append(f"| {kind} | {count['trainable']:,} / {count['total']:,} | " + " | ".join(cells) + " |")
    paired = result["verdict"].get("baselines", {})
    if paired:
        lines += ["", "Paired, MMEI minus each baseline in macro_f1_mean: every model and seed predicts the same test "
                      "rows; the interval is a bootstrap over rows and seeds.", "",
                  "| baseline | difference | 95% CI | paired t-test (seeds) | smallest detectable | verdict |",
                  "|---|---|---|---|---|---|"]
        for kind, stats in paired.items():
            low, high = stats["paired_difference_ci"]
            p = stats["paired_p_value"]
            lines.append(f"| {kind} | {stats['paired_difference']:+.4f} | [{low:+.4f}, {high:+.4f}] | "
                         f"{'n/a (1 seed)' if p is None else f'p={p:.3g}'} | {stats['min_detectable_difference']:.4f} | "
                         f"{resolution(stats)} |")
    lines += ["", verdict_line(result), ""]
    return lines
