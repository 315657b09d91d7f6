"""`mmei bench ope`: off-policy estimates checked against the simulator's truth.

For each log size and each seed, the SYNTHETIC simulator (pipelines/sources/
interactions.py) logs a week from a non-uniform deployed policy: the congruent affect
ranker under ε-greedy slate exploration, propensities logged. Each estimator then
estimates a different candidate, the regulating affect ranker, from that log alone.
The truth is the candidate's expected positive events per slate on the same logged
contexts, computed from the story with its noise integrated out
(`expected_positive`), so no estimator sees it.

Per log size, one line of means over seeds: the truth, each estimate, the mean
absolute error of naive replay, SNIPS and DR, and each interval's coverage (the share
of seeds whose 95% interval holds the truth).
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mmei.pipelines.off_policy_eval import load_slates, slate_log, strategy_candidate
from mmei.pipelines.sources.interactions import SimulatedUser, expected_positive, simulate
from mmei.platform.catalog import Item
from mmei.platform.labels import LabelSpaces
from mmei.platform.off_policy import estimate
from mmei.platform.store import Store

LOGGER, CANDIDATE = "congruent", "regulating"
SHOWN = ("naive", "ips", "snips", "dr")


def candidate_truth(requests: list[dict[str, Any]], chosen: list[list[int]], population: dict[str, SimulatedUser],
                    items: list[Item]) -> float:
    """The candidate's expected positive events per slate, on these contexts."""
    total = 0.0
    for request, slate in zip(requests, chosen):
        traits = population[request["user_id"]]
        user = SimulatedUser(traits.user_id, traits.taste, traits.habit, traits.style, request["emotion"])
        total += sum(expected_positive(user, request["intent"], items[i], p) for p, i in enumerate(slate))
    return total / len(requests)


def one_seed(items: list[Item], labels: LabelSpaces, users: int, days: int, seed: int, epsilon: float,
             folder: Path) -> dict[str, Any]:
    store = Store(f"sqlite:///{folder / f'log-{users}-{seed}.db'}")
    summary = simulate(store, items, labels, users, days, seed, progress=lambda _: None, policy="explore",
                       epsilon=epsilon)
    logged = load_slates(store, items)
    store.close()
    log, chosen = slate_log(logged, strategy_candidate(items, labels, CANDIDATE), items, labels)
    report = estimate(log, resamples=1000, seed=seed)
    truth = candidate_truth(logged.requests, chosen, {u.user_id: u for u in summary["population"]}, items)
    return {"seed": seed, "requests": report.requests, "truth": truth,
            "estimates": {name: (e.value, e.ci95) for name, e in report.estimates.items()},
            "ess": report.effective_sample_size, "max_weight": report.max_weight}


def summarise(runs: list[dict[str, Any]]) -> dict[str, float]:
    truth = np.array([run["truth"] for run in runs])
    out: dict[str, float] = {"truth": float(truth.mean()),
                             "logged": float(np.mean([run["estimates"]["logged"][0] for run in runs]))}
    for name in SHOWN:
        values = np.array([run["estimates"][name][0] for run in runs])
        lows = np.array([run["estimates"][name][1][0] for run in runs])
        highs = np.array([run["estimates"][name][1][1] for run in runs])
        out[name] = float(values.mean())
        out[f"mae_{name}"] = float(np.abs(values - truth).mean())
        out[f"coverage_{name}"] = float(((lows <= truth) & (truth <= highs)).mean())
    out["ess"] = float(np.mean([run["ess"] for run in runs]))
    out["requests"] = float(np.mean([run["requests"] for run in runs]))
    return out


def bench_line(users: int, s: dict[str, float]) -> str:
    return (f"bench ope: users={users} requests={s['requests']:.0f} truth={s['truth']:.4f} naive={s['naive']:.4f} "
            f"ips={s['ips']:.4f} snips={s['snips']:.4f} dr={s['dr']:.4f} mae_naive={s['mae_naive']:.4f} "
            f"mae_ips={s['mae_ips']:.4f} mae_snips={s['mae_snips']:.4f} mae_dr={s['mae_dr']:.4f} "
            f"coverage_ips={s['coverage_ips']:.2f} coverage_snips={s['coverage_snips']:.2f} "
            f"coverage_dr={s['coverage_dr']:.2f}")


def run_bench(items: list[Item], labels: LabelSpaces, output: Path | None = None, sizes: tuple[int, ...] = (100, 400),
              seeds: int = 10, days: int = 7, epsilon: float = 0.2) -> dict[str, Any]:
    if seeds < 1 or not sizes or min(sizes) < 2:
        raise ValueError("--seeds must be >= 1 and every --users >= 2")
    say = lambda message: print(f"bench ope: {message}", flush=True)  # noqa: E731
    say(f"SYNTHETIC logs: {days} days from the {LOGGER} affect ranker with epsilon={epsilon} exploration; candidate: "
        f"the {CANDIDATE} affect ranker; reward: positive events (satisfaction >= 4) per slate; {seeds} seeds per size")
    results: dict[str, Any] = {"logger": LOGGER, "candidate": CANDIDATE, "epsilon": epsilon, "days": days,
                               "seeds": seeds, "synthetic": True, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="mmei-bench-ope-") as folder:
        for users in sizes:
            started = time.perf_counter()
            runs = []
            for seed in range(seeds):
                runs.append(one_seed(items, labels, users, days, seed, epsilon, Path(folder)))
                say(f"{users} users, seed {seed + 1}/{seeds}: truth {runs[-1]['truth']:.4f}, dr "
                    f"{runs[-1]['estimates']['dr'][0]:.4f}, snips {runs[-1]['estimates']['snips'][0]:.4f}, naive "
                    f"{runs[-1]['estimates']['naive'][0]:.4f} ({time.perf_counter() - started:.0f}s)")
            results["sizes"][str(users)] = {"summary": summarise(runs), "runs": runs}
    for users in sizes:
        print(bench_line(users, results["sizes"][str(users)]["summary"]), flush=True)
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        (output / "bench_ope.json").write_text(json.dumps(results, indent=2))
    return results
