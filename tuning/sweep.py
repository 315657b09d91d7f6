"""`mmei tune`: a Ray Tune sweep whose every trial is a real `mmei train` run.

    Tuner ─ trial (0.1 CPU driver) ─ TorchTrainer (workers × cpus_per_worker) ─ DeepSpeed
            └ TuneReportCallback forwards each epoch's report to Tune, so ASHA can stop it

Trials only train and report; once the sweep is over, the best trial's last checkpoint
becomes `best/bundle`. (Exporting inside a trial races ASHA, which stops a trial the
moment it reports its last epoch.) `max_concurrent_trials` comes from the
cluster: as many trials as fit while one CPU stays free for Ray Data's read tasks, so
trials never sit waiting for resources. An interrupted sweep resumes with
`Tuner.restore`; finished trials are not run again.

    DIR/sweep/                 Tune's experiment (what --resume restores)
    DIR/trials/<id>/           each trial's config.yaml and Train run (checkpoints)
    DIR/results.csv, .md       every trial: hyperparameters, objective, epochs, status
    DIR/objective.png          objective against each hyperparameter
    DIR/best/config.yaml, best/bundle/
    DIR/wandb/                 one W&B run per trial, grouped by sweep (offline by default)
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Callable

import ray
import yaml
from ray import tune
from ray.tune.integration.ray_train import TuneReportCallback
from ray.tune.schedulers import ASHAScheduler

from mmei.pipelines.train import build_trainer
from mmei.pipelines.safe_checkpoints import check_not_world_writable
from mmei.pipelines.wandb_logging import forget_placeholder, logger_callback
from mmei.platform.config import Config, ConfigError, config_from_dict, with_values
from mmei.tuning.results import write_results
from mmei.tuning.space import declared_space, load_space

TRIAL_DRIVER_CPU = 0.1
# Tune waits this long for a stopped trial (ASHA, Ctrl-C) to end on its own before it
# kills it. Its default, 600 s, made Ctrl-C on a sweep hang for ten minutes: a trial
# blocked in TorchTrainer.fit() never returns early by itself.
TRIAL_CLEANUP_S = "20"
SEARCHERS = ("random", "optuna", "hyperopt")


def objective_metric(head: str | None) -> str:
    return f"val_{head}_macro_f1" if head else "val_macro_f1_mean"


def run_trial(trial: dict[str, Any], base: dict[str, Any], data: str, sweep_dir: str) -> None:
    """One trial: the sampled config trained exactly as `mmei train` would train it."""
    config = with_values(config_from_dict(base), trial["hp"])
    trial_id = tune.get_context().get_trial_id()
    folder = Path(sweep_dir) / "trials" / trial_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    trainer = build_trainer(config, Path(data), folder / "ray", trial_id, wandb_dir=None,
                            callbacks=[TuneReportCallback()], echo=lambda _: None)
    trainer.fit()


def concurrent_trials(config: Config, cap: int | None = None) -> int:
    """As many trials as the cluster's free CPUs hold at once, one CPU kept for Ray Data.

    Free, not total: on a cluster that also serves or trains, trials sized to the total
    would sit waiting for resources that never free up.
    """
    train = config.train
    per_trial = TRIAL_DRIVER_CPU + train.num_workers * train.cpus_per_worker
    free = ray.available_resources()
    fits = max(1, math.floor((free.get("CPU", 1.0) - 1.0) / per_trial))
    if train.use_gpu:  # GPU trials: as many as the free GPUs hold, too
        fits = min(fits, max(1, math.floor(free.get("GPU", 0.0) / (train.num_workers * train.gpus_per_worker))))
    return min(fits, cap) if cap else fits


def searcher(name: str, metric: str):
    if name == "random":
        return None  # Tune's default: random sampling of the space
    if name == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        return OptunaSearch(metric=metric, mode="max")
    if name == "hyperopt":
        try:
            from ray.tune.search.hyperopt import HyperOptSearch
        except ImportError:
            raise ConfigError("--search hyperopt needs `pip install hyperopt`") from None
        return HyperOptSearch(metric=metric, mode="max")
    raise ConfigError(f"--search must be one of {SEARCHERS}, got {name!r}")


def trainable(output: Path):
    """The trial function with the sweep's fixed inputs bound (kept out of the search
    space, so Tune shows and records only the hyperparameters)."""
    meta = json.loads((output / "sweep_meta.json").read_text())
    bound = tune.with_parameters(run_trial, base=meta["config"], data=meta["data"], sweep_dir=str(output))
    return tune.with_resources(bound, {"CPU": TRIAL_DRIVER_CPU})


def run_sweep(config: Config, data_dir: Path, output: Path, samples: int, space_file: Path | None = None,
              search: str = "random", scheduler: str = "asha", head: str | None = None,
              max_concurrent: int | None = None, echo: Callable[[str], None] = print) -> dict[str, Any]:
    output = output.resolve()
    if (output / "sweep").exists():
        raise FileExistsError(f"{output} already holds a sweep; resume it with --resume {output}")
    metric = objective_metric(head)
    space = load_space(space_file, config)
    concurrency = concurrent_trials(config, max_concurrent)
    echo(f"sweep: {samples} trials of {config.model.type} over {', '.join(space)}; objective {metric}; "
         f"{concurrency} at a time; {search} search, scheduler {scheduler}")
    output.mkdir(parents=True, exist_ok=True)
    (output / "sweep_meta.json").write_text(json.dumps({"metric": metric, "epochs": config.train.epochs,
                                                        "samples": samples, "scheduler": scheduler, "search": search,
                                                        "space": declared_space(space_file), "config": config.to_dict(),
                                                        "data": str(data_dir.resolve())}))
    os.environ.setdefault("TUNE_FORCE_TRIAL_CLEANUP_S", TRIAL_CLEANUP_S)
    callback = logger_callback(config.train.wandb_project, output.name, output / "wandb")
    tuner = tune.Tuner(
        trainable(output),
        param_space={"hp": space},
        tune_config=tune.TuneConfig(
            metric=metric, mode="max", num_samples=samples, search_alg=searcher(search, metric),
            # max_t one past the last epoch: a trial that survives every rung ends on its
            # own, so Train frees its workers itself instead of Tune killing it mid-exit.
            scheduler=ASHAScheduler(max_t=config.train.epochs + 1, grace_period=1, reduction_factor=2,
                                    time_attr="training_iteration") if scheduler == "asha" else None,
            max_concurrent_trials=concurrency),
        run_config=tune.RunConfig(name="sweep", storage_path=str(output), callbacks=[callback]),
    )
    try:
        results = tuner.fit()
    finally:
        forget_placeholder()
    return write_results(results, output, echo)


def resume_sweep(output: Path, echo: Callable[[str], None] = print) -> dict[str, Any]:
    output = output.resolve()
    if not tune.Tuner.can_restore(str(output / "sweep")):
        raise FileNotFoundError(f"{output} holds no sweep to resume (no {output / 'sweep'})")
    check_not_world_writable(output / "sweep")  # Tune's state is a pickle: only from a folder others cannot write
    echo(f"resuming the sweep in {output}; finished trials are kept")
    os.environ.setdefault("TUNE_FORCE_TRIAL_CLEANUP_S", TRIAL_CLEANUP_S)
    try:  # the restored RunConfig brings its W&B callback back
        results = tune.Tuner.restore(str(output / "sweep"), trainable=trainable(output), resume_unfinished=True,
                                     resume_errored=True).fit()
    finally:
        forget_placeholder()
    return write_results(results, output, echo)


