"""A SYNTHETIC interaction log: users, moods, sessions and feedback, in the store's format.

No real users. The output folder holds `synthetic-interactions.db` (an SQLite store
with the serving store's tables), `_SYNTHETIC.md` and `_summary.json`. The story was
fixed before any ranker was compared on it; never tune it to favour a ranker.

Generative story, with one RNG seeded by `seed`:
1. Users. Each has a taste over item kinds (Dirichlet(1) over KINDS), an intent
   habit (Dirichlet(0.5) over the intents), a mood style (`congruent`: wants content
   that matches their mood; `regulating`: wants content that lifts a bad mood; half
   each), and a starting emotion from the corpus prior.
2. Mood dynamics. Before each session the emotion persists with probability 0.6 and
   otherwise jumps to a draw from the prior. Within a session of 1-4 requests it
   persists with 0.85. Each request's intent is drawn from the user's habit.
3. Logging policy. With `policy="random"`, each request shows K=6 catalog items
   drawn uniformly at random (so offline evaluation of any ranker on this log is
   unbiased), in random order. With `policy="ab"`, users are split by the serving
   A/B hash into `control` (the affect ranker, congruent strategy) and `treatment`
   (the affect ranker, regulating strategy), each showing its top 6: a simulated
   online test for `mmei ab report`. With `policy="explore"`, every user gets the
   affect ranker (congruent) under ε-greedy slate exploration (platform/exploration.py,
   `epsilon`): the non-uniform, deployed-ranker log that off-policy evaluation
   (`mmei ranker ope`, `mmei bench ope`) has to correct for. Every policy logs each
   shown item's propensity: 1/n for the uniform draw, 1 for a deterministic top 6.
4. Examination. The user examines position p (0-based) with probability 0.9 / (1+p)^0.7
   (position bias).
5. Utility of an examined item: 1.2 · affect fit + 1.0 · affinity(item, intent) · 3
   + 1.0 · taste(kind) · len(KINDS) / 2 + N(0, 0.5). Affect fit is 1 when the item's
   target emotion equals the mood (congruent users), or is the item's entry in the
   regulation table for the mood (regulating users; platform.affect_ranker.REGULATION).
6. Feedback. A user gives feedback on an examined item when utility > 0.8 or with
   probability 0.15 otherwise. Engagement seconds are heavy-tailed: exp(3.2 + 0.6 ·
   utility + N(0, 0.7)). Satisfaction is round(2.2 + 1.1 · utility + N(0, 0.6)),
   clipped to 1-5.
7. Time. Requests are spread over `days` days from a fixed epoch (2026-01-01 UTC),
   so "held-out days" are a time split.
The recognised emotion and intent stored with each request are the true ones: this
log is about ranking, not recognition. The request's `strategy` column holds the
logging policy ("random"), never the user's latent mood style; the latent traits of
every user are written to `_users.json` for analysis only.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mmei.pipelines.sources.synthetic_catalog import KINDS
from mmei.platform.affect_ranker import REGULATION, AffectRanker, UserState, state_only_ranker
from mmei.platform.catalog import Item
from mmei.platform.experiments import Variant, assign_variant
from mmei.platform.exploration import explore_slate
from mmei.platform.labels import LabelSpaces
from mmei.platform.store import Store

EPOCH = 1767225600.0  # 2026-01-01T00:00:00Z
SHOWN = 6
DAY = 86400.0


@dataclass
class SimulatedUser:
    user_id: str
    taste: dict[str, float]
    habit: np.ndarray  # intent probabilities
    style: str  # congruent | regulating
    emotion: str


def emotion_prior(labels: LabelSpaces) -> np.ndarray:
    prior = np.array([0.2 if e == "neutral" else 0.8 / (len(labels.emotion) - 1) for e in labels.emotion])
    return prior / prior.sum()


def affect_fit(user: SimulatedUser, item: Item) -> float:
    if user.style == "congruent":
        return float(item.target_emotion == user.emotion)
    return REGULATION.get(user.emotion, {}).get(item.target_emotion, 0.0)


def mean_utility(user: SimulatedUser, intent: str, item: Item) -> float:
    return (1.2 * affect_fit(user, item) + 3.0 * item.intent_affinity.get(intent, 0.0)
            + user.taste.get(item.kind, 0.0) * len(KINDS) / 2)


def examined(position: int) -> float:
    """Step 4's position bias: the probability that position p (0-based) is looked at."""
    return 0.9 / (1 + position) ** 0.7


def utility(user: SimulatedUser, intent: str, item: Item, rng: np.random.Generator) -> float:
    return mean_utility(user, intent, item) + rng.normal(0, 0.5)


def expected_outcome(user: SimulatedUser, intent: str, item: Item) -> tuple[float, float]:
    """(satisfaction, engagement seconds) the story expects if the user engages with
    `item`, before noise: the simulated online metrics of an offline ranking."""
    value = mean_utility(user, intent, item)
    return float(np.clip(2.2 + 1.1 * value, 1, 5)), float(np.exp(3.2 + 0.6 * value + 0.7 ** 2 / 2))


_UTILITY_NOISE = np.linspace(-6, 6, 481)  # N(0, 0.5) utility noise, integrated on a grid in σ units
_UTILITY_WEIGHTS = np.exp(-_UTILITY_NOISE ** 2 / 2) / np.exp(-_UTILITY_NOISE ** 2 / 2).sum()


def expected_positive(user: SimulatedUser, intent: str, item: Item, position: int) -> float:
    """The story's probability that `item` at `position` earns a positive event (feedback
    with satisfaction ≥ 4; steps 4-6, noise integrated out): the truth that off-policy
    estimates are checked against."""
    from scipy.stats import norm

    value = mean_utility(user, intent, item) + 0.5 * _UTILITY_NOISE
    gives_feedback = np.where(value > 0.8, 1.0, 0.15)
    satisfied = norm.cdf((1.1 * value - 1.3) / 0.6)  # round(2.2 + 1.1 u + N(0, 0.6)) ≥ 4
    return examined(position) * float((_UTILITY_WEIGHTS * gives_feedback * satisfied).sum())


AB_ARMS = [Variant("control", 0.5, "congruent"), Variant("treatment", 0.5, "regulating")]
POLICIES = ("random", "ab", "explore")


def shown_items(policy: str, user: SimulatedUser, intent: str, items: list[Item], ranker: AffectRanker,
                rng: np.random.Generator, request_id: str = "", epsilon: float = 0.0
                ) -> tuple[str, str, list[Item], list[float]]:
    """(variant, strategy, items shown, each one's propensity) under the logging policy."""
    if policy == "random":
        chosen = [items[i] for i in rng.choice(len(items), SHOWN, replace=False)]
        return "logged-random", "random", chosen, [1.0 / len(items)] * SHOWN
    arm = Variant("logged-explore", 1.0, "congruent") if policy == "explore" else assign_variant(user.user_id, AB_ARMS)
    state = UserState({user.emotion: 1.0}, {intent: 1.0})
    ranked = [item_id for item_id, _ in ranker.top_k(state, [], arm.strategy, SHOWN)]
    slate = explore_slate(ranked, [item.item_id for item in items], epsilon if policy == "explore" else 0.0, request_id)
    return arm.name, arm.strategy, [items[ranker.index[item_id]] for item_id in slate.items], slate.propensities


def simulate(store: Store, items: list[Item], labels: LabelSpaces, users: int, days: int, seed: int,
             progress: Callable[[str], None] = print, policy: str = "random", epsilon: float = 0.1) -> dict[str, Any]:
    """`epsilon`: the exploration of `policy="explore"`."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    rng = np.random.default_rng(seed)
    ranker = state_only_ranker(items, labels)
    prior = emotion_prior(labels)
    population = [SimulatedUser(f"sim-user-{u:05d}", dict(zip(KINDS, rng.dirichlet(np.ones(len(KINDS))))),
                                rng.dirichlet(np.full(len(labels.intent), 0.5)),
                                "congruent" if rng.random() < 0.5 else "regulating",
                                labels.emotion[rng.choice(len(prior), p=prior)]) for u in range(users)]
    requests = events = 0
    for day in range(days):
        for user in population:
            for session in range(rng.poisson(1.2)):
                if rng.random() > 0.6:
                    user.emotion = labels.emotion[rng.choice(len(prior), p=prior)]
                start = EPOCH + day * DAY + rng.uniform(0, DAY - 3600)
                for step in range(int(rng.integers(1, 5))):
                    if step and rng.random() > 0.85:
                        user.emotion = labels.emotion[rng.choice(len(prior), p=prior)]
                    intent = labels.intent[rng.choice(len(labels.intent), p=user.habit)]
                    request_id = f"sim-{requests:07d}"
                    variant, strategy, shown, propensities = shown_items(policy, user, intent, items, ranker, rng,
                                                                         f"seed{seed}-{request_id}", epsilon)
                    moment = start + 60 * step + session
                    store.log_recommendation(request_id, user.user_id, variant, strategy,
                                             [item.item_id for item in shown], user.emotion, intent, moment,
                                             [item.item_id for item in shown if item.target_emotion == user.emotion],
                                             propensities)
                    requests += 1
                    for position, item in enumerate(shown):
                        if rng.random() > examined(position):
                            continue
                        value = utility(user, intent, item, rng)
                        if value <= 0.8 and rng.random() > 0.15:
                            continue
                        seconds = float(np.exp(3.2 + 0.6 * value + rng.normal(0, 0.7)))
                        satisfaction = int(np.clip(round(2.2 + 1.1 * value + rng.normal(0, 0.6)), 1, 5))
                        store.record_feedback(request_id, item.item_id, seconds, satisfaction, moment + 1 + position)
                        events += 1
        progress(f"day {day + 1}/{days}: {requests} requests, {events} feedback events so far")
    return {"users": users, "days": days, "seed": seed, "policy": policy,
            **({"epsilon": epsilon} if policy == "explore" else {}), "requests": requests,
            "feedback_events": events,
            "styles": {s: sum(u.style == s for u in population) for s in ("congruent", "regulating")},
            "synthetic": True, "population": population}


def load_population(out: Path) -> dict[str, SimulatedUser]:
    """The latent users `write_interactions` wrote to `_users.json` (emotion: a placeholder;
    each request's emotion is in the log)."""
    traits = json.loads((Path(out) / "_users.json").read_text())
    return {user_id: SimulatedUser(user_id, t["taste"], np.array(list(t["habit"].values())), t["style"], "neutral")
            for user_id, t in traits.items()}


def write_interactions(out: Path, items: list[Item], labels: LabelSpaces, users: int, days: int, seed: int,
                       progress: Callable[[str], None] = print, policy: str = "random",
                       epsilon: float = 0.1) -> dict[str, Any]:
    out = Path(out)
    database = out / "synthetic-interactions.db"
    if database.exists():
        raise FileExistsError(f"{database} exists; pick a new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{database.resolve()}")
    summary = simulate(store, items, labels, users, days, seed, progress, policy, epsilon)
    store.close()
    population = summary.pop("population")
    (out / "_users.json").write_text(json.dumps(  # the latent truth: for analysis, never a model input
        {u.user_id: {"style": u.style, "taste": u.taste, "habit": dict(zip(labels.intent, u.habit.tolist()))}
         for u in population}, indent=1))
    summary["store_url"] = f"sqlite:///{database.resolve()}"
    (out / "_summary.json").write_text(json.dumps(summary, indent=2))
    (out / "_SYNTHETIC.md").write_text(
        "# SYNTHETIC interactions\n\nGenerated by `mmei data simulate-interactions`; no real users. The generative\n"
        "story is the docstring of `pipelines/sources/interactions.py` and docs/recommender.md.\n")
    return summary
