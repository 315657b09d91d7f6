"""Weights & Biases: offline by default, online only when the user gives a key.

Offline runs land under the run's output folder and are synced later with
`wandb sync DIR`. No network is touched unless WANDB_API_KEY is set (or the user
sets WANDB_MODE=online explicitly).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


# Ray's W&B helpers look for an API key even when wandb itself would run offline; an
# offline run never sends it, so this placeholder is enough and nothing is logged in.
# Ray copies the key into os.environ, which would make later runs look online:
# forget_placeholder() takes it back out.
PLACEHOLDER_KEY = "offline-no-key-" + "0" * 25


def forget_placeholder() -> None:
    if os.environ.get("WANDB_API_KEY") == PLACEHOLDER_KEY:
        del os.environ["WANDB_API_KEY"]


def offline_key() -> str | None:
    """The placeholder when running offline without a real key; None otherwise."""
    return None if os.environ.get("WANDB_API_KEY") or wandb_mode() != "offline" else PLACEHOLDER_KEY


def wandb_mode() -> str:
    return os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")


def open_run(config: dict[str, Any], project: str, folder: Path, name: str, group: str | None = None):
    """setup_wandb on rank 0 (others get a disabled run), pointed at `folder`."""
    from ray.air.integrations.wandb import setup_wandb

    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_DIR", str(folder))
    os.environ.setdefault("WANDB_SILENT", "true")
    try:
        return setup_wandb(config=config, api_key=offline_key(), project=project, dir=str(folder), name=name,
                           group=group, mode=wandb_mode(), reinit="finish_previous")
    finally:
        forget_placeholder()


def offline_run_dir(run) -> str | None:
    """The folder `wandb sync` needs, for an offline run; None otherwise."""
    if run is None or getattr(run, "disabled", False) or run.settings.mode != "offline":
        return None
    return str(run.settings.sync_dir)


def logger_callback(project: str, group: str, folder: Path):
    """WandbLoggerCallback for a Tune sweep: one run per trial, grouped by sweep.

    Call forget_placeholder() once the sweep is over.
    """
    from ray.air.integrations.wandb import WandbLoggerCallback

    folder.mkdir(parents=True, exist_ok=True)
    mode = wandb_mode()
    # At the sweep's end the callback waits up to `upload_timeout` for each trial's run
    # to finish; its default (30 min) kept an interrupted sweep from exiting. Offline
    # there is nothing to upload.
    return WandbLoggerCallback(project=project, group=group, api_key=offline_key(), mode=mode,
                               dir=str(folder), log_config=True, upload_timeout=30 if mode == "offline" else 600)
