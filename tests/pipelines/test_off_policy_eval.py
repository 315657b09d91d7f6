"""`mmei ranker ope` on real SQLite logs from the simulator: the estimate of a
candidate equal to the logger's own greedy ranker finds the truth, old rows without
propensities are counted and left out, and `mmei ranker eval` refuses a chosen log."""
import json
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from mmei.cluster.bench_ope import candidate_truth
from mmei.pipelines.off_policy_eval import load_slates, slate_log, strategy_candidate
from mmei.pipelines.sources.interactions import load_population, write_interactions
from mmei.platform.catalog import load_catalog
from mmei.platform.labels import LabelSpaces
from mmei.platform.off_policy import estimate
from mmei.platform.store import Store
from mmei.serving.config import DEFAULT_CATALOG

LABELS = LabelSpaces()
MMEI = [sys.executable, "-m", "mmei.cluster.cli"]


@pytest.fixture(scope="module")
def explored(tmp_path_factory):
    items = load_catalog(DEFAULT_CATALOG, LABELS)
    out = tmp_path_factory.mktemp("ope") / "log"
    summary = write_interactions(out, items, LABELS, users=60, days=3, seed=11, progress=lambda _: None,
                                 policy="explore", epsilon=0.3)
    return out, summary, items


def test_the_greedy_logger_as_candidate_is_estimated_within_its_interval(explored):
    """On the rows where the logger did not explore, the candidate agrees with the log,
    so every corrected estimator should land on the truth computed from the story."""
    out, summary, items = explored
    logged = load_slates(Store(summary["store_url"]), items)
    log, chosen = slate_log(logged, strategy_candidate(items, LABELS, "congruent"), items, LABELS)
    report = estimate(log, resamples=500)
    truth = candidate_truth(logged.requests, chosen, load_population(out), items)
    for name in ("ips", "snips", "dr"):
        low, high = report.estimates[name].ci95
        assert low <= truth <= high, (name, truth, report.estimates[name])
    assert report.estimates["logged"].value < truth  # exploring costs the logger some of its value
    assert 0.6 < report.matched_share < 0.85 and np.isfinite(report.effective_sample_size)


def test_ranker_ope_reports_each_estimator_and_leaves_out_rows_without_propensities(explored, tmp_path):
    out, summary, _ = explored
    database = out / "synthetic-interactions.db"
    copy = tmp_path / "old.db"
    copy.write_bytes(database.read_bytes())
    with sqlite3.connect(copy) as connection:  # as if the first 50 had been logged before propensities existed
        connection.execute("UPDATE recommendations SET propensities = NULL WHERE request_id IN "
                           "(SELECT request_id FROM recommendations ORDER BY created_at LIMIT 50)")
        connection.execute("UPDATE recommendations SET items = '[\"gone-1\", \"gone-2\"]', "  # a retired item
                           "propensities = '[0.5, 0.5]' WHERE request_id IN "
                           "(SELECT request_id FROM recommendations ORDER BY created_at DESC LIMIT 3)")
    result = subprocess.run([*MMEI, "ranker", "ope", "--store", f"sqlite:///{copy}", "--strategy", "regulating",
                             "--output", str(tmp_path / "report")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report" / "ope.json").read_text())
    assert report["left_out_without_propensities"] == 50 and report["left_out_outside_catalog"] == 3
    assert report["requests"] == summary["requests"] - 53
    assert set(report["estimates"]) == {"logged", "naive", "ips", "snips", "dr"}
    assert "doubly robust" in (tmp_path / "report" / "ope.md").read_text() and "dr:" in result.stdout


def test_ranker_eval_refuses_a_log_its_policy_chose(explored, tmp_path):
    out, _, _ = explored
    result = subprocess.run([*MMEI, "ranker", "eval", "--logs", str(out), "--output", str(tmp_path / "eval")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "not shown uniformly at random" in result.stderr
    assert "mmei ranker ope" in result.stderr and "Traceback" not in result.stderr


def test_ranker_ope_needs_a_log_with_propensities(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'none.db'}")
    store.log_recommendation("r1", "u1", "control", "congruent", ["a"], "joy", "relax", 1.0)
    result = subprocess.run([*MMEI, "ranker", "ope", "--store", store.url, "--strategy", "regulating",
                             "--output", str(tmp_path / "report")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "nothing to estimate" in result.stderr and "1 without propensities" in result.stderr
