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
    from ray.air.integrations.wandb import WandbLoggerCallback, _WandbLoggingActor

    class FlushingLoggingActor(_WandbLoggingActor):
        """Returns only once wandb's service has written and closed the run's files.

        The callback kills a trial's logging actor as soon as its `run()` returns, and
        `wandb.finish()` can return while the wandb-core process still holds the tail
        of the offline `.wandb` log (written in 32 KiB blocks). Killed then, the run
        kept its config and lost every metric: seen in CI, and in 1 of 4 trials here.
        `wandb.teardown()` waits for that process to exit.
        """

        def run(self):
            super().run()
            self._wandb.teardown()

    class FinishingWandbLoggerCallback(WandbLoggerCallback):
        """Flushing actors, and every trial's run ended before the sweep-end wait.

        Trials still running when a sweep is interrupted never get their end signal,
        so the stock callback waits out `upload_timeout` and then kills their actors.
        Signalling the end first lets each finish; the timeout is then only a bound.
        """

        _logger_actor_cls = FlushingLoggingActor

        def on_experiment_end(self, trials, **info):
            for trial in list(self._trial_queues):
                self._signal_logging_actor_stop(trial)
            super().on_experiment_end(trials, **info)

    folder.mkdir(parents=True, exist_ok=True)
    mode = wandb_mode()
    # The default (30 min) is for uploads; offline, finishing a run takes seconds, and
    # 2 minutes bounds a stuck actor without killing a slow one on a loaded machine.
    return FinishingWandbLoggerCallback(project=project, group=group, api_key=offline_key(), mode=mode,
                                        dir=str(folder), log_config=True,
                                        upload_timeout=120 if mode == "offline" else 1800)
