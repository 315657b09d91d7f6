"""The native system of `mmei bench train`: the Ray loop's training step launched by torchrun.

    python -m torch.distributed.run --nproc_per_node 2 -m mmei.cluster.bench_native_train \
        FEATURES CONFIG.json RESULT.json

Same model, rows, DeepSpeed config, optimizer and schedule as `train_loop.py`; what
it does not have is Ray: torchrun starts the processes, gloo joins them, and each
rank reads its equal share of the train split from the feature Parquet with pyarrow
and collates batches with the same `FeatureCollate` inside the timed epoch, as Ray
Data's `iter_torch_batches` does for the Ray loop. Rank 0 writes each epoch's
samples/s (every rank's samples over its epoch's wall time) to RESULT.json.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
import torch.distributed as dist

from mmei.pipelines.distributed import deepspeed_config, disable_cpu_jit_ops, steps_per_epoch
from mmei.pipelines.feature_dataset import FeatureCollate, read_manifest
from mmei.pipelines.recipe import make_optimizer, make_scheduler, parameter_groups
from mmei.pipelines.step_log import RunningSums
from mmei.platform.config import config_from_dict
from mmei.platform.loss import joint_loss
from mmei.platform.models.build import build_model


def rank_rows(features: Path, rank: int, world: int) -> dict[str, np.ndarray]:
    """This rank's equal share of the train split (the remainder left out, as Ray's equal split does)."""
    files = [str(features / name) for name in read_manifest(features)["outputs"]]
    table = pq.read_table(files)
    table = table.filter(pc.equal(table.column("split"), "train"))
    share = table.num_rows // world
    order = np.random.default_rng(0).permutation(table.num_rows)[rank * share:(rank + 1) * share]
    return {name: table.column(name).to_numpy(zero_copy_only=False)[order] for name in table.column_names}


def main(features: Path, config_path: Path, result_path: Path) -> None:
    torch.set_num_threads(1)  # as the Ray workers: one thread per worker
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    config = config_from_dict(json.loads(config_path.read_text()))
    train = config.train
    disable_cpu_jit_ops()
    import deepspeed  # after the op switch above

    rows = rank_rows(features, rank, world)
    count = len(rows["split"])
    total_steps = steps_per_epoch(train, count * world) * train.epochs
    torch.manual_seed(train.seed)
    model = build_model(config)
    engine, _, _, _ = deepspeed.initialize(
        model=model, model_parameters=parameter_groups(model, train), optimizer=make_optimizer(train, False),
        lr_scheduler=make_scheduler(train, total_steps), config=deepspeed_config(train))
    collate = FeatureCollate(config.features)
    rates = []
    for epoch in range(train.epochs):
        order = np.random.default_rng(train.seed * 1000 + epoch * 10 + rank).permutation(count)
        started, sums = time.perf_counter(), RunningSums(engine.device)
        engine.train()
        for start in range(0, count, train.batch_size):
            picked = order[start:start + train.batch_size]
            batch = collate({name: values[picked] for name, values in rows.items()})
            loss, _ = joint_loss(engine(batch), batch, train.score_weight)
            engine.backward(loss)
            engine.step()
            sums.add(loss, len(picked))
        totals = sums.read_global()
        rates.append(totals["samples"] / (time.perf_counter() - started))
    if rank == 0:
        result_path.write_text(json.dumps({"samples_per_s": rates, "rows_per_rank": count, "world": world}))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
