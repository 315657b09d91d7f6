"""`mmei eval-ranker`: rankers compared on held-out days, over seeds, mean ± std.

Every held-out request with at least one positive feedback (satisfaction ≥ 4) is a
query; each system ranks the full catalog for that request's recognised state, and
the positives are the relevant items. Because the log's policy showed items
uniformly at random, this is an unbiased comparison of the systems' orderings.

Systems: random; popularity (positive feedback per item in the training days);
the learned ranker emotion-blind (uniform emotion input); the learned ranker
emotion-aware. Metrics: NDCG@10, Recall@10 and, when the SYNTHETIC simulator's
latent user traits are available (`_users.json` beside the store), the simulated
expected satisfaction and engagement of each system's top 10.

    OUTPUT/ranker_eval.md, ranker_eval.json, runs/<system>-seed<k>/ (ranker bundles)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mmei.pipelines.evaluate import mean_std
from mmei.pipelines.ranker_data import load_logged
from mmei.pipelines.sources.interactions import SimulatedUser, expected_outcome
from mmei.pipelines.train_ranker import train_ranker
from mmei.platform.catalog import Item
from mmei.platform.labels import LabelSpaces
from mmei.platform.ranker_bundle import LearnedRanker
from mmei.platform.store import Store
from mmei.platform.errors import UserInputError

K = 10
POSITIVE = 4


def ndcg_recall(scores: np.ndarray, relevant: set[int], k: int = K) -> tuple[float, float]:
    top = np.argsort(-scores, kind="stable")[:k]
    gains = [1.0 / np.log2(rank + 2) for rank, item in enumerate(top) if item in relevant]
    ideal = sum(1.0 / np.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return float(sum(gains) / ideal), float(len(set(top.tolist()) & relevant) / len(relevant))


def run_eval_ranker(store_url: str, output: Path, items: list[Item], labels: LabelSpaces, seeds: int = 3,
                    holdout_days: int = 2, epochs: int = 8, echo: Callable[[str], None] = print) -> dict[str, Any]:
    output = Path(output)
    store = Store(store_url, must_exist=True)
    logged = load_logged(store, holdout_days)
    index = {item.item_id: i for i, item in enumerate(items)}
    queries = []
    for request in logged.test:
        given = logged.feedback.get(request["request_id"], {})
        relevant = {index[i] for i, f in given.items() if f["satisfaction"] >= POSITIVE and i in index}
        if relevant and request["emotion"] and request["intent"]:
            queries.append((request, relevant))
    if not queries:
        raise UserInputError(f"no held-out request in the last {holdout_days} day(s) has positive feedback")
    users_file = Path(store_url.removeprefix("sqlite:///")).parent / "_users.json"
    users = json.loads(users_file.read_text()) if users_file.is_file() else None
    popularity = np.zeros(len(items))
    for request in logged.train:
        for item_id, f in logged.feedback.get(request["request_id"], {}).items():
            if f["satisfaction"] >= POSITIVE and item_id in index:
                popularity[index[item_id]] += 1
    echo(f"eval-ranker: {len(queries)} held-out queries, {seeds} seeds, catalog of {len(items)}")
    runs: dict[str, list[dict[str, float]]] = {s: [] for s in ("random", "popularity", "emotion-blind", "emotion-aware")}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        learned = {name: LearnedRanker(train_ranker(store_url, output / "runs" / f"{name}-seed{seed}", items, labels,
                                                    holdout_days, epochs, seed, blind, echo=lambda _: None), items)
                   for name, blind in (("emotion-blind", True), ("emotion-aware", False))}
        for system in runs:
            totals = {"ndcg@10": 0.0, "recall@10": 0.0, "sim_satisfaction@10": 0.0, "sim_engagement_s@10": 0.0}
            for request, relevant in queries:
                emotion = learned["emotion-aware"].features.one_hot("emotion", request["emotion"])
                intent = learned["emotion-aware"].features.one_hot("intent", request["intent"])
                if system == "random":
                    scores = rng.random(len(items))
                elif system == "popularity":
                    scores = popularity + rng.random(len(items)) * 1e-6  # random tie-break
                else:
                    scores = learned[system].score(emotion, intent)
                ndcg, recall = ndcg_recall(scores, relevant)
                totals["ndcg@10"] += ndcg
                totals["recall@10"] += recall
                if users is not None:
                    traits = users[request["user_id"]]
                    user = SimulatedUser(request["user_id"], traits["taste"], np.array(list(traits["habit"].values())),
                                         traits["style"], request["emotion"])
                    top = np.argsort(-scores, kind="stable")[:K]
                    outcomes = [expected_outcome(user, request["intent"], items[i]) for i in top]
                    totals["sim_satisfaction@10"] += float(np.mean([o[0] for o in outcomes]))
                    totals["sim_engagement_s@10"] += float(np.mean([o[1] for o in outcomes]))
            metrics = {name: value / len(queries) for name, value in totals.items()}
            if users is None:
                metrics = {k: v for k, v in metrics.items() if not k.startswith("sim_")}
            runs[system].append(metrics)
            echo(f"  seed {seed} {system}: NDCG@10 {metrics['ndcg@10']:.4f}, Recall@10 {metrics['recall@10']:.4f}")
    summary = {system: {metric: mean_std([r[metric] for r in results]) for metric in results[0]}
               for system, results in runs.items()}
    report = {"queries": len(queries), "seeds": seeds, "holdout_days": holdout_days, "summary": summary,
              "runs": runs, "synthetic": users is not None}
    output.mkdir(parents=True, exist_ok=True)
    (output / "ranker_eval.json").write_text(json.dumps(report, indent=2))
    metrics = list(next(iter(summary.values())))
    lines = [f"# Ranker evaluation: {len(queries)} held-out queries, last {holdout_days} days, {seeds} seeds",
             "", "| system | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for system, values in summary.items():
        lines.append(f"| {system} | " + " | ".join(f"{m:.4f} ± {s:.4f}" for m, s in values.values()) + " |")
    (output / "ranker_eval.md").write_text("\n".join(lines) + "\n")
    echo(f"table: {output / 'ranker_eval.md'}")
    return report
