"""The Ray Train worker loop: one DeepSpeed engine per worker, any model type.

Per epoch: train on this worker's split of the train set, validate on the whole val
set on every rank (ZeRO-3 forward passes are collectives, so all ranks must run
them; rank 0 keeps the numbers), then every rank saves its DeepSpeed checkpoint
shard and reports it with the metrics. Seeds are set per epoch and rank, so a run
resumed from a checkpoint sees the same data order and dropout masks as one that
never stopped.

Lives in an importable module, not __main__: cloudpickle chokes on some DeepSpeed
objects otherwise.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import ray.train
import torch
import torch.distributed as dist

from mmei.pipelines.distributed import deepspeed_config, disable_cpu_jit_ops
from mmei.pipelines.export import DS_TAG, STATE_FILE
from mmei.pipelines.feature_dataset import FeatureCollate
from mmei.pipelines.recipe import make_optimizer, make_scheduler, parameter_groups
from mmei.pipelines.wandb_logging import offline_run_dir, open_run
from mmei.platform.config import TrainConfig, config_from_dict
from mmei.platform.loss import joint_loss
from mmei.platform.metrics import joint_metrics
from mmei.platform.models.build import build_model
from mmei.platform.predict import collect_outputs



def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """One seed per (run seed, epoch, rank): a resumed epoch replays the same draws."""
    return (seed * 100_003 + epoch * 1_009 + rank) % (1 << 32)


def seed_everything(seed: int, epoch: int, rank: int) -> None:
    torch.manual_seed(epoch_seed(seed, epoch, rank))
    np.random.seed(epoch_seed(seed, epoch, rank))


def epoch_batches(shard, train: TrainConfig, epoch: int, rank: int):
    """This rank's training batches for one epoch.

    A row-sized shuffle buffer, re-seeded per epoch and rank: rows that arrive grouped
    (by label, by source) are mixed before they form batches, and a resumed epoch
    replays the same order.
    """
    return shard.iter_torch_batches(batch_size=train.batch_size, collate_fn=FeatureCollate(),
                                    local_shuffle_buffer_size=train.shuffle_buffer_rows,
                                    local_shuffle_seed=epoch_seed(train.seed, epoch, rank))


def to_device(batch: dict[str, torch.Tensor], device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {k: (v.to(device, dtype) if v.is_floating_point() else v.to(device)) for k, v in batch.items()}


def maybe_fail(spec: str, epoch: int, step: int, rank: int, marker: Path) -> None:
    """Test switch (train.inject_failure_at): crash rank 0 once, mid-epoch."""
    if spec and rank == 0 and spec == f"{epoch}:{step}" and not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        raise RuntimeError(f"injected worker failure at epoch {epoch} step {step} (train.inject_failure_at)")


def validate(engine, dataset, dtype: torch.dtype, rank: int) -> dict[str, float]:
    """Every rank runs every batch (ZeRO-3 needs it); rank 0 returns the metrics."""
    engine.eval()
    batches = dataset.iter_torch_batches(batch_size=64, collate_fn=FeatureCollate())
    outputs = collect_outputs(lambda batch: engine(to_device(batch, engine.device, dtype)), batches)
    return joint_metrics(outputs.probabilities, outputs.labels, prefix="val_") if rank == 0 else {}


def learning_rates(engine) -> dict[str, float]:
    """The current learning rate of the heads and of the top pretrained layer (the recipe's
    other groups follow them by fixed factors)."""
    return {f"lr_{group['name']}": float(group["lr"]) for group in engine.optimizer.param_groups
            if group.get("name") in ("head", "encoder")}


def broadcast(value: Any) -> Any:
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def worker_nodes() -> list[str]:
    """Each rank's Ray node id, in rank order: where the workers actually ran."""
    nodes: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(nodes, ray.get_runtime_context().get_node_id())
    return nodes


def train_loop_per_worker(loop_config: dict[str, Any]) -> None:
    config = config_from_dict(loop_config["config"])
    train = config.train
    context = ray.train.get_context()
    rank = context.get_world_rank()
    disable_cpu_jit_ops()
    import deepspeed  # after the op switch above

    torch.manual_seed(train.seed)  # identical initial weights on every rank
    model = build_model(config)
    on_cuda = torch.cuda.is_available() and train.use_gpu
    engine, _, _, _ = deepspeed.initialize(
        model=model, model_parameters=parameter_groups(model, train), optimizer=make_optimizer(train, on_cuda),
        lr_scheduler=make_scheduler(train, loop_config["total_steps"]), config=deepspeed_config(train))
    dtype = torch.bfloat16 if train.dtype == "bf16" else torch.float32

    state: dict[str, Any] = {"epoch": -1, "global_step": 0, "history": []}
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as folder:
            engine.load_checkpoint(folder, tag=DS_TAG)
            state = json.loads((Path(folder) / STATE_FILE).read_text())
    state["worker_nodes"] = worker_nodes()  # after a restart, where this attempt runs
    run = (open_run(config.to_dict(), train.wandb_project, Path(loop_config["wandb_dir"]), name=loop_config["run_name"])
           if rank == 0 and loop_config["wandb_dir"] else None)

    train_data = ray.train.get_dataset_shard("train")
    val_data = ray.train.get_dataset_shard("val")
    for epoch in range(state["epoch"] + 1, train.epochs):
        seed_everything(train.seed, epoch, rank)
        started = time.perf_counter()
        engine.train()
        loss_sum, batches, samples = 0.0, 0, 0
        for step, batch in enumerate(epoch_batches(train_data, train, epoch, rank)):
            maybe_fail(train.inject_failure_at, epoch, step, rank, Path(loop_config["fault_marker"]))
            batch = to_device(batch, engine.device, dtype)
            loss, _ = joint_loss(engine(batch), batch)
            engine.backward(loss)
            engine.step()
            loss_sum, batches, samples = loss_sum + loss.item(), batches + 1, samples + len(batch["present"])
        totals = torch.tensor([loss_sum, batches, samples], dtype=torch.float64)
        dist.all_reduce(totals)
        elapsed = time.perf_counter() - started
        metrics = broadcast(validate(engine, val_data, dtype, rank))
        metrics.update({"epoch": epoch, "train_loss": float(totals[0] / max(totals[1], 1)),
                        "samples_per_s": float(totals[2] / elapsed), "epoch_seconds": elapsed,
                        **learning_rates(engine)})
        state = {**state, "epoch": epoch, "global_step": state["global_step"] + batches,
                 "history": state["history"] + [metrics]}
        if rank == 0:
            print(f"epoch {epoch + 1}/{train.epochs}  train_loss {metrics['train_loss']:.4f}  "
                  f"val_loss {metrics['val_loss']:.4f}  val macro-F1 {metrics['val_macro_f1_mean']:.3f}  "
                  f"({elapsed:.1f}s, {metrics['samples_per_s']:.0f} samples/s)", flush=True)
            if run is not None:
                run.log(metrics, step=epoch)
        with tempfile.TemporaryDirectory() as folder:
            engine.save_checkpoint(folder, tag=DS_TAG)  # a collective: every rank writes its shard
            if rank == 0:
                state["wandb_offline_dir"] = offline_run_dir(run)
                (Path(folder) / STATE_FILE).write_text(json.dumps(state))
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))
    if run is not None:
        run.summary.update(state["history"][-1] if state["history"] else {})
        run.finish()
