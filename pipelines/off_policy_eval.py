"""`mmei ranker ope`: what a candidate ranker would earn, estimated from a log that
another policy chose, before any A/B test.

Every logged request with propensities is one slate: its recognised state, the items
shown at each position, their logged propensities and their rewards (0 without
feedback). The candidate ranks the whole catalog for the same state (and the user's
history as the log held it just before), and its top K is a deterministic slate, so
π1(logged item at p) is 1 where it puts that item at p and 0 elsewhere. The
estimators are platform/off_policy.py's; their slate assumption is stated there.

Rewards, as the A/B report defines them: `positive` (an event with satisfaction ≥ 4)
and `engagement` (seconds). Requests logged without propensities (an older log, or
one written before exploration was on) are counted and left out, never guessed.

DR's reward model is a logistic (positive) or ridge (engagement) regression on
position, item, recognised emotion × the item's target emotion, the item's affinity to
the recognised intent (per intent) and recognised intent × the item's kind; cross-fitted: each half of the users is predicted by the model
fitted on the other half, so no slate's reward is predicted by a model that saw it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mmei.pipelines.ranker_data import DAY, feedback_by_request
from mmei.platform.affect_ranker import UserState, state_only_ranker, top_indices
from mmei.platform.catalog import Item
from mmei.platform.errors import UserInputError
from mmei.platform.labels import LabelSpaces
from mmei.platform.off_policy import OffPolicyReport, SlateLog, estimate
from mmei.platform.ranker_bundle import LearnedRanker
from mmei.platform.store import Store
from mmei.platform.user_history import replay

POSITIVE = 4
REWARDS = ("positive", "engagement")


@dataclass
class LoggedSlates:
    requests: list[dict[str, Any]]  # with propensities, a recognised emotion and intent, oldest first
    feedback: dict[str, dict[str, dict[str, float]]]  # request_id → item_id → {satisfaction, engagement_seconds}
    histories: dict[str, np.ndarray]  # request_id → the user's history vector just before it
    without_propensities: int
    without_state: int
    outside_catalog: int  # requests that showed an item the catalog no longer has


def load_slates(store: Store, items: list[Item], days: int | None = None) -> LoggedSlates:
    """The log's slates, of its last `days` days (all of them by default)."""
    served = store.served()
    events = store.feedback_events()
    histories, _ = replay(served, events, {item.item_id: item.target_emotion for item in items})
    since = served[-1]["created_at"] - days * DAY if served and days is not None else None
    window = [r for r in served if since is None or r["created_at"] >= since]
    if not window:
        raise UserInputError(f"{store.url} holds no logged recommendation in the window")
    with_propensities = [r for r in window if r["propensities"] is not None]
    with_state = [r for r in with_propensities if r["emotion"] is not None and r["intent"] is not None]
    known = {item.item_id for item in items}
    usable = [r for r in with_state if all(i in known for i in r["items"])]
    return LoggedSlates(usable, feedback_by_request(events), histories, len(window) - len(with_propensities),
                        len(with_propensities) - len(with_state), len(with_state) - len(usable))


Ranking = Callable[[dict[str, Any], np.ndarray], np.ndarray]  # (request, history) → every item's score


def strategy_candidate(items: list[Item], labels: LabelSpaces, strategy: str) -> Ranking:
    """The affect ranker on the recognised state alone (no text, no profile)."""
    ranker = state_only_ranker(items, labels)
    return lambda request, _history: ranker.score(UserState({request["emotion"]: 1.0}, {request["intent"]: 1.0}), [],
                                                  strategy)


def bundle_candidate(folder: Path, items: list[Item]) -> Ranking:
    ranker = LearnedRanker(folder, items)
    one_hot = ranker.features.one_hot
    return lambda request, history: ranker.score(one_hot("emotion", request["emotion"]),
                                                 one_hot("intent", request["intent"]), history)


def reward_of(given: dict[str, float] | None, reward: str) -> float:
    if given is None:
        return 0.0
    if reward == "positive":
        return float(given["satisfaction"] >= POSITIVE)
    return given["engagement_seconds"]


class RewardFeatures:
    """(request, item, position) → a sparse-enough dense row for the DR reward model."""

    def __init__(self, items: list[Item], labels: LabelSpaces, positions: int):
        self.items, self.positions = items, positions
        self.emotions = {e: i for i, e in enumerate(labels.emotion)}
        self.intents = {e: i for i, e in enumerate(labels.intent)}
        kinds = sorted({item.kind for item in items})
        self.kind_of = np.array([kinds.index(item.kind) for item in items])
        self.target_of = np.array([self.emotions.get(item.target_emotion, -1) for item in items])
        self.kinds = len(kinds)
        self.affinity = np.array([[item.intent_affinity.get(intent, 0.0) for intent in labels.intent] for item in items])
        self.width = positions + len(items) + len(self.emotions) ** 2 + 2 * len(self.intents) * self.kinds

    def __call__(self, request: dict[str, Any], item_indices: np.ndarray) -> np.ndarray:
        rows = np.zeros((len(item_indices), self.width), np.float32)
        k = np.arange(len(item_indices))
        rows[k, k] = 1.0  # position p
        offset = self.positions
        rows[k, offset + item_indices] = 1.0
        offset += len(self.items)
        emotion, targets = self.emotions[request["emotion"]], self.target_of[item_indices]
        known = targets >= 0
        rows[k[known], offset + emotion * len(self.emotions) + targets[known]] = 1.0
        offset += len(self.emotions) ** 2
        intent = self.intents[request["intent"]]
        rows[k, offset + intent * self.kinds + self.kind_of[item_indices]] = 1.0
        offset += len(self.intents) * self.kinds
        rows[k, offset + intent * self.kinds + self.kind_of[item_indices]] = self.affinity[item_indices, intent]
        return rows


def fit_reward_model(x: np.ndarray, y: np.ndarray, reward: str):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if reward == "positive":
        if len(np.unique(y)) < 2:
            constant = float(y[0]) if len(y) else 0.0
            return lambda rows: np.full(len(rows), constant)
        model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=0).fit(x, y)
        return lambda rows: model.predict_proba(rows)[:, 1]
    model = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.1, random_state=0).fit(x, y)
    return lambda rows: model.predict(rows)


def user_fold(user_id: str) -> int:
    return hashlib.sha256(user_id.encode()).digest()[0] % 2


def slate_log(logged: LoggedSlates, candidate: Ranking, items: list[Item], labels: LabelSpaces,
              reward: str = "positive") -> tuple[SlateLog, list[list[int]]]:
    """The SlateLog of `candidate` on `logged`, and the candidate's slate for each request."""
    if reward not in REWARDS:
        raise UserInputError(f"reward must be one of {REWARDS}, got {reward!r}")
    if not logged.requests:
        raise UserInputError("no logged request carries propensities and a recognised state: nothing to estimate "
                             f"from ({logged.without_propensities} without propensities)")
    index = {item.item_id: i for i, item in enumerate(items)}
    k = max(len(r["items"]) for r in logged.requests)
    n = len(logged.requests)
    propensity, rewards, target = np.ones((n, k)), np.zeros((n, k)), np.zeros((n, k))
    features = RewardFeatures(items, labels, k)
    shown_rows, chosen_rows, chosen = [], [], []
    for row, request in enumerate(logged.requests):
        shown = np.array([index[i] for i in request["items"]])
        slate = top_indices(candidate(request, logged.histories[request["request_id"]]), len(shown))
        chosen.append(slate.tolist())
        given = logged.feedback.get(request["request_id"], {})
        width = len(shown)
        propensity[row, :width] = request["propensities"]
        rewards[row, :width] = [reward_of(given.get(items[i].item_id), reward) for i in shown]
        target[row, :width] = shown == slate
        shown_rows.append(features(request, shown))
        chosen_rows.append(features(request, slate))
    folds = np.array([user_fold(r["user_id"]) for r in logged.requests])
    q_logged, q_target = np.zeros((n, k)), np.zeros((n, k))
    for fold in (0, 1):
        train = np.flatnonzero(folds != fold)
        test = np.flatnonzero(folds == fold)
        if not len(test) or not len(train):  # every user in one fold: no out-of-fold model, DR is IPS (q̂ = 0)
            continue
        model = fit_reward_model(np.concatenate([shown_rows[i] for i in train]),
                                 np.concatenate([rewards[i, :len(shown_rows[i])] for i in train]), reward)
        for i in test:
            width = len(shown_rows[i])
            q_logged[i, :width] = model(shown_rows[i])
            q_target[i, :width] = model(chosen_rows[i])
    users = np.array([r["user_id"] for r in logged.requests])
    return SlateLog(users, propensity, rewards, target, q_logged, q_target), chosen


def run_ope(store_url: str, candidate: Ranking, candidate_name: str, output: Path, items: list[Item],
            labels: LabelSpaces, reward: str = "positive", clip: float | None = None, days: int | None = None,
            echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Estimates over the last `days` days of the log (all of it by default), written
    to OUTPUT/ope.md and ope.json."""
    logged = load_slates(Store(store_url, must_exist=True), items, days)
    log, _ = slate_log(logged, candidate, items, labels, reward)
    report = estimate(log, clip)
    result = report_dict(report, candidate_name, reward, logged)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "ope.json").write_text(json.dumps(result, indent=2))
    (output / "ope.md").write_text(report_markdown(result))
    for line in summary_lines(result):
        echo(line)
    echo(f"report: {output / 'ope.md'}")
    return result


def report_dict(report: OffPolicyReport, candidate_name: str, reward: str, logged: LoggedSlates) -> dict[str, Any]:
    return {"candidate": candidate_name, "reward": reward, "requests": report.requests, "users": report.users,
            "left_out_without_propensities": logged.without_propensities,
            "left_out_without_state": logged.without_state,
            "left_out_outside_catalog": logged.outside_catalog,
            "estimates": {name: asdict(e) for name, e in report.estimates.items()},
            "effective_sample_size": report.effective_sample_size, "max_weight": report.max_weight,
            "matched_share": report.matched_share, "clip": report.clip}


def summary_lines(result: dict[str, Any]) -> list[str]:
    lines = [f"ranker ope: {result['candidate']} on {result['requests']} logged requests of {result['users']} users "
             f"(left out: {result['left_out_without_propensities']} without propensities, "
             f"{result['left_out_without_state']} without a recognised state, {result['left_out_outside_catalog']} "
             f"showing items the catalog lacks); reward {result['reward']} per slate"]
    for name, e in result["estimates"].items():
        low, high = e["ci95"]
        lines.append(f"  {name:>6}: {e['value']:.4f} [{low:.4f}, {high:.4f}]")
    lines.append(f"  effective sample size {result['effective_sample_size']:.0f} (of the weights over every logged "
                 f"position); largest weight {result['max_weight']:.1f}"
                 + (f" (clipped at {result['clip']:g}: biased toward 0)" if result["clip"] else ""))
    return lines


def report_markdown(result: dict[str, Any]) -> str:
    names = {"logged": "the logging policy's own value", "naive": "naive replay (unbiased only on a uniform log)",
             "ips": "IPS, independent items", "snips": "self-normalised IPS", "dr": "doubly robust (cross-fitted)"}
    lines = [f"# Off-policy estimate: {result['candidate']}", "",
             f"{result['requests']} logged requests with propensities, {result['users']} users; reward: "
             f"{result['reward']} per slate. Left out: {result['left_out_without_propensities']} requests logged "
             f"without propensities, {result['left_out_without_state']} without a recognised state, "
             f"{result['left_out_outside_catalog']} showing items the catalog lacks.", "",
             "| estimator | value | 95% CI (bootstrap over users) |", "|---|---|---|"]
    for name, e in result["estimates"].items():
        lines.append(f"| {names[name]} | {e['value']:.4f} | [{e['ci95'][0]:.4f}, {e['ci95'][1]:.4f}] |")
    lines += ["", f"Effective sample size {result['effective_sample_size']:.0f}; largest weight "
              f"{result['max_weight']:.1f}; the candidate agrees with the logged item at "
              f"{result['matched_share']:.1%} of logged positions.",
              "", "Assumption: a position's reward depends on its item and the context, not on the other items "
              "in the slate. Confirm a promising estimate with an A/B test (`mmei ab report`)."]
    return "\n".join(lines) + "\n"
