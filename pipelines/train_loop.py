"""The Ray Train worker loop: one DeepSpeed engine per worker, any model type.

Per epoch: train on this worker's split of the train set, validate on the whole val
set on every rank (ZeRO-3 forward passes are collectives, so all ranks must run
them; rank 0 keeps the numbers), then every rank saves its DeepSpeed checkpoint
shard and reports it with the metrics. Seeds are set per epoch and rank, so a run
resumed from a checkpoint sees the same data order and dropout masks as one that
never stopped.

The hot loop never waits for the device: losses add up in tensors on the engine's
device, read once per `train.log_every` optimizer steps (RUN/steps.jsonl, W&B) and
once per epoch. Every collective runs on tensors on that device (see step_log.py).

Lives in an importable module, not __main__: cloudpickle chokes on some DeepSpeed
objects otherwise.
"""
from __future__ import annotations

import copy
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
from mmei.pipelines.safe_checkpoints import weights_only_loads
from mmei.pipelines.step_log import RunningSums, StepLog, flops_per_sample, gpu_stats, peak_flops
from mmei.pipelines.wandb_logging import offline_run_dir, open_run
from mmei.platform.config import Config, config_from_dict, resume_differences
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


def epoch_batches(shard, config: Config, epoch: int, rank: int):
    """This rank's training batches for one epoch.

    A row-sized shuffle buffer, re-seeded per epoch and rank: rows that arrive grouped
    (by label, by source) are mixed before they form batches, and a resumed epoch
    replays the same order.
    """
    train = config.train
    return shard.iter_torch_batches(batch_size=train.batch_size, collate_fn=FeatureCollate(config.features),
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


def validate(engine, dataset, config: Config, dtype: torch.dtype, rank: int) -> dict[str, float]:
    """Every rank runs every batch (ZeRO-3 needs it); rank 0 returns the metrics."""
    engine.eval()
    batches = dataset.iter_torch_batches(batch_size=64, collate_fn=FeatureCollate(config.features))
    outputs = collect_outputs(lambda batch: engine(to_device(batch, engine.device, dtype)), batches)
    return joint_metrics(outputs.probabilities, outputs.labels, prefix="val_") if rank == 0 else {}


def learning_rates(engine) -> dict[str, float]:
    """`lr` (fusion and heads) and `lr_encoder` (the top pretrained layer); the recipe's
    other groups follow them by fixed factors."""
    names = {"head": "lr", "encoder": "lr_encoder"}
    return {names[group["name"]]: float(group["lr"]) for group in engine.optimizer.param_groups
            if group.get("name") in names}


def grad_norm(engine) -> float | None:
    """The global gradient norm of the last optimizer step (None before the first)."""
    norm = engine.get_global_grad_norm()
    return None if norm is None else float(norm)


def broadcast(value: Any) -> Any:
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def worker_nodes() -> list[str]:
    """Each rank's Ray node id, in rank order: where the workers actually ran."""
    nodes: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(nodes, ray.get_runtime_context().get_node_id())
    return nodes


def restore(engine, config: Config) -> dict[str, Any]:
    """The run state of Ray's latest checkpoint, its DeepSpeed state loaded; a fresh
    state when there is none. A checkpoint of another config, or one DeepSpeed reads
    nothing from, is an error: resuming it would silently train something else."""
    checkpoint = ray.train.get_checkpoint()
    if not checkpoint:
        return {"epoch": -1, "history": []}
    with checkpoint.as_directory() as folder:
        state = json.loads((Path(folder) / STATE_FILE).read_text())
        differences = resume_differences(state.get("config", {}), config)
        if differences:
            raise ValueError(f"checkpoint in {checkpoint.path} was written with another config: {differences}")
        weights_only_loads()  # DeepSpeed asks torch.load for full pickles: refused here
        loaded, _ = engine.load_checkpoint(folder, tag=DS_TAG)
        if loaded is None:
            raise RuntimeError(f"DeepSpeed loaded nothing from checkpoint {checkpoint.path} (tag {DS_TAG})")
    return state


class Progress:
    """Rank 0's step records: RUN/steps.jsonl, W&B, and on GPUs peak memory and MFU."""

    def __init__(self, engine, config: Config, loop_config: dict[str, Any], run, world_size: int,
                 flops_probe: torch.nn.Module | None):
        self.engine, self.run, self.world_size = engine, run, world_size
        path = loop_config.get("steps_path")
        self.log = StepLog(Path(path), engine.global_steps) if path else None
        self.peak = peak_flops(engine.device, config.train.peak_tflops)
        self.flops_probe = flops_probe if self.peak else None  # a copy made before ZeRO partitioned the weights
        self.flops: float | None = None
        self.interval_started = time.perf_counter()

    def first_batch(self, batch: dict[str, torch.Tensor]) -> None:
        if self.flops_probe is not None and self.flops is None:
            self.flops = flops_per_sample(self.flops_probe, batch)
            self.flops_probe = None

    def start_interval(self) -> None:
        self.interval_started = time.perf_counter()

    def record(self, epoch: int, loss: float, samples_per_s: float, **extra: Any) -> dict[str, Any]:
        record = {"step": self.engine.global_steps, "epoch": epoch, "loss": loss, **learning_rates(self.engine),
                  "grad_norm": grad_norm(self.engine), "skipped_steps": int(self.engine.skipped_steps),
                  "samples_per_s": samples_per_s, **gpu_stats(self.engine.device), **extra}
        if self.flops and self.peak:
            record["mfu"] = self.flops * samples_per_s / (self.peak * self.world_size)
        if self.log:
            self.log.append(record)
        if self.run is not None:
            self.run.log({f"step/{k}": v for k, v in record.items() if isinstance(v, (int, float))},
                         step=record["step"])
        return record

    def interval(self, epoch: int, sums: dict[str, float]) -> None:
        elapsed = time.perf_counter() - self.interval_started
        self.record(epoch, sums["loss"], sums["samples"] / max(elapsed, 1e-9))
        self.start_interval()


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
    flops_probe = copy.deepcopy(model) if rank == 0 and on_cuda else None
    engine, _, _, _ = deepspeed.initialize(
        model=model, model_parameters=parameter_groups(model, train), optimizer=make_optimizer(train, on_cuda),
        lr_scheduler=make_scheduler(train, loop_config["total_steps"]), config=deepspeed_config(train))
    dtype = torch.bfloat16 if train.dtype == "bf16" else torch.float32

    state = restore(engine, config)
    state.pop("startup_s", None)  # measured again for this attempt
    state["worker_nodes"] = worker_nodes()  # after a restart, where this attempt runs
    state["config"] = config.to_dict()
    run = (open_run(config.to_dict(), train.wandb_project, Path(loop_config["wandb_dir"]), name=loop_config["run_name"])
           if rank == 0 and loop_config["wandb_dir"] else None)
    progress = (Progress(engine, config, loop_config, run, context.get_world_size(), flops_probe)
                if rank == 0 else None)
    logged_step = engine.global_steps

    train_data = ray.train.get_dataset_shard("train")
    val_data = ray.train.get_dataset_shard("val")
    for epoch in range(state["epoch"] + 1, train.epochs):
        seed_everything(train.seed, epoch, rank)
        started = time.perf_counter()
        engine.train()
        epoch_sums, interval_sums = RunningSums(engine.device), RunningSums(engine.device)
        if progress is not None:
            progress.start_interval()
        for step, batch in enumerate(epoch_batches(train_data, config, epoch, rank)):
            maybe_fail(train.inject_failure_at, epoch, step, rank, Path(loop_config["fault_marker"]))
            batch = to_device(batch, engine.device, dtype)
            if progress is not None and "startup_s" not in state:  # this attempt's first batch
                state["startup_s"] = time.time() - loop_config["launched_at"]
                progress.first_batch(batch)
            loss, _ = joint_loss(engine(batch), batch, train.score_weight)
            engine.backward(loss)
            engine.step()
            samples = batch["present"].shape[0]
            epoch_sums.add(loss, samples)
            interval_sums.add(loss, samples)
            # global_steps is a host-side count of optimizer steps, equal on every rank
            if engine.global_steps % train.log_every == 0 and engine.global_steps != logged_step:
                logged_step = engine.global_steps
                sums = interval_sums.read_global()  # a collective: every rank logs at the same steps
                if progress is not None:
                    progress.interval(epoch, sums)
        totals = epoch_sums.read_global()
        elapsed = time.perf_counter() - started
        metrics = broadcast(validate(engine, val_data, config, dtype, rank))
        metrics.update({"epoch": epoch, "train_loss": totals["loss"], "samples_per_s": totals["samples"] / elapsed,
                        "epoch_seconds": elapsed, "step": engine.global_steps, **learning_rates(engine)})
        state = {**state, "epoch": epoch, "global_step": engine.global_steps, "history": state["history"] + [metrics]}
        if progress is not None:
            progress.record(epoch, totals["loss"], metrics["samples_per_s"], epoch_end=True, epoch_seconds=elapsed,
                            val_loss=metrics["val_loss"], val_macro_f1_mean=metrics["val_macro_f1_mean"])
            if run is not None:
                run.log(metrics, step=engine.global_steps)
        with tempfile.TemporaryDirectory() as folder:
            engine.save_checkpoint(folder, tag=DS_TAG)  # a collective: every rank writes its shard
            if rank == 0:
                state["wandb_offline_dir"] = offline_run_dir(run)
                (Path(folder) / STATE_FILE).write_text(json.dumps(state))
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))
    if run is not None:
        run.summary.update(state["history"][-1] if state["history"] else {})
        run.finish()
