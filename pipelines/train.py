"""`mmei train`: the driver that builds the TorchTrainer and exports the bundle.

    OUTPUT/ray/train/     Ray Train run: checkpoints (DeepSpeed shards per rank)
    OUTPUT/bundle/        consolidated fp32 model bundle (serve / eval it)
    OUTPUT/history.json   per-epoch metrics (learning curves)
    OUTPUT/run.json       wall time and the Ray node each worker rank ran on
    OUTPUT/wandb/         W&B run files (offline unless a key is given)

`--resume` continues the run in OUTPUT from its latest checkpoint (Ray Train v2
restores a run with the same name and storage path); without it, an OUTPUT that
already holds a run is an error, so nothing resumes by accident.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ray.train import CheckpointConfig, DataConfig, FailureConfig, RunConfig
from ray.train.torch import TorchTrainer

from mmei.pipelines.distributed import scaling_config, steps_per_epoch
from mmei.pipelines.export import STATE_FILE, bundle_from_checkpoint
from mmei.pipelines.feature_dataset import load_feature_dataset, read_manifest
from mmei.pipelines.train_loop import train_loop_per_worker
from mmei.platform.config import Config
from mmei.platform.errors import UserInputError

RUN_NAME = "train"


@dataclass
class TrainResult:
    bundle: Path
    history: list[dict[str, Any]]
    wandb_offline_dir: str | None
    seconds: float


def check_features_match(config: Config, manifest: dict[str, Any], data_dir: Path) -> None:
    """Training with other feature settings than the data was prepared with is refused."""
    if manifest["config_hash"] != config.fingerprint("features", "labels"):
        raise UserInputError(f"{data_dir} was prepared with other features/labels settings "
                             f"(hash {manifest['config_hash']}, this config {config.fingerprint('features', 'labels')}); "
                             "prepare again with this config or pass the same overrides")


def build_trainer(config: Config, data_dir: Path, storage: Path, run_name: str, wandb_dir: Path | None,
                  callbacks: list | None = None, echo: Callable[[str], None] = print) -> TorchTrainer:
    """The TorchTrainer `mmei train` runs; Tune trials build theirs here too.

    `wandb_dir=None` turns the loop's own W&B run off (a sweep logs per trial instead).
    """
    check_features_match(config, read_manifest(data_dir), data_dir)
    train_data, val_data = load_feature_dataset(data_dir, "train"), load_feature_dataset(data_dir, "val")
    if config.train.materialize_data:
        train_data, val_data = train_data.materialize(), val_data.materialize()
    train_rows = train_data.count()
    total_steps = steps_per_epoch(config.train, train_rows) * config.train.epochs
    train = config.train
    echo(f"training {config.model.type} on {train_rows} rows: {train.num_workers} workers, ZeRO-{train.zero_stage}, "
         f"{train.dtype}, {train.epochs} epochs, {total_steps} steps")
    return TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"config": config.to_dict(), "total_steps": total_steps, "run_name": run_name,
                           "wandb_dir": str(wandb_dir.resolve()) if wandb_dir else None,
                           "fault_marker": str(storage / ".injected_failure")},
        scaling_config=scaling_config(train),
        run_config=RunConfig(name=RUN_NAME, storage_path=str(storage),
                             failure_config=FailureConfig(max_failures=train.max_failures),
                             checkpoint_config=CheckpointConfig(num_to_keep=2), callbacks=callbacks),
        datasets={"train": train_data, "val": val_data},
        dataset_config=DataConfig(datasets_to_split=["train"]),
    )


def run_training(config: Config, data_dir: Path, output: Path, resume: bool = False,
                 echo: Callable[[str], None] = print) -> TrainResult:
    started = time.perf_counter()
    storage = (output / "ray").resolve()
    if (storage / RUN_NAME).exists() and not resume:
        raise FileExistsError(f"{output} already holds a training run; pass --resume to continue it")
    trainer = build_trainer(config, data_dir, storage, output.name, output / "wandb", echo=echo)
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"training finished without a checkpoint; see {storage / RUN_NAME}")
    with result.checkpoint.as_directory() as folder:
        state = json.loads((Path(folder) / STATE_FILE).read_text())
        bundle = bundle_from_checkpoint(Path(folder), config, output / "bundle",
                                        extra={"trained": True, "data": str(data_dir)})
    (output / "history.json").write_text(json.dumps(state["history"], indent=2))
    seconds = time.perf_counter() - started
    wandb_dir = state.get("wandb_offline_dir")
    nodes = state.get("worker_nodes", [])
    (output / "run.json").write_text(json.dumps({"seconds": seconds, "worker_nodes": nodes,
                                                 "wandb_offline_dir": wandb_dir}, indent=2))
    echo(f"trained in {seconds:.0f}s on {len(nodes)} workers across {len(set(nodes))} node(s); bundle {bundle}; "
         f"learning curves {output / 'history.json'}")
    if wandb_dir:
        echo(f"W&B offline run: {wandb_dir}  (sync later with: wandb sync {wandb_dir})")
    return TrainResult(bundle=bundle, history=state["history"], wandb_offline_dir=wandb_dir, seconds=seconds)
