"""`mmei ab report`: the A/B analysis of stored feedback, with intervals and power.

Per variant against the control, for engagement seconds and satisfaction:
n, means, absolute and relative lift, 95% CIs (Welch and bootstrap), the p-value,
and the users per arm needed to detect a relative effect of `mde` at 80% power;
plus a sample-ratio-mismatch check of the assignment, and optional CUPED.

The unit is the user (the randomisation unit): each user's events are averaged
first, so a heavy user cannot narrow the intervals on their own.

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

from mmei.platform.ab_stats import compare, cuped, required_sample_size, sample_ratio_mismatch
from mmei.platform.errors import UserInputError
from mmei.platform.store import Store

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

METRICS = ("engagement_seconds", "satisfaction")
SRM_ALERT = 0.001


def per_user(events: list[dict[str, Any]], metric: str) -> dict[str, dict[str, float]]:
    """variant → user → the user's mean of `metric`."""
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for event in events:
        sums[event["variant"]][event["user_id"]].append(float(event[metric]))
    return {variant: {user: float(np.mean(v)) for user, v in users.items()} for variant, users in sums.items()}


def analyse(events: list[dict[str, Any]], assigned: dict[str, int], control: str, fractions: dict[str, float],
            mde: float, pre_events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    variants = sorted({e["variant"] for e in events})
    if control not in variants:
        raise UserInputError(f"no feedback from the control variant {control!r}; variants with feedback: {variants}")
    if len(variants) < 2:
        raise UserInputError(f"only one variant ({variants[0]}) has feedback; an A/B report needs two")
    report: dict[str, Any] = {"control": control, "mde_relative": mde, "unit": "user", "metrics": {},
                              "assigned_users": assigned}
    fractions = fractions or {v: 1 / len(assigned) for v in assigned}
    report["srm_p_value"] = sample_ratio_mismatch(assigned, fractions) if len(assigned) > 1 else None
    for metric in METRICS:
        users = per_user(events, metric)
        if pre_events:
            users, report.setdefault("cuped_variance_removed", {})[metric] = apply_cuped(users, pre_events, metric)
        base = np.array(list(users[control].values()))
        sd = float(np.std(base, ddof=1)) if len(base) > 1 else 0.0
        rows = {}
        for variant in variants:
            if variant == control:
                continue
            result = compare(base, np.array(list(users[variant].values())))
            rows[variant] = asdict(result)
        needed = required_sample_size(sd, mde * abs(float(base.mean()))) if sd > 0 and base.mean() else None
        report["metrics"][metric] = {"control_mean": float(base.mean()), "control_n": len(base), "control_sd": sd,
                                     "required_n_per_arm": needed, "variants": rows}
    return report


def apply_cuped(users: dict[str, dict[str, float]], pre_events: list[dict[str, Any]],
                metric: str) -> tuple[dict[str, dict[str, float]], float]:
    """Adjust each user's value with their pre-period mean (the pooled mean when absent)."""
    pre = {user: value for variant in per_user(pre_events, metric).values() for user, value in variant.items()}
    fallback = float(np.mean(list(pre.values()))) if pre else 0.0
    keys = [(variant, user) for variant, values in users.items() for user in values]
    values = np.array([users[v][u] for v, u in keys])
    covariate = np.array([pre.get(u, fallback) for _, u in keys])
    adjusted, removed = cuped(values, covariate)
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for (variant, user), value in zip(keys, adjusted):
        out[variant][user] = float(value)
    return dict(out), removed


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
    axis.set_title(f"{metric} per user (95% CI of the lift, Welch)", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# A/B report (control: {report['control']}; unit: user)", ""]
    srm = report["srm_p_value"]
    if srm is not None:
        verdict = "**SAMPLE RATIO MISMATCH: do not trust these results**" if srm < SRM_ALERT else "ok"
        lines += [f"Assigned users: {report['assigned_users']}. SRM chi-square p = {srm:.3g} ({verdict}).", ""]
    for metric, data in report["metrics"].items():
        lines += [f"## {metric}", "",
                  f"Control: n = {data['control_n']}, mean = {data['control_mean']:.3f}, sd = {data['control_sd']:.3f}. "
                  f"Users per arm to detect a {100 * report['mde_relative']:.0f}% relative effect at 80% power: "
                  f"{data['required_n_per_arm']}.", "",
                  "| variant | n | mean | lift | relative lift | 95% CI (Welch) | 95% CI (bootstrap) | "
                  "relative 95% CI (bootstrap) | p |", "|---|---|---|---|---|---|---|---|---|"]
        for variant, r in data["variants"].items():
            lines.append(f"| {variant} | {r['n_treatment']} | {r['mean_treatment']:.3f} | {r['lift']:+.3f} | "
                         f"{100 * r['relative_lift']:+.1f}% | [{r['welch_ci'][0]:+.3f}, {r['welch_ci'][1]:+.3f}] | "
                         f"[{r['bootstrap_ci'][0]:+.3f}, {r['bootstrap_ci'][1]:+.3f}] | "
                         f"[{100 * r['relative_bootstrap_ci'][0]:+.1f}%, {100 * r['relative_bootstrap_ci'][1]:+.1f}%] | "
                         f"{r['p_value']:.3g} |")
        if "cuped_variance_removed" in report:
            lines.append(f"\nCUPED removed {100 * report['cuped_variance_removed'][metric]:.0f}% of the variance.")
        lines += ["", f"![{metric}](ab_{metric}.png)", ""]
    return "\n".join(lines)


def write_ab_report(store_url: str, output: Path, control: str = "control", since: float | None = None,
                    fractions: dict[str, float] | None = None, mde: float = 0.05, cuped_before: float | None = None,
                    echo: Callable[[str], None] = print) -> dict[str, Any]:
    store = Store(store_url, must_exist=True)  # a typo in the URL is an error, not an empty report
    start = cuped_before if cuped_before is not None else since
    events = store.feedback_events(start)
    pre = None
    if cuped_before is not None:
        pre = [e for e in store.feedback_events(since) if e["created_at"] < cuped_before]
    if not events:
        raise UserInputError(f"{store_url} holds no feedback events{' since ' + str(start) if start else ''}")
    report = analyse(events, store.assignments(start), control, fractions or {}, mde, pre)
    output.mkdir(parents=True, exist_ok=True)
    (output / "ab_report.json").write_text(json.dumps(report, indent=2))
    for metric in METRICS:
        plot(report, metric, output / f"ab_{metric}.png")
    (output / "ab_report.md").write_text(markdown(report))
    echo(f"A/B report over {len(events)} feedback events: {output / 'ab_report.md'}")
    return report
