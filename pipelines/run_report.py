"""The quickstart's run report: what ran, how long it took, and what it found, in one
Markdown file with PNGs beside it (WORKDIR/report/report.md).

Sections: stages and times; data and the quarantine; MMEI against the baselines on
the same budget; then the trained MMEI's evaluation (metrics, confusion matrices,
learning curves, fusion weights, modality ablation, robustness); the W&B offline run.
Someone who opens it should understand the run without reading logs, and should not
mistake SYNTHETIC numbers for evidence about the paper's claims.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mmei.pipelines.compare import compare_sections
from mmei.pipelines.report import eval_sections


def stage_section(stage_seconds: dict[str, float]) -> list[str]:
    lines = ["## Stages", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in stage_seconds.items()]
    return lines + [f"| **total** | **{sum(stage_seconds.values()):.1f}** |", ""]


def data_section(manifest: dict[str, Any], features: Path) -> list[str]:
    lines = ["## Data and quarantine", "",
             f"Ray Data read {manifest['rows_in']} rows: {manifest['rows_out']} became features, "
             f"{manifest['rows_quarantined']} were quarantined (none dropped: in = out + quarantined, checked).", ""]
    if manifest["reasons"]:
        lines += ["| reason | rows |", "|---|---|"]
        lines += [f"| {reason} | {count} |" for reason, count in manifest["reasons"].items()]
        lines += ["", f"The quarantined rows, with their original content and a `detail` column, are in "
                      f"`{features / '_quarantine'}`.", ""]
    return lines


def wandb_section(wandb_dir: str | None) -> list[str]:
    if not wandb_dir:
        return ["## W&B", "", "No offline run was written (W&B was online or off).", ""]
    return ["## W&B", "", f"Offline run: `{wandb_dir}`", "",
            f"Upload it later with `wandb sync {wandb_dir}` (needs WANDB_API_KEY).", ""]


def write_run_report(out: Path, *, title: str, stage_seconds: dict[str, float], manifest: dict[str, Any],
                     features: Path, comparison: dict[str, Any] | None, evaluation: dict[str, Any],
                     wandb_dir: str | None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    synthetic = manifest.get("synthetic", False)
    lines = [f"# {title}" + (" (SYNTHETIC data)" if synthetic else ""), ""]
    if synthetic:
        lines += ["Everything here ran on SYNTHETIC data made by `mmei data synth` (its generative story is in "
                  "docs/data.md). The numbers show the platform working end to end. They are not evidence for or "
                  "against the paper's claims.", ""]
    lines += stage_section(stage_seconds) + data_section(manifest, features)
    if comparison:
        lines += [f"## MMEI vs baselines ({comparison['seeds']} seeds, same budget, test split)", "",
                  *compare_sections(comparison)]
    lines += ["## The trained MMEI, evaluated", "", *[line.replace("## ", "### ", 1) if line.startswith("## ") else line
                                                     for line in eval_sections(evaluation, out)]]
    lines += wandb_section(wandb_dir)
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
