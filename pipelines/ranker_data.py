"""Logged feedback → the learned ranker's training rows, split by day.

Every shown item of every logged request is a row: its (recognised state, item)
features, the satisfaction it earned (0 without feedback) and log(1 + engagement
seconds). The last `holdout_days` days are held out for evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mmei.platform.catalog import Item
from mmei.platform.ranker_features import PairFeatures
from mmei.platform.store import Store
from mmei.platform.errors import UserInputError

DAY = 86400.0


@dataclass
class LoggedData:
    train: list[dict[str, Any]]  # requests of the training days
    test: list[dict[str, Any]]  # requests of the held-out days
    feedback: dict[str, dict[str, dict[str, float]]]  # request_id → item_id → {satisfaction, engagement_seconds}


def load_logged(store: Store, holdout_days: int) -> LoggedData:
    served = store.served()
    if not served:
        raise UserInputError(f"{store.url} holds no logged recommendations")
    first = served[0]["created_at"]
    days = [int((r["created_at"] - first) // DAY) for r in served]
    cut = max(days) + 1 - holdout_days
    if cut < 1:
        raise UserInputError(f"the log spans {max(days) + 1} day(s); holding out {holdout_days} leaves none to train on")
    feedback: dict[str, dict[str, dict[str, float]]] = {}
    for event in store.feedback_events():
        feedback.setdefault(event["request_id"], {})[event["item_id"]] = {
            "satisfaction": float(event["satisfaction"]), "engagement_seconds": float(event["engagement_seconds"])}
    return LoggedData([r for r, d in zip(served, days) if d < cut], [r for r, d in zip(served, days) if d >= cut],
                      feedback)


def training_arrays(requests: list[dict[str, Any]], feedback: dict, features: PairFeatures, items: list[Item],
                    emotion_blind: bool) -> tuple[np.ndarray, np.ndarray]:
    index = {item.item_id: i for i, item in enumerate(items)}
    xs, ys = [], []
    for request in requests:
        shown = [index[i] for i in request["items"] if i in index]
        if not shown or request["emotion"] is None or request["intent"] is None:
            continue
        state = (features.one_hot("emotion", request["emotion"]), features.one_hot("intent", request["intent"]))
        xs.append(features(*state, np.array(shown), emotion_blind=emotion_blind))
        given = feedback.get(request["request_id"], {})
        ys.append(np.array([[given.get(items[i].item_id, {}).get("satisfaction", 0.0),
                             np.log1p(given.get(items[i].item_id, {}).get("engagement_seconds", 0.0))]
                            for i in shown], np.float32))
    if not xs:
        raise UserInputError("no logged request with a recognised emotion and intent to train on")
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)
