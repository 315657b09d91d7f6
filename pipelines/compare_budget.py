"""The same budget for every model `mmei eval --compare` trains.

- Trainable parameters within ±10% of MMEI's (`parameter_counts`), checked before any
  training; each baseline has a width knob to get there (`model.mult_hidden_size`,
  `model.baseline_widths`), which `with_model` applies, and text_only a depth knob
  (`model.text_only_layers`) for presets whose other modalities outweigh any width.
- With `--tuned`, every model's sweep ran with the same budget (`check_tuned`).
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from mmei.platform.config import Config, config_from_dict
from mmei.platform.errors import UserInputError
from mmei.platform.models.build import build_model

PARAM_TOLERANCE = 0.10
SWEEP_BUDGET = ("samples", "epochs", "search", "scheduler", "space")


def check_tuned(tuned: Path, kinds: list[str]) -> None:
    """`--tuned` is all or none: every model has a finished sweep, and the sweeps had the
    same budget (trials, epochs, search, scheduler, space), or nothing is trained."""
    missing = [kind for kind in kinds if not (tuned / kind / "best" / "config.yaml").is_file()
               or not (tuned / kind / "sweep_meta.json").is_file()]
    if missing:
        raise UserInputError(f"--tuned {tuned}: no finished sweep for {', '.join(missing)} (expected "
                             f"{tuned}/<model>/best/config.yaml from `mmei tune --model <model> --output "
                             f"{tuned}/<model>`); tune every compared model, or compare without --tuned")
    budgets = {kind: json.loads((tuned / kind / "sweep_meta.json").read_text()) for kind in kinds}
    reference = kinds[0]
    differences = [f"{key}: {reference} {budgets[reference].get(key)!r}, {kind} {budgets[kind].get(key)!r}"
                   for kind in kinds[1:] for key in SWEEP_BUDGET if budgets[kind].get(key) != budgets[reference].get(key)]
    if differences:
        raise UserInputError(f"--tuned {tuned}: the sweeps had different budgets ({'; '.join(differences)}); "
                             "tune every model with the same --trials, epochs, --search, --scheduler and --space")


def with_model(config: Config, kind: str, seed: int, tuned: Path | None = None) -> Config:
    """The config `kind` trains with: its sweep's best (`tuned/<kind>/best/config.yaml`,
    from `mmei tune --model <kind> --output tuned/<kind>`) with --tuned (`check_tuned`
    has made sure there is one)."""
    data = yaml.safe_load((tuned / kind / "best" / "config.yaml").read_text()) if tuned else config.to_dict()
    if not tuned and kind in config.model.baseline_widths:  # a tuned config keeps the width its sweep chose
        data["model"]["hidden_size"] = config.model.baseline_widths[kind]
    data["model"]["type"] = kind
    data["train"]["seed"] = seed
    return config_from_dict(data)


def parameter_counts(config: Config, kinds: list[str], tuned: Path | None = None) -> dict[str, dict[str, int]]:
    """Trainable and total parameters per model. The budget is the trainable count:
    frozen pretrained weights (the word-embedding table) learn nothing, and counting
    them let any baseline pass."""
    counts = {}
    for kind in kinds:
        parameters = list(build_model(with_model(config, kind, 0, tuned), pretrained=False).parameters())
        counts[kind] = {"trainable": sum(p.numel() for p in parameters if p.requires_grad),
                        "total": sum(p.numel() for p in parameters)}
    reference = counts["mmei"]["trainable"] if "mmei" in counts else max(c["trainable"] for c in counts.values())
    outside = {kind: count["trainable"] for kind, count in counts.items()
               if abs(count["trainable"] - reference) > PARAM_TOLERANCE * reference}
    if outside:
        listed = ", ".join(f"{kind} {count:,} ({count / reference - 1:+.0%})" for kind, count in outside.items())
        raise UserInputError(f"trainable parameters more than 10% from mmei's {reference:,}: {listed}; not the same "
                             "budget: set model.baseline_widths (early_fusion, late_fusion, text_only), "
                             "model.text_only_layers or model.mult_hidden_size, or leave the model out with --models")
    return counts
