"""`mmei train-ranker`: the learned ranker trained with Ray Train on logged feedback.

A TorchTrainer with small CPU workers (DDP over gloo); each worker trains on its
slice of the rows. Rank 0 reports the final weights as a checkpoint, which becomes a
ranker bundle:

    OUTPUT/ranker.safetensors, OUTPUT/ranker.json (feature spec, labels, training facts)
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import ray.train
import torch
from ray.train import Checkpoint, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer, prepare_model
from safetensors.torch import load_file, save_file

from mmei.pipelines.ranker_data import load_logged, training_arrays
from mmei.pipelines.sources.synthetic_catalog import KINDS
from mmei.platform.catalog import Item
from mmei.platform.labels import LabelSpaces
from mmei.platform.models.ranker import RankerModel
from mmei.platform.ranker_bundle import WEIGHTS, save_ranker_bundle
from mmei.platform.ranker_features import PairFeatures
from mmei.platform.store import Store



def ranker_loop(config: dict[str, Any]) -> None:
    torch.manual_seed(config["seed"])
    rank, world = ray.train.get_context().get_world_rank(), ray.train.get_context().get_world_size()
    x = torch.tensor(config["x"][rank::world])  # a copy: the config arrays are read-only
    y = torch.tensor(config["y"][rank::world])
    model = prepare_model(RankerModel(x.shape[1]))
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    generator = torch.Generator().manual_seed(config["seed"] * 1000 + rank)
    for epoch in range(config["epochs"]):
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for start in range(0, len(x), config["batch_size"]):
            batch = order[start:start + config["batch_size"]]
            loss = torch.nn.functional.mse_loss(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss) * len(batch)
        metrics = {"epoch": epoch, "train_mse": total / max(1, len(x))}
        if epoch == config["epochs"] - 1 and rank == 0:
            with tempfile.TemporaryDirectory() as folder:
                state = getattr(model, "module", model).state_dict()
                save_file({k: v.contiguous() for k, v in state.items()}, str(Path(folder) / WEIGHTS))
                ray.train.report(metrics, checkpoint=Checkpoint.from_directory(folder))
        else:
            ray.train.report(metrics)


def train_ranker(store_url: str, output: Path, items: list[Item], labels: LabelSpaces, holdout_days: int = 2,
                 epochs: int = 8, seed: int = 0, emotion_blind: bool = False, workers: int = 2,
                 echo: Callable[[str], None] = print) -> Path:
    output = Path(output).resolve()
    logged = load_logged(Store(store_url, must_exist=True), holdout_days)
    features = PairFeatures(items, labels, KINDS)
    x, y = training_arrays(logged.train, logged.feedback, features, items, emotion_blind)
    echo(f"train-ranker: {len(x)} (request, shown item) rows from {len(logged.train)} requests; "
         f"{len(logged.test)} requests of the last {holdout_days} day(s) held out; "
         f"{'emotion-blind' if emotion_blind else 'emotion-aware'}, seed {seed}")
    trainer = TorchTrainer(
        ranker_loop,
        train_loop_config={"x": x, "y": y, "epochs": epochs, "lr": 3e-3, "batch_size": 256, "seed": seed},
        scaling_config=ScalingConfig(num_workers=workers, resources_per_worker={"CPU": 0.5}),
        run_config=RunConfig(name="ranker", storage_path=str(output / "ray")),
    )
    result = trainer.fit()
    with result.checkpoint.as_directory() as folder:
        state = load_file(str(Path(folder) / WEIGHTS))
    save_ranker_bundle(state, output, {
        "width": features.width, "kinds": list(KINDS), "labels": labels.__dict__, "emotion_blind": emotion_blind,
        "seed": seed, "store": store_url, "holdout_days": holdout_days, "train_rows": len(x),
        "final_train_mse": result.metrics["train_mse"]})
    echo(f"ranker bundle: {output} (train MSE {result.metrics['train_mse']:.4f})")
    return output
