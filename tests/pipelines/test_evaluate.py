"""`mmei eval` reports and `--compare`, on bundles trained by the real training path."""
import json
import re

import pytest

from mmei.pipelines.evaluate import ABLATIONS, LEVELS, full_evaluation
from mmei.pipelines.report import write_eval_report

@pytest.fixture(scope="module")
def report(trained_run, features_dir, tmp_path_factory):
    _, trained = trained_run  # the session's shared training run
    result = full_evaluation(trained.bundle, features_dir, "test")
    out = tmp_path_factory.mktemp("eval") / "report"
    write_eval_report(result, out)
    return out, result


def test_every_artefact_is_written(report):
    out, result = report
    for name in ("report.md", "metrics.json", "confusion_emotion.png", "confusion_sentiment.png",
                 "confusion_intent.png", "learning_curves.png", "fusion_weights.png", "ablation.png", "robustness.png"):
        assert (out / name).stat().st_size > 0, name
    assert len(result["ablation"]) == len(ABLATIONS)
    assert [p["level"] for p in result["robustness"]["text_token_dropout"]] == LEVELS
    assert set(result["fusion_weights"]["overall"]) == {"text", "audio", "visual"}
    assert result["synthetic"] is True and "SYNTHETIC" in (out / "report.md").read_text()


def test_report_numbers_equal_metrics_json(report):
    out, _ = report
    metrics = json.loads((out / "metrics.json").read_text())
    text = (out / "report.md").read_text()
    for head in ("emotion", "sentiment", "intent"):
        row = re.search(rf"^\| {head} \| (.+) \|$", text, re.M).group(1).split(" | ")
        expected = [metrics["metrics"][f"{head}_{m}"] for m in ("accuracy", "macro_f1", "weighted_f1", "cross_entropy")]
        assert [float(v) for v in row] == pytest.approx(expected, abs=5e-5)
    for name, values in metrics["ablation"].items():
        row = re.search(rf"^\| {re.escape(name)} \| (\S+) \| (\S+) \|$", text, re.M)
        assert (float(row.group(1)), float(row.group(2))) == pytest.approx(
            (values["macro_f1_mean"], values["loss"]), abs=5e-5)


def test_dropping_every_modality_but_one_changes_the_outputs(report):
    _, result = report
    ablation = result["ablation"]
    assert ablation["drop audio+visual"] != ablation["none"] and ablation["drop text+audio"] != ablation["none"]


# `--compare` is tested through the quickstart (tests/cluster/test_cli.py), which trains
# every baseline over 2 seeds anyway.
