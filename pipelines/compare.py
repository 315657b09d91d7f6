"""`mmei eval --compare`: MMEI against every baseline, same budget, several seeds.

Same budget means: the same prepared data, the same training config (epochs, batch
size, steps, optimiser, schedule), and parameter counts within ±10% of MMEI's
(checked before any training). Each (model, seed) trains through `mmei train`'s own
path and is evaluated on the test split; the table gives mean ± std over seeds.
The verdict line states MMEI's macro-F1 difference and cross-entropy ratio against
the best baseline, whichever way they come out.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import yaml

from mmei.pipelines.evaluate import evaluate_model, mean_std
from mmei.pipelines.train import TrainResult, run_training
from mmei.platform.bundle import load_bundle
from mmei.platform.config import Config, config_from_dict
from mmei.platform.console import ProgressLine
from mmei.platform.models.build import MODEL_TYPES, build_model
from mmei.platform.errors import UserInputError

COLUMNS = ("macro_f1_mean", "emotion_macro_f1", "sentiment_macro_f1", "intent_macro_f1", "loss")
PARAM_TOLERANCE = 0.10


def with_model(config: Config, kind: str, seed: int, tuned: Path | None = None) -> Config:
    """The config `kind` trains with: its sweep's best (`tuned/<kind>/best/config.yaml`,
    from `mmei tune --model <kind> --output tuned/<kind>`) when there is one."""
    best = tuned / kind / "best" / "config.yaml" if tuned else None
    data = yaml.safe_load(best.read_text()) if best and best.is_file() else config.to_dict()
    data["model"]["type"] = kind
    data["train"]["seed"] = seed
    return config_from_dict(data)


def parameter_counts(config: Config, kinds: list[str], tuned: Path | None = None) -> dict[str, int]:
    counts = {kind: sum(p.numel() for p in build_model(with_model(config, kind, 0, tuned), pretrained=False).parameters())
              for kind in kinds}
    reference = counts.get("mmei", max(counts.values()))
    for kind, count in counts.items():
        if abs(count - reference) > PARAM_TOLERANCE * reference:
            raise UserInputError(f"{kind} has {count:,} parameters, more than 10% from mmei's {reference:,}: "
                             "not the same budget; adjust model.hidden_size")
    return counts


def verdict(summary: dict[str, dict[str, tuple[float, float]]]) -> dict[str, Any]:
    baselines = {k: v for k, v in summary.items() if k != "mmei"}
    if "mmei" not in summary or not baselines:
        return {}
    best = max(baselines, key=lambda k: baselines[k]["macro_f1_mean"][0])
    mmei_f1, base_f1 = summary["mmei"]["macro_f1_mean"][0], baselines[best]["macro_f1_mean"][0]
    mmei_ce, base_ce = summary["mmei"]["loss"][0], baselines[best]["loss"][0]
    return {"best_baseline": best, "macro_f1_difference": mmei_f1 - base_f1,
            "macro_f1_relative_percent": 100 * (mmei_f1 - base_f1) / base_f1 if base_f1 else None,
            "cross_entropy_ratio": mmei_ce / base_ce if base_ce else None}


def run_compare(config: Config, data_dir: Path, output: Path, seeds: int, kinds: list[str] | None = None,
                tuned: Path | None = None, echo: Callable[[str], None] = print,
                reuse: dict[tuple[str, int], TrainResult] | None = None, show_progress: bool = False,
                indent: str = "") -> dict[str, Any]:
    """`reuse` maps (model, seed) to a run already trained with exactly that config (the
    quickstart's MMEI): it is evaluated, not trained again. Any other config is refused.
    `show_progress` draws a runs-done line with an ETA; each finished run is one line."""
    kinds = kinds or list(MODEL_TYPES)
    counts = parameter_counts(config, kinds, tuned)
    if tuned:
        echo("tuned configs: " + ", ".join(f"{k} {'yes' if (tuned / k / 'best' / 'config.yaml').is_file() else 'no'}"
                                           for k in kinds))
    echo(f"comparing {', '.join(kinds)} over {seeds} seeds; parameters: "
         + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    bar = ProgressLine("compare: runs", seeds * len(kinds), indent=indent) if show_progress else None
    say = bar.message if bar else echo
    for seed in range(seeds):
        for kind in kinds:
            run_dir = output / "runs" / f"{kind}-seed{seed}"
            run_config = with_model(config, kind, seed, tuned)
            result = (reuse or {}).get((kind, seed))
            if result is not None and config_from_dict(
                    json.loads((Path(result.bundle) / "bundle.json").read_text())["config"]) != run_config:
                raise UserInputError(f"the run given for {kind} seed {seed} was trained with another config: not the same budget")
            if result is None:
                result = run_training(run_config, data_dir, run_dir, echo=lambda _: None)
            metrics, _ = evaluate_model(load_bundle(result.bundle).model, data_dir, "test")
            runs[kind].append(metrics)
            say(f"  {kind} seed {seed}: test macro-F1 mean {metrics['macro_f1_mean']:.4f}, loss "
                f"{metrics['loss']:.4f} ({result.seconds:.0f}s{', trained above' if (kind, seed) in (reuse or {}) else ''})")
            if bar:
                bar.update(sum(len(r) for r in runs.values()), f"{kind} seed {seed} done")
    if bar:
        bar.close()
    summary = {kind: {c: mean_std([m[c] for m in runs[kind]]) for c in COLUMNS} for kind in kinds}
    result = {"seeds": seeds, "parameters": counts, "budget": config.to_dict()["train"], "runs": runs,
              "summary": summary, "verdict": verdict(summary)}
    output.mkdir(parents=True, exist_ok=True)
    (output / "compare.json").write_text(json.dumps(result, indent=2))
    (output / "compare.md").write_text(compare_markdown(result))
    echo(verdict_line(result))
    return result


def verdict_line(result: dict[str, Any]) -> str:
    v = result["verdict"]
    if not v:
        return "no verdict: compare needs mmei and at least one baseline"
    return (f"MMEI vs best baseline ({v['best_baseline']}), {result['seeds']} seeds: macro-F1 difference "
            f"{v['macro_f1_difference']:+.4f} ({v['macro_f1_relative_percent']:+.1f}%), cross-entropy ratio "
            f"{v['cross_entropy_ratio']:.3f} (the paper claims +4.3% F1 and 0.877)")


def compare_markdown(result: dict[str, Any]) -> str:
    return "\n".join([f"# MMEI vs baselines: {result['seeds']} seeds, same budget", "", *compare_sections(result)])


def compare_sections(result: dict[str, Any]) -> list[str]:
    """The budget line, the mean ± std table and the verdict, as Markdown lines."""
    lines = [f"Budget: {result['budget']['epochs']} epochs, batch {result['budget']['batch_size']} per worker × "
             f"{result['budget']['num_workers']} workers, lr {result['budget']['lr']} (pretrained encoders "
             f"{result['budget']['encoder_lr']}), warmup {result['budget']['warmup_ratio']:.0%} of steps, bundle from "
             f"the {result['budget']['select']} val epoch.", "",
             "| model | parameters | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for kind, columns in result["summary"].items():
        cells = [f"{mean:.4f} ± {std:.4f}" for mean, std in columns.values()]
        lines.append(f"| {kind} | {result['parameters'][kind]:,} | " + " | ".join(cells) + " |")
    lines += ["", verdict_line(result), ""]
    return lines
