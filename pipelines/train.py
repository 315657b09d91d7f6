"""`mmei train`: the driver that builds the TorchTrainer and exports the bundle.

    OUTPUT/ray/train/     Ray Train run: checkpoints (DeepSpeed shards per rank)
    OUTPUT/bundle/        consolidated fp32 model bundle (serve / eval it), from the epoch
                          `train.select` picks: best (highest val macro-F1, default) or last
    OUTPUT/history.json   per-epoch metrics (learning curves)
    OUTPUT/steps.jsonl    every train.log_every optimizer steps: loss, lr, grad norm, samples/s
                          (and peak memory, MFU on GPUs); the console's progress line reads it
    OUTPUT/run.json       wall time, start-up time, the selected epoch, and the Ray node of each rank
    OUTPUT/wandb/         W&B run files (offline unless a key is given)

`--resume` continues the run in OUTPUT from its latest checkpoint (Ray Train v2
restores a run with the same name and storage path); without it, an OUTPUT that
already holds a run is an error, so nothing resumes by accident. A resume with a
config that changes what the run computes (the model, data, labels, schedule) is
refused before anything starts, naming the keys.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import ray.data
from ray.train import CheckpointConfig, DataConfig, FailureConfig, RunConfig

from mmei.pipelines.distributed import scaling_config, steps_per_epoch
from mmei.pipelines.export import STATE_FILE, bundle_from_checkpoint
from mmei.pipelines.feature_dataset import load_feature_dataset, read_manifest
from mmei.pipelines.stoppable_trainer import StoppableTorchTrainer
from mmei.pipelines.train_loop import train_loop_per_worker
from mmei.pipelines.train_progress import StepFollower
from mmei.platform.config import Config, resume_differences
from mmei.platform.console import ProgressLine
from mmei.platform.errors import UserInputError

RUN_NAME = "train"
SELECT_METRIC = "val_macro_f1_mean"  # what train.select=best maximises


@dataclass
class TrainResult:
    bundle: Path
    history: list[dict[str, Any]]
    wandb_offline_dir: str | None
    seconds: float
    selected: dict[str, Any]  # train.select, the metric, the epoch the bundle is from, its value


def check_features_match(config: Config, manifest: dict[str, Any], data_dir: Path) -> None:
    """Training with other feature settings than the data was prepared with is refused."""
    if manifest["config_hash"] != config.fingerprint("features", "labels"):
        raise UserInputError(f"{data_dir} was prepared with other features/labels settings "
                             f"(hash {manifest['config_hash']}, this config {config.fingerprint('features', 'labels')}); "
                             "prepare again with this config or pass the same overrides")


def training_datasets(config: Config, data_dir: Path) -> tuple[ray.data.Dataset, ray.data.Dataset]:
    """The train and val splits as the workers read them, with the train rows in an
    order that the data's own order cannot reach.

    - `train.materialize_data` (default): one global shuffle, seeded, before the rows
      are materialized: every rank gets a random share of every label. Ray may coalesce
      a whole small dataset into one block, so reordering blocks alone is not enough.
    - otherwise (data larger than the object store): a seeded block order, streamed.

    Either way the loop's row-sized buffer (`epoch_batches`) re-orders each epoch.
    Files are read in order (not task-completion order), so the same seed gives the
    same rows in the same order in a fresh process: a resumed run replays them.
    """
    train_data, val_data = load_feature_dataset(data_dir, "train"), load_feature_dataset(data_dir, "val")
    for dataset in (train_data, val_data):
        dataset.context.execution_options.preserve_order = True
    if config.train.materialize_data:
        return train_data.random_shuffle(seed=config.train.seed).materialize(), val_data.materialize()
    return train_data.randomize_block_order(seed=config.train.seed), val_data


def ingest_config() -> DataConfig:
    """Split the train set across workers in a fixed order (no locality reordering):
    which rows a rank gets must not depend on where blocks happen to live."""
    options = DataConfig.default_ingest_options()
    options.preserve_order = True
    return DataConfig(datasets_to_split=["train"], execution_options=options)


def checkpoint_config(train) -> CheckpointConfig:
    """With select=best, Ray keeps the best epoch by val macro-F1 (and always the latest, to resume)."""
    if train.select == "best":
        return CheckpointConfig(num_to_keep=1, checkpoint_score_attribute=SELECT_METRIC, checkpoint_score_order="max")
    return CheckpointConfig(num_to_keep=1)


def selected_epoch(history: list[dict[str, Any]], select: str) -> int:
    """The epoch the bundle comes from: the first with the highest val macro-F1, or the last."""
    if select == "last":
        return history[-1]["epoch"]
    return max(history, key=lambda h: (h[SELECT_METRIC], -h["epoch"]))["epoch"]


def selected_checkpoint(result, epoch: int):
    """The kept checkpoint that reported `epoch`; Ray's checkpoint manager retains it."""
    for checkpoint, metrics in result.best_checkpoints or []:
        if metrics.get("epoch") == epoch:
            return checkpoint
    raise RuntimeError(f"no kept checkpoint holds epoch {epoch}; kept: "
                       f"{[m.get('epoch') for _, m in result.best_checkpoints or []]}")


def build_trainer(config: Config, data_dir: Path, storage: Path, run_name: str, wandb_dir: Path | None,
                  callbacks: list | None = None, echo: Callable[[str], None] = print,
                  steps_path: Path | None = None) -> StoppableTorchTrainer:
    """The TorchTrainer `mmei train` runs; Tune trials build theirs here too.

    `wandb_dir=None` turns the loop's own W&B run off (a sweep logs per trial instead);
    `steps_path=None` writes no steps.jsonl.
    """
    check_features_match(config, read_manifest(data_dir), data_dir)
    train_data, val_data = training_datasets(config, data_dir)
    train_rows = train_data.count()
    total_steps = steps_per_epoch(config.train, train_rows) * config.train.epochs
    train = config.train
    echo(f"training {config.model.type} on {train_rows} rows: {train.num_workers} workers, ZeRO-{train.zero_stage}, "
         f"{train.dtype}, {train.epochs} epochs, {total_steps} steps")
    return StoppableTorchTrainer(
        train_loop_per_worker,
        train_loop_config={"config": config.to_dict(), "total_steps": total_steps, "run_name": run_name,
                           "wandb_dir": str(wandb_dir.resolve()) if wandb_dir else None,
                           "steps_path": str(steps_path.resolve()) if steps_path else None,
                           "launched_at": time.time(), "fault_marker": str(storage / ".injected_failure")},
        scaling_config=scaling_config(train),
        run_config=RunConfig(name=RUN_NAME, storage_path=str(storage),
                             failure_config=FailureConfig(max_failures=train.max_failures),
                             checkpoint_config=checkpoint_config(train), callbacks=callbacks),
        datasets={"train": train_data, "val": val_data},
        dataset_config=ingest_config(),
    )


def latest_checkpoint_state(run_dir: Path) -> dict[str, Any] | None:
    """The run state in the newest checkpoint folder of a Ray Train run, if any."""
    states = sorted((run_dir / RUN_NAME).glob(f"checkpoint_*/{STATE_FILE}"), key=lambda p: p.stat().st_mtime)
    return json.loads(states[-1].read_text()) if states else None


def check_resumable(config: Config, storage: Path) -> None:
    state = latest_checkpoint_state(storage)
    if state is None:
        return  # nothing saved yet: the run starts over
    differences = resume_differences(state.get("config", {}), config)
    if differences:
        listed = "; ".join(f"{key}: {old!r} → {new!r}" for key, (old, new) in differences.items())
        raise UserInputError(f"cannot resume {storage.parent}: its checkpoint was trained with another config "
                             f"({listed}); pass the same overrides, or train into a new --output")


def run_training(config: Config, data_dir: Path, output: Path, resume: bool = False,
                 echo: Callable[[str], None] = print, show_progress: bool = False, indent: str = "") -> TrainResult:
    """`show_progress` draws a progress line on stdout; epoch lines go to `echo` either way."""
    started = time.perf_counter()
    storage = (output / "ray").resolve()
    if (storage / RUN_NAME).exists() and not resume:
        raise FileExistsError(f"{output} already holds a training run; pass --resume to continue it")
    if resume:
        check_resumable(config, storage)
    steps_path = output / "steps.jsonl"
    trainer = build_trainer(config, data_dir, storage, output.name, output / "wandb", echo=echo, steps_path=steps_path)
    total_steps = trainer.train_loop_config["total_steps"]
    bar = ProgressLine(f"train {config.model.type}", total_steps, indent=indent) if show_progress else None
    follower = StepFollower(steps_path, total_steps, config.train.epochs, echo, bar)
    follower.start()
    try:
        result = trainer.fit()
    finally:
        follower.stop()
    if result.checkpoint is None:
        raise RuntimeError(f"training finished without a checkpoint; see {storage / RUN_NAME}")
    with result.checkpoint.as_directory() as folder:
        state = json.loads((Path(folder) / STATE_FILE).read_text())
    history = state["history"]
    epoch = selected_epoch(history, config.train.select)
    selection = {"select": config.train.select, "metric": SELECT_METRIC, "epoch": epoch,
                 "value": next(h[SELECT_METRIC] for h in history if h["epoch"] == epoch)}
    checkpoint = result.checkpoint if epoch == history[-1]["epoch"] else selected_checkpoint(result, epoch)
    with checkpoint.as_directory() as folder:
        bundle = bundle_from_checkpoint(Path(folder), config, output / "bundle",
                                        extra={"trained": True, "data": str(data_dir), "history": history,
                                               "selected": selection})
    (output / "history.json").write_text(json.dumps(history, indent=2))
    seconds = time.perf_counter() - started
    wandb_dir = state.get("wandb_offline_dir")
    nodes = state.get("worker_nodes", [])
    (output / "run.json").write_text(json.dumps({"seconds": seconds, "startup_s": state.get("startup_s"),
                                                 "worker_nodes": nodes, "selected": selection,
                                                 "wandb_offline_dir": wandb_dir}, indent=2))
    echo(f"trained in {seconds:.0f}s on {len(nodes)} workers across {len(set(nodes))} node(s); bundle from epoch "
         f"{epoch + 1}/{config.train.epochs} ({config.train.select}: {SELECT_METRIC} {selection['value']:.4f}) "
         f"{bundle}; learning curves {output / 'history.json'}")
    if wandb_dir:
        echo(f"W&B offline run: {wandb_dir}  (sync later with: wandb sync {wandb_dir})")
    return TrainResult(bundle=bundle, history=history, wandb_offline_dir=wandb_dir, seconds=seconds,
                       selected=selection)
