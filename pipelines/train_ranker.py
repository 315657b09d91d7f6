"""`mmei ranker train`: the learned ranker trained with Ray Train on logged feedback.

The rows reach the workers as Ray Datasets: each worker reads its shard of the train
split with `get_dataset_shard` and of the val split for its MSE. Ray Train splits
every dataset into equal shards (`streaming_split(equal=True)`), so every rank runs
the same number of batches and DDP's all-reduce never waits on a rank that ran out;
the price is at most `workers - 1` rows per split left out, which ranker.json counts.
Each epoch ends with the val MSE; the epoch with the lowest is the one kept. With
`clip` (`--clip`), both MSEs weigh each row by its clipped inverse propensity
(pipelines/ranker_data.py), so on a deployed ranker's log they measure error over what
a uniform log would have held; off by default.

One run can train several rankers that differ only in their inputs
(platform/ranker_features.py), one after the other in the same worker group, on the
same requests, seed and shards: `mmei ranker eval` trains its ablations that way and
pays Ray Train's start-up (about 7 s here) once per seed instead of once per ranker.
Rank 0 reports one checkpoint with every ranker's kept weights; each becomes a bundle:

    OUTPUT/ranker.safetensors, OUTPUT/ranker.json (feature spec, labels, training facts)
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import ray.train
import torch
from ray.train import Checkpoint, RunConfig, ScalingConfig
from ray.train.torch import prepare_model
from safetensors.torch import load_file, save_file

from mmei.pipelines.ranker_data import LoggedData, load_logged, rows_dataset, split_validation, training_arrays
from mmei.pipelines.sources.synthetic_catalog import KINDS
from mmei.pipelines.stoppable_trainer import StoppableTorchTrainer
from mmei.platform.catalog import Item
from mmei.platform.errors import UserInputError
from mmei.platform.labels import LabelSpaces
from mmei.platform.models.ranker import RankerModel
from mmei.platform.ranker_bundle import WEIGHTS, save_ranker_bundle
from mmei.platform.ranker_features import RANKER_INPUTS, PairFeatures
from mmei.platform.store import Store

SELECTION = "selection.json"


def shard_mse(model: torch.nn.Module, shard, batch_size: int, optimizer=None, shuffle_seed: int | None = None) -> float:
    """One pass over this rank's shard (training when given an optimizer): the MSE over
    every rank's rows, summed with an all-reduce."""
    sums = torch.zeros(2)  # weighted squared error, weight
    batches = shard.iter_torch_batches(batch_size=batch_size, dtypes=torch.float32,
                                       local_shuffle_buffer_size=4 * batch_size if optimizer else None,
                                       local_shuffle_seed=shuffle_seed if optimizer else None)
    for batch in batches:
        weights = batch["weights"]
        with torch.set_grad_enabled(optimizer is not None):
            errors = ((model(batch["features"]) - batch["targets"]) ** 2).mean(dim=1)
            loss = (weights * errors).sum() / weights.sum().clamp(min=1e-12)
        if optimizer is not None:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        sums += torch.tensor([float((weights * errors).sum()), float(weights.sum())])
    if torch.distributed.is_initialized():
        torch.distributed.all_reduce(sums)
    return float(sums[0] / sums[1].clamp(min=1e-12))


def train_one(name: str, width: int, config: dict[str, Any], rank: int) -> dict[str, Any]:
    """Train the ranker `name` for every epoch; its epoch with the lowest val MSE, with weights."""
    torch.manual_seed(config["seed"])
    model = prepare_model(RankerModel(width))
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    train, val = ray.train.get_dataset_shard(f"train:{name}"), ray.train.get_dataset_shard(f"val:{name}")
    best: dict[str, Any] = {}
    for epoch in range(config["epochs"]):
        model.train()
        train_mse = shard_mse(model, train, config["batch_size"], optimizer, config["seed"] * 1000 + epoch * 10 + rank)
        model.eval()
        metrics = {"ranker": name, "epoch": epoch, "train_mse": train_mse,
                   "val_mse": shard_mse(model, val, config["batch_size"])}
        if not best or metrics["val_mse"] < best["val_mse"]:
            state = getattr(model, "module", model).state_dict()
            best = {**metrics, "state": {k: v.detach().clone() for k, v in state.items()}}
        ray.train.report(metrics)
    return best


def ranker_loop(config: dict[str, Any]) -> None:
    rank = ray.train.get_context().get_world_rank()
    kept = {name: train_one(name, width, config, rank) for name, width in config["rankers"].items()}
    if rank == 0:
        with tempfile.TemporaryDirectory() as folder:
            for name, best in kept.items():
                (Path(folder) / name).mkdir()
                save_file({k: v.contiguous() for k, v in best.pop("state").items()}, str(Path(folder) / name / WEIGHTS))
            (Path(folder) / SELECTION).write_text(json.dumps(kept))
            ray.train.report({"rankers": len(kept)}, checkpoint=Checkpoint.from_directory(folder))
    else:
        ray.train.report({"rankers": len(kept)})


def weighting_facts(weights: np.ndarray, clip: float | None) -> dict[str, Any]:
    """What ranker.json says about the inverse-propensity weights of the train rows."""
    flat = weights.astype(np.float64)
    return {"inverse_propensity": bool(np.ptp(flat) > 0) if len(flat) else False, "clip": clip,
            "effective_rows": float(flat.sum() ** 2 / max((flat ** 2).sum(), 1e-12)), "max_weight": float(flat.max(initial=0))}


def train_rankers(logged: LoggedData, outputs: dict[str, Path], items: list[Item], labels: LabelSpaces,
                  store_url: str, holdout_days: int = 2, epochs: int = 8, seed: int = 0, workers: int = 2,
                  val_fraction: float = 0.1, storage: Path | None = None, clip: float | None = None,
                  echo: Callable[[str], None] = print) -> dict[str, Path]:
    """`clip`: weigh rows by inverse propensity, clipped at this (None: every row weighs 1)."""
    """One Ray Train run: a ranker bundle per entry of `outputs` (inputs name → bundle folder)."""
    unknown = sorted(set(outputs) - set(RANKER_INPUTS))
    if unknown:
        raise UserInputError(f"ranker inputs must be among {sorted(RANKER_INPUTS)}, got {unknown}")
    train_requests, val_requests = split_validation(logged.train, val_fraction)
    datasets, facts = {}, {}
    for inputs in outputs:
        emotion_blind, history = RANKER_INPUTS[inputs]
        features = PairFeatures(items, labels, KINDS, history=history)
        (x, y, w), (val_x, val_y, val_w) = (training_arrays(requests, logged, features, items, emotion_blind, clip)
                                            for requests in (train_requests, val_requests))
        order = np.random.default_rng(seed).permutation(len(x))  # one global shuffle: shards mix every day
        datasets[f"train:{inputs}"] = rows_dataset(x[order], y[order], w[order])
        datasets[f"val:{inputs}"] = rows_dataset(val_x, val_y, val_w)
        facts[inputs] = {"width": features.width, "inputs": inputs, "emotion_blind": emotion_blind, "history": history,
                         "train_rows": len(x), "val_rows": len(val_x),
                         "weighting": weighting_facts(w, clip),
                         "rows_left_out_by_equal_shards": {"train": len(x) % workers, "val": len(val_x) % workers}}
    rows = next(iter(facts.values()))  # every variant has the same rows
    echo(f"ranker train: {rows['train_rows']} train and {rows['val_rows']} val (request, shown item) "
         f"rows from {len(train_requests)} + {len(val_requests)} requests; {len(logged.test)} requests of the last "
         f"{holdout_days} day(s) held out; {', '.join(outputs)}; seed {seed}")
    if rows["weighting"]["inverse_propensity"]:
        echo(f"ranker train: rows weighted by inverse propensity (clipped at {clip}): effective rows "
             f"{rows['weighting']['effective_rows']:.0f} of {rows['train_rows']}, largest weight "
             f"{rows['weighting']['max_weight']:.2f}")
    storage = Path(storage or next(iter(outputs.values())) / "ray").resolve()
    trainer = StoppableTorchTrainer(
        ranker_loop,
        train_loop_config={"rankers": {inputs: facts[inputs]["width"] for inputs in outputs}, "epochs": epochs,
                           "lr": 3e-3, "batch_size": 256, "seed": seed},
        scaling_config=ScalingConfig(num_workers=workers, resources_per_worker={"CPU": 0.5}),
        run_config=RunConfig(name="ranker", storage_path=str(storage)),
        datasets=datasets,
    )
    result = trainer.fit()
    bundles = {}
    with result.checkpoint.as_directory() as folder:
        selection = json.loads((Path(folder) / SELECTION).read_text())
        for inputs, output in outputs.items():
            best = selection[inputs]
            bundles[inputs] = save_ranker_bundle(load_file(str(Path(folder) / inputs / WEIGHTS)), Path(output), {
                "kinds": list(KINDS), "labels": labels.__dict__, **facts[inputs], "seed": seed, "store": store_url,
                "holdout_days": holdout_days, "epochs": epochs, "selected_epoch": best["epoch"],
                "val_mse": best["val_mse"], "train_mse": best["train_mse"]})
            echo(f"ranker bundle: {output} ({inputs}; epoch {best['epoch'] + 1} of {epochs}: "
                 f"val MSE {best['val_mse']:.4f})")
    return bundles


def train_ranker(store_url: str, output: Path, items: list[Item], labels: LabelSpaces, holdout_days: int = 2,
                 epochs: int = 8, seed: int = 0, inputs: str = "emotion-aware+history", workers: int = 2,
                 clip: float | None = None, echo: Callable[[str], None] = print) -> Path:
    """`mmei ranker train`: one ranker bundle at `output`."""
    logged = load_logged(Store(store_url, must_exist=True), holdout_days, items)
    return train_rankers(logged, {inputs: Path(output)}, items, labels, store_url, holdout_days, epochs, seed, workers,
                         clip=clip, echo=echo)[inputs]
