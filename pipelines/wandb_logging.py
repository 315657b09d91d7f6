"""Weights & Biases: offline by default, online only when the user gives a key.

Offline runs land under the run's output folder and are synced later with
`wandb sync DIR`. No network is touched unless WANDB_API_KEY is set (or the user
sets WANDB_MODE=online explicitly).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def wandb_mode() -> str:
    return os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")


def open_run(config: dict[str, Any], project: str, folder: Path, name: str, group: str | None = None):
    """setup_wandb on rank 0 (others get a disabled run), pointed at `folder`."""
    from ray.air.integrations.wandb import setup_wandb

    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_DIR", str(folder))
    os.environ.setdefault("WANDB_SILENT", "true")
    mode = wandb_mode()
    # Ray's helper looks for an API key even when wandb itself would run offline; an
    # offline run never sends it, so a placeholder is enough and nothing is logged in.
    # Ray also copies the key into os.environ: take the placeholder back out after.
    placeholder = None if os.environ.get("WANDB_API_KEY") or mode != "offline" else "offline-no-key-" + "0" * 25
    try:
        return setup_wandb(config=config, api_key=placeholder, project=project, dir=str(folder), name=name,
                           group=group, mode=mode, reinit="finish_previous")
    finally:
        if placeholder and os.environ.get("WANDB_API_KEY") == placeholder:
            del os.environ["WANDB_API_KEY"]


def offline_run_dir(run) -> str | None:
    """The folder `wandb sync` needs, for an offline run; None otherwise."""
    if run is None or getattr(run, "disabled", False) or run.settings.mode != "offline":
        return None
    return str(run.settings.sync_dir)
