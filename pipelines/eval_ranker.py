"""`mmei ranker eval`: rankers compared on held-out days, over seeds, paired by query.

Every held-out request with at least one positive feedback (satisfaction ≥ 4) is a
query; each system ranks the full catalog for that request's recognised state (and
the user's history as the log held it just before), and the positives are the
relevant items. That is an unbiased comparison of the systems' orderings only if the
log's policy showed items uniformly at random, so a log whose propensities say
otherwise (a deployed ranker's, exploring or not) is refused, with the way out: `mmei
ranker ope`, which corrects for the policy. Requests logged without propensities (an
older log) cannot be checked; their count is printed.

Systems: random; popularity (positive feedback per item in the training days); and
the learned ranker with each of its inputs (platform/ranker_features.py):
emotion-blind, emotion-aware, emotion-aware+history, trained per seed in one Ray
Train run on the same rows and shards. Metrics per query: NDCG@10,
Recall@10 and, when the SYNTHETIC simulator's latent user traits are available
(`_users.json` beside the store), the simulated expected satisfaction and engagement
of each system's top 10: the counterfactual outcome, far less noisy than NDCG on 6
randomly shown items.

The summary is mean ± std over seeds; `comparisons` pairs the learned rankers query
by query and seed by seed (platform/paired_stats.py): the difference, its 95%
interval from a bootstrap over users and seeds (a user's queries share their history,
so they are resampled together), a p-value and the smallest difference this many
users and seeds can detect.

    OUTPUT/ranker_eval.md, ranker_eval.json, runs/<system>-seed<k>/ (ranker bundles)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mmei.pipelines.evaluate import mean_std
from mmei.pipelines.ranker_data import LoggedData, load_logged
from mmei.pipelines.sources.interactions import SimulatedUser, expected_outcome
from mmei.pipelines.train_ranker import train_rankers
from mmei.platform.catalog import Item
from mmei.platform.errors import UserInputError
from mmei.platform.labels import LabelSpaces
from mmei.platform.paired_stats import paired_query_comparison
from mmei.platform.ranker_bundle import LearnedRanker
from mmei.platform.ranker_features import RANKER_INPUTS
from mmei.platform.store import Store

K = 10
POSITIVE = 4
SYSTEMS = ("random", "popularity", *RANKER_INPUTS)
PAIRS = (("emotion-aware+history", "emotion-blind"), ("emotion-aware+history", "emotion-aware"),
         ("emotion-aware", "emotion-blind"))


def ndcg_recall(scores: np.ndarray, relevant: set[int], k: int = K) -> tuple[float, float]:
    top = np.argsort(-scores, kind="stable")[:k]
    gains = [1.0 / np.log2(rank + 2) for rank, item in enumerate(top) if item in relevant]
    ideal = sum(1.0 / np.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return float(sum(gains) / ideal), float(len(set(top.tolist()) & relevant) / len(relevant))


def check_uniform_logging(requests: list[dict[str, Any]], catalog_size: int) -> int:
    """The number of requests without propensities; refuses a log whose propensities
    are not the uniform draw's 1/n."""
    uniform = 1.0 / catalog_size
    chosen = [r for r in requests
              if r["propensities"] is not None and not np.allclose(r["propensities"], uniform, rtol=1e-6, atol=0)]
    if chosen:
        raise UserInputError(f"{len(chosen)} of {len(requests)} logged requests were not shown uniformly at random "
                             f"(request {chosen[0]['request_id']}: propensities {chosen[0]['propensities'][:3]}..., "
                             f"uniform is {uniform:.4g}); held-out ranking metrics on such a log favour the policy that "
                             f"chose it. Estimate a candidate off-policy instead: mmei ranker ope")
    return sum(r["propensities"] is None for r in requests)


def held_out_queries(logged: LoggedData, index: dict[str, int]) -> list[tuple[dict[str, Any], set[int]]]:
    queries = []
    for request in logged.test:
        given = logged.feedback.get(request["request_id"], {})
        relevant = {index[i] for i, f in given.items() if f["satisfaction"] >= POSITIVE and i in index}
        if relevant and request["emotion"] and request["intent"]:
            queries.append((request, relevant))
    return queries


def popularity_scores(logged: LoggedData, index: dict[str, int]) -> np.ndarray:
    popularity = np.zeros(len(index))
    for request in logged.train:
        for item_id, f in logged.feedback.get(request["request_id"], {}).items():
            if f["satisfaction"] >= POSITIVE and item_id in index:
                popularity[index[item_id]] += 1
    return popularity


def query_metrics(scores: np.ndarray, relevant: set[int], request: dict[str, Any], items: list[Item],
                  users: dict[str, Any] | None) -> dict[str, float]:
    ndcg, recall = ndcg_recall(scores, relevant)
    metrics = {"ndcg@10": ndcg, "recall@10": recall}
    if users is not None:
        traits = users[request["user_id"]]
        user = SimulatedUser(request["user_id"], traits["taste"], np.array(list(traits["habit"].values())),
                             traits["style"], request["emotion"])
        outcomes = [expected_outcome(user, request["intent"], items[i]) for i in np.argsort(-scores, kind="stable")[:K]]
        metrics["sim_satisfaction@10"] = float(np.mean([o[0] for o in outcomes]))
        metrics["sim_engagement_s@10"] = float(np.mean([o[1] for o in outcomes]))
    return metrics


def run_eval_ranker(store_url: str, output: Path, items: list[Item], labels: LabelSpaces, seeds: int = 3,
                    holdout_days: int = 2, epochs: int = 8, echo: Callable[[str], None] = print) -> dict[str, Any]:
    output = Path(output)
    logged = load_logged(Store(store_url, must_exist=True), holdout_days, items)
    unchecked = check_uniform_logging(logged.train + logged.test, len(items))
    if unchecked:
        echo(f"ranker eval: {unchecked} logged requests carry no propensities; that their policy was uniform is "
             f"assumed, not checked")
    index = {item.item_id: i for i, item in enumerate(items)}
    queries = held_out_queries(logged, index)
    if not queries:
        raise UserInputError(f"no held-out request in the last {holdout_days} day(s) has positive feedback")
    users_file = Path(store_url.removeprefix("sqlite:///")).parent / "_users.json"
    users = json.loads(users_file.read_text()) if users_file.is_file() else None
    popularity = popularity_scores(logged, index)
    echo(f"ranker eval: {len(queries)} held-out queries, {seeds} seeds, catalog of {len(items)}")
    per_query: dict[str, list[dict[str, np.ndarray]]] = {system: [] for system in SYSTEMS}  # [seed][metric] (Q,)
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        echo(f"  seed {seed}: training {', '.join(RANKER_INPUTS)} in one Ray Train run")
        bundles = train_rankers(logged, {inputs: output / "runs" / f"{inputs}-seed{seed}" for inputs in RANKER_INPUTS},
                                items, labels, store_url, holdout_days, epochs, seed,
                                storage=output / "runs" / f"ray-seed{seed}", echo=lambda _: None)
        learned = {inputs: LearnedRanker(folder, items) for inputs, folder in bundles.items()}
        one_hot = next(iter(learned.values())).features.one_hot
        for system in SYSTEMS:
            rows = []
            for request, relevant in queries:
                if system == "random":
                    scores = rng.random(len(items))
                elif system == "popularity":
                    scores = popularity + rng.random(len(items)) * 1e-6  # random tie-break
                else:
                    scores = learned[system].score(one_hot("emotion", request["emotion"]),
                                                   one_hot("intent", request["intent"]),
                                                   logged.histories[request["request_id"]])
                rows.append(query_metrics(scores, relevant, request, items, users))
            per_query[system].append({metric: np.array([row[metric] for row in rows]) for metric in rows[0]})
            means = {metric: values.mean() for metric, values in per_query[system][-1].items()}
            echo(f"  seed {seed} {system}: " + ", ".join(f"{metric} {value:.4f}" for metric, value in means.items()))
    metrics = list(per_query["random"][0])
    summary = {system: {metric: mean_std([float(run[metric].mean()) for run in runs]) for metric in metrics}
               for system, runs in per_query.items()}
    users_of = np.array([request["user_id"] for request, _ in queries])  # the bootstrap resamples users
    comparisons = {f"{a} vs {b}": {metric: paired_query_comparison(np.stack([run[metric] for run in per_query[a]]),
                                                                   np.stack([run[metric] for run in per_query[b]]),
                                                                   users_of)
                                   for metric in metrics}
                   for a, b in PAIRS}
    report = {"queries": len(queries), "seeds": seeds, "holdout_days": holdout_days, "epochs": epochs,
              "summary": summary, "comparisons": comparisons,
              "runs": {system: [{m: float(v.mean()) for m, v in run.items()} for run in runs]
                       for system, runs in per_query.items()},
              "synthetic": users is not None}
    output.mkdir(parents=True, exist_ok=True)
    (output / "ranker_eval.json").write_text(json.dumps(report, indent=2))
    (output / "ranker_eval.md").write_text(report_markdown(report, metrics))
    for pair, by_metric in comparisons.items():
        headline = by_metric["sim_satisfaction@10" if users is not None else "ndcg@10"]
        low, high = headline["paired_difference_ci"]
        echo(f"  {pair}: {'sim_satisfaction@10' if users is not None else 'ndcg@10'} "
             f"{headline['paired_difference']:+.4f} [{low:+.4f}, {high:+.4f}], p={headline['paired_p_value']:.3g}")
    echo(f"table: {output / 'ranker_eval.md'}")
    return report


def report_markdown(report: dict[str, Any], metrics: list[str]) -> str:
    lines = [f"# Ranker evaluation: {report['queries']} held-out queries, last {report['holdout_days']} days, "
             f"{report['seeds']} seeds", "", "| system | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for system, values in report["summary"].items():
        lines.append(f"| {system} | " + " | ".join(f"{m:.4f} ± {s:.4f}" for m, s in values.values()) + " |")
    lines += ["", "## Paired by query and seed: difference [95% CI, bootstrap over users and seeds], p, "
              "minimum detectable difference", "",
              "| comparison | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for pair, by_metric in report["comparisons"].items():
        cells = [f"{c['paired_difference']:+.4f} [{c['paired_difference_ci'][0]:+.4f}, {c['paired_difference_ci'][1]:+.4f}]"
                 f", p={c['paired_p_value']:.3g}, MDD {c['min_detectable_difference']:.4f}"
                 for c in by_metric.values()]
        lines.append(f"| {pair} | " + " | ".join(cells) + " |")
    if report["synthetic"]:
        lines += ["", "SYNTHETIC log: the sim_ metrics use the simulator's latent user traits."]
    return "\n".join(lines) + "\n"
