"""`mmei ab report`: the A/B analysis of a serving store, with intervals and power.

The unit is the assigned user, the unit of randomisation: every user who was served a
recommendation in the window counts in their arm, whether or not they gave feedback.
Analysing only users with feedback would condition on something the treatment moves
(a variant that makes more users answer changes who is analysed), and bias the lift.

Per assigned user, zero-filled:
- `engagement_seconds`: total engagement seconds over the user's feedback events;
- `satisfaction`: total satisfaction points;
- `feedback_rate`: feedback events per recommendation served to the user.

Per variant against the control: n, means, absolute and relative lift, 95% CIs (Welch
and bootstrap), the p-value and its Holm-adjusted value (across metrics and arms), and
the users per arm needed to detect a relative effect of `mde` at 80% power. The
sample-ratio-mismatch check counts the same users against the configured fractions
(the serving config's arms; an arm with no users counts as 0).

CUPED (`cuped_before`) uses each user's totals before that time as the covariate and
analyses from that time on. It needs a pre-period no user was treated in: a user served
a non-control arm before it is an error, not a silent bias.

    OUTPUT/ab_report.md, ab_report.json, ab_<metric>.png
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import matplotlib
import numpy as np

from mmei.platform.ab_stats import compare, cuped, holm, required_sample_size, sample_ratio_mismatch
from mmei.platform.errors import UserInputError
from mmei.platform.store import Store

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

METRICS = ("engagement_seconds", "satisfaction", "feedback_rate")
POPULATION = "assigned_users"
SRM_ALERT = 0.001


class Population:
    """Who was served in the window: each user's arm (their first), and how many
    recommendations they got. Users whose arm changed are kept in their first arm and
    counted, since sticky assignment should never let it happen."""

    def __init__(self, served: list[dict[str, Any]]):
        self.arm: dict[str, str] = {}
        self.recommendations: dict[str, int] = defaultdict(int)
        self.switched: set[str] = set()
        for row in served:  # oldest first
            user = row["user_id"]
            if self.arm.setdefault(user, row["variant"]) != row["variant"]:
                self.switched.add(user)
            self.recommendations[user] += row["recommendations"]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for variant in self.arm.values():
            counts[variant] += 1
        return dict(counts)


def user_totals(population: Population, events: list[dict[str, Any]]) -> tuple[dict[str, dict[str, float]], int]:
    """metric → user → value, zero-filled for every assigned user; and the number of
    events from users outside the population (reported, never analysed)."""
    totals = {user: {"engagement_seconds": 0.0, "satisfaction": 0.0, "events": 0} for user in population.arm}
    outside = 0
    for event in events:
        user = totals.get(event["user_id"])
        if user is None:
            outside += 1
            continue
        user["engagement_seconds"] += float(event["engagement_seconds"])
        user["satisfaction"] += float(event["satisfaction"])
        user["events"] += 1
    values = {metric: {} for metric in METRICS}
    for user, total in totals.items():
        values["engagement_seconds"][user] = total["engagement_seconds"]
        values["satisfaction"][user] = total["satisfaction"]
        values["feedback_rate"][user] = total["events"] / population.recommendations[user]
    return values, outside


def srm(counts: dict[str, int], fractions: dict[str, float], source: str) -> dict[str, Any]:
    unknown = sorted(set(counts) - set(fractions))
    if unknown:
        raise UserInputError(f"variants {unknown} were served but are not among the configured arms "
                             f"{sorted(fractions)} ({source}); pass the serving config the experiment ran with")
    observed = {arm: counts.get(arm, 0) for arm in fractions}  # an arm nobody was assigned to counts as 0
    p_value = sample_ratio_mismatch(observed, fractions) if len(fractions) > 1 else None
    return {"population": POPULATION, "users": observed, "fractions": fractions, "fractions_from": source,
            "p_value": p_value}


def analyse(population: Population, events: list[dict[str, Any]], control: str, fractions: dict[str, float],
            fractions_from: str, mde: float, covariates: dict[str, dict[str, float]] | None = None) -> dict[str, Any]:
    counts = population.counts()
    if control not in counts:
        raise UserInputError(f"no user was served the control variant {control!r}; variants served: {sorted(counts)}")
    if len(counts) < 2:
        raise UserInputError(f"only one variant ({control}) was served; an A/B report needs two")
    values, outside = user_totals(population, events)
    report: dict[str, Any] = {"control": control, "mde_relative": mde, "unit": "assigned_user",
                              "assigned_users": counts, "switched_users": len(population.switched),
                              "feedback_events": len(events) - outside, "events_outside_population": outside,
                              "srm": srm(counts, fractions, fractions_from), "metrics": {}}
    report["srm_p_value"] = report["srm"]["p_value"]
    arms = {variant: [user for user, arm in population.arm.items() if arm == variant] for variant in counts}
    for metric in METRICS:
        by_user = values[metric]
        if covariates is not None:
            by_user, report.setdefault("cuped_variance_removed", {})[metric] = apply_cuped(by_user, covariates[metric])
        base = np.array([by_user[user] for user in arms[control]])
        sd = float(np.std(base, ddof=1)) if len(base) > 1 else 0.0
        rows = {variant: asdict(compare(base, np.array([by_user[user] for user in users])))
                for variant, users in sorted(arms.items()) if variant != control}
        needed = required_sample_size(sd, mde * abs(float(base.mean()))) if sd > 0 and base.mean() else None
        report["metrics"][metric] = {"population": POPULATION, "control_mean": float(base.mean()),
                                     "control_n": len(base), "control_sd": sd, "required_n_per_arm": needed,
                                     "variants": rows}
    tests = [(metric, variant) for metric in METRICS for variant in report["metrics"][metric]["variants"]]
    adjusted = holm([report["metrics"][m]["variants"][v]["p_value"] for m, v in tests])
    for (metric, variant), p_holm in zip(tests, adjusted):
        report["metrics"][metric]["variants"][variant]["p_holm"] = p_holm
    return report


def apply_cuped(values: dict[str, float], covariate: dict[str, float]) -> tuple[dict[str, float], float]:
    """Adjust each user's value with their pre-period value (0 for a user with none)."""
    users = list(values)
    adjusted, removed = cuped(np.array([values[u] for u in users]), np.array([covariate.get(u, 0.0) for u in users]))
    return dict(zip(users, adjusted.tolist())), removed


def pre_period(store: Store, since: float | None, cuped_before: float, control: str) -> dict[str, dict[str, float]]:
    """metric → user → the user's value before `cuped_before`; refused if anyone was
    treated then (their covariate would carry the treatment)."""
    served = store.served_users(since, before=cuped_before)
    treated = [row for row in served if row["variant"] != control]
    if treated:
        first = min(row["first_at"] for row in treated)
        raise UserInputError(f"CUPED's pre-period must predate every user's first assignment: {len(treated)} users "
                             f"were served a non-control arm before --cuped-before (the first at {first:.0f}); "
                             "set --cuped-before at or before the experiment's start")
    events = store.feedback_events(since, before=cuped_before)
    return user_totals(Population(served), events)[0] if served else {metric: {} for metric in METRICS}


def plot(report: dict[str, Any], metric: str, path: Path) -> None:
    data = report["metrics"][metric]
    names = [report["control"], *data["variants"]]
    means = [data["control_mean"], *(r["mean_treatment"] for r in data["variants"].values())]
    figure, axis = plt.subplots(figsize=(4.5, 3))
    axis.bar(names, means, color=["#999"] + ["#4a7"] * len(data["variants"]))
    for i, row in enumerate(data["variants"].values(), start=1):
        low, high = (data["control_mean"] + bound for bound in row["welch_ci"])
        axis.errorbar(i, row["mean_treatment"], yerr=[[row["mean_treatment"] - low], [high - row["mean_treatment"]]],
                      color="black", capsize=4)
    axis.set_title(f"{metric} per assigned user (95% CI of the lift, Welch)", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# A/B report (control: {report['control']}; unit: every assigned user)", "",
             f"Assigned users: {report['assigned_users']}; {report['feedback_events']} feedback events; users with "
             "no feedback count as 0.", ""]
    check = report["srm"]
    if check["p_value"] is not None:
        verdict = "**SAMPLE RATIO MISMATCH: do not trust these results**" if check["p_value"] < SRM_ALERT else "ok"
        lines += [f"SRM chi-square p = {check['p_value']:.3g} ({verdict}): users {check['users']} against fractions "
                  f"{check['fractions']} ({check['fractions_from']}).", ""]
    if report["switched_users"] or report["events_outside_population"]:
        lines += [f"Warnings: {report['switched_users']} users changed arm (kept in their first); "
                  f"{report['events_outside_population']} feedback events from users not served in the window "
                  "(not analysed).", ""]
    for metric, data in report["metrics"].items():
        lines += [f"## {metric} (per assigned user)", "",
                  f"Control: n = {data['control_n']}, mean = {data['control_mean']:.3f}, sd = {data['control_sd']:.3f}. "
                  f"Users per arm to detect a {100 * report['mde_relative']:.0f}% relative effect at 80% power: "
                  f"{data['required_n_per_arm']}.", "",
                  "| variant | n | mean | lift | relative lift | 95% CI (Welch) | 95% CI (bootstrap) | "
                  "relative 95% CI (bootstrap) | p | p (Holm) |", "|---|---|---|---|---|---|---|---|---|---|"]
        for variant, r in data["variants"].items():
            lines.append(f"| {variant} | {r['n_treatment']} | {r['mean_treatment']:.3f} | {r['lift']:+.3f} | "
                         f"{100 * r['relative_lift']:+.1f}% | [{r['welch_ci'][0]:+.3f}, {r['welch_ci'][1]:+.3f}] | "
                         f"[{r['bootstrap_ci'][0]:+.3f}, {r['bootstrap_ci'][1]:+.3f}] | "
                         f"[{100 * r['relative_bootstrap_ci'][0]:+.1f}%, {100 * r['relative_bootstrap_ci'][1]:+.1f}%] | "
                         f"{r['p_value']:.3g} | {r['p_holm']:.3g} |")
        if "cuped_variance_removed" in report:
            lines.append(f"\nCUPED removed {100 * report['cuped_variance_removed'][metric]:.0f}% of the variance.")
        lines += ["", f"![{metric}](ab_{metric}.png)", ""]
    return "\n".join(lines)


def write_ab_report(store_url: str, output: Path, control: str = "control", since: float | None = None,
                    fractions: dict[str, float] | None = None, mde: float = 0.05, cuped_before: float | None = None,
                    echo: Callable[[str], None] = print, fractions_from: str = "--fractions") -> dict[str, Any]:
    """`fractions` are the arms' configured shares (from the serving config or
    --fractions); without them an equal split over the arms served is assumed, and said."""
    store = Store(store_url, must_exist=True)  # a typo in the URL is an error, not an empty report
    if cuped_before is not None and since is not None and since >= cuped_before:
        raise UserInputError("--since must come before --cuped-before: it starts CUPED's pre-period")
    start = cuped_before if cuped_before is not None else since  # with CUPED, [since, cuped_before) is the pre-period
    served = store.served_users(start)
    if not served:
        raise UserInputError(f"{store_url} holds no served recommendations{' since ' + str(start) if start else ''}")
    population = Population(served)
    if not fractions:
        arms = sorted(population.counts())
        fractions, fractions_from = {arm: 1 / len(arms) for arm in arms}, "assumed equal: pass --serve-config"
    covariates = pre_period(store, since, cuped_before, control) if cuped_before is not None else None
    report = analyse(population, store.feedback_events(start), control, fractions, fractions_from, mde, covariates)
    output.mkdir(parents=True, exist_ok=True)
    (output / "ab_report.json").write_text(json.dumps(report, indent=2))
    for metric in METRICS:
        plot(report, metric, output / f"ab_{metric}.png")
    (output / "ab_report.md").write_text(markdown(report))
    echo(f"A/B report over {sum(population.counts().values())} assigned users and {report['feedback_events']} "
         f"feedback events: {output / 'ab_report.md'}")
    return report
