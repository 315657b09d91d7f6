"""Logged feedback → the learned ranker's rows, split by time, as Ray Datasets.

Every shown item of every logged request is a row: its (recognised state, item,
user history) features, the satisfaction it earned (0 without feedback) and
log(1 + engagement seconds), and a weight. With `clip` given, on a log with
propensities, the weight is the item's inverse propensity relative to the uniform draw,
(1/n) / π0(item at its position), clipped at `clip`: the rows then count as if every
item had been shown uniformly at every position. Off by default: on the simulator's
exploring log it cost more in variance (the greedy rows, most of the log, weigh ~1/n)
than it removed in bias (docs/off-policy.md). Rows without propensities, a uniform
log's, and every row with `clip=None`, weigh 1. Splits, oldest to newest:
- train: the training days' requests but the last `val_fraction` of them;
- val: those last ones (the loop reports its MSE each epoch);
- test: the last `holdout_days` days, for `mmei ranker eval`.
Each request's history is what the log held before it (platform/user_history.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import ray.data
from ray.data.extensions import ArrowTensorArray

from mmei.platform.catalog import Item
from mmei.platform.errors import UserInputError
from mmei.platform.ranker_features import PairFeatures
from mmei.platform.store import Store
from mmei.platform.user_history import replay

DAY = 86400.0


@dataclass
class LoggedData:
    train: list[dict[str, Any]]  # requests of the training days, oldest first
    test: list[dict[str, Any]]  # requests of the held-out days
    feedback: dict[str, dict[str, dict[str, float]]]  # request_id → item_id → {satisfaction, engagement_seconds}
    histories: dict[str, np.ndarray]  # request_id → the user's history vector just before it


def feedback_by_request(events: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """request_id → item_id → {satisfaction, engagement_seconds}."""
    feedback: dict[str, dict[str, dict[str, float]]] = {}
    for event in events:
        feedback.setdefault(event["request_id"], {})[event["item_id"]] = {
            "satisfaction": float(event["satisfaction"]), "engagement_seconds": float(event["engagement_seconds"])}
    return feedback


def load_logged(store: Store, holdout_days: int, items: list[Item]) -> LoggedData:
    served = store.served()
    if not served:
        raise UserInputError(f"{store.url} holds no logged recommendations")
    first = served[0]["created_at"]
    days = [int((r["created_at"] - first) // DAY) for r in served]
    cut = max(days) + 1 - holdout_days
    if cut < 1:
        raise UserInputError(f"the log spans {max(days) + 1} day(s); holding out {holdout_days} leaves none to train on")
    events = store.feedback_events()
    feedback = feedback_by_request(events)
    histories, _ = replay(served, events, {item.item_id: item.target_emotion for item in items})
    return LoggedData([r for r, d in zip(served, days) if d < cut], [r for r, d in zip(served, days) if d >= cut],
                      feedback, histories)


def inverse_propensity_weights(request: dict[str, Any], shown: int, catalog_size: int, clip: float | None) -> np.ndarray:
    """(shown,) weights of a request's rows: (1/n) / π0 clipped at `clip`; 1 without
    propensities or without `clip` (weighting off)."""
    if clip is None or request.get("propensities") is None:
        return np.ones(shown, np.float32)
    weights = (1.0 / catalog_size) / np.asarray(request["propensities"][:shown], np.float64)
    return np.minimum(weights, clip).astype(np.float32)


def training_arrays(requests: list[dict[str, Any]], logged: LoggedData, features: PairFeatures, items: list[Item],
                    emotion_blind: bool, clip: float | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, targets, weights) of every shown item of `requests`."""
    index = {item.item_id: i for i, item in enumerate(items)}
    xs, ys, ws = [], [], []
    for request in requests:
        known = [(p, index[i]) for p, i in enumerate(request["items"]) if i in index]
        shown = [i for _, i in known]
        if not shown or request["emotion"] is None or request["intent"] is None:
            continue
        weights = inverse_propensity_weights(request, len(request["items"]), len(items), clip)
        ws.append(weights[[p for p, _ in known]])
        state = (features.one_hot("emotion", request["emotion"]), features.one_hot("intent", request["intent"]))
        xs.append(features(*state, np.array(shown), emotion_blind=emotion_blind,
                           history=logged.histories[request["request_id"]]))
        given = logged.feedback.get(request["request_id"], {})
        ys.append(np.array([[given.get(items[i].item_id, {}).get("satisfaction", 0.0),
                             np.log1p(given.get(items[i].item_id, {}).get("engagement_seconds", 0.0))]
                            for i in shown], np.float32))
    if not xs:
        raise UserInputError("no logged request with a recognised emotion and intent to train on")
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys), np.concatenate(ws)


def split_validation(requests: list[dict[str, Any]], val_fraction: float) -> tuple[list, list]:
    """(train, val): the newest `val_fraction` of the requests validate, as the held-out days test."""
    if not 0 < val_fraction < 1:
        raise UserInputError(f"val_fraction must be in (0, 1), got {val_fraction}")
    cut = len(requests) - max(1, round(len(requests) * val_fraction))
    if cut < 1:
        raise UserInputError(f"{len(requests)} training request(s) are too few to hold out a validation split")
    return requests[:cut], requests[cut:]


def rows_dataset(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> ray.data.Dataset:
    """Features, targets and row weights as a Ray Dataset of fixed-shape tensor columns."""
    return ray.data.from_arrow(pa.table({"features": ArrowTensorArray.from_numpy(x),
                                         "targets": ArrowTensorArray.from_numpy(y),
                                         "weights": pa.array(weights.astype(np.float32))}))
