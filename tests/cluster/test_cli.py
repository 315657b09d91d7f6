"""The real `mmei` command, run as a user would."""
import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

MMEI = [sys.executable, "-m", "mmei.cluster.cli"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mmei(*args, cwd=None, timeout=300):
    return subprocess.run([*MMEI, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=ENV)


def test_data_synth_writes_a_labelled_corpus(tmp_path):
    result = mmei("data", "synth", "--output", str(tmp_path / "c"), "--samples", "40", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "SYNTHETIC" in result.stdout
    summary = json.loads((tmp_path / "c" / "_summary.json").read_text())
    assert summary["rows"] == 40 and summary["config"]["seed"] == 3


def test_bad_override_is_one_line_naming_the_key(tmp_path):
    result = mmei("data", "synth", "--output", str(tmp_path / "c"), "corpus.missing_rat=0.2")
    assert result.returncode == 2
    assert "missing_rat" in result.stderr and "Traceback" not in result.stderr


def test_floats_in_e_notation_reach_the_config_from_the_command_line(tmp_path):
    result = mmei("data", "synth", "--output", str(tmp_path / "c"), "--samples", "20", "corpus.label_noise=5e-2",
                  "corpus.missing_rate=1e-1")
    assert result.returncode == 0, result.stderr
    corpus = json.loads((tmp_path / "c" / "_summary.json").read_text())["config"]
    assert (corpus["label_noise"], corpus["missing_rate"]) == (0.05, 0.1)


def test_train_on_a_folder_without_features_fails_before_starting_ray(tmp_path):
    result = mmei("train", "--data", str(tmp_path / "nothing"), "--output", str(tmp_path / "run"))
    assert result.returncode == 2 and "holds no prepared features" in result.stderr
    assert "Traceback" not in result.stderr and "Ray's own logs" not in result.stdout


def test_missing_required_argument_is_usage_error():
    result = mmei("data", "synth")
    assert result.returncode == 2 and "required: --output" in result.stderr


def all_verbs(parser=None, path=()):
    """(words, parser) for every verb and sub-verb of the real parser, old names included."""
    import argparse

    from mmei.cluster.cli_parser import build_parser

    parser = parser or build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from all_verbs(sub, (*path, name))
            return
    yield path, parser


SHARED_HELP = {  # one meaning per shared option, in every verb that has it
    "--config": ("model/training preset name or YAML path",),
    "--address": ("Ray cluster address (default: RAY_ADDRESS, else a local cluster)",),
    "--resume": ("continue the run in --output from where it stopped",),
    "--seed": ("random seed of ",),
    "--samples": ("samples in the generated SYNTHETIC corpus",),
    "--jobs-url": ("the head's Jobs API",),
}


def test_every_verb_speaks_one_grammar():
    verbs = list(all_verbs())
    assert len(verbs) >= 20
    seen = {}
    for words, parser in verbs:
        text = parser.format_help()  # every verb's --help renders
        for old in ("--out ", "--workdir", "--serve-config-old"):
            assert old not in text, (words, old)  # old names work but are not shown
        for action in parser._actions:
            for flag in action.option_strings:
                if flag in SHARED_HELP and action.help != "==SUPPRESS==":
                    assert action.help.startswith(SHARED_HELP[flag]), (words, flag, action.help)
                    seen.setdefault(flag, set()).add(words)
        options = {flag for action in parser._actions for flag in action.option_strings
                   if action.help != "==SUPPRESS=="}
        if words[:1] in (("submit",), ("jobs",)):
            assert "--address" not in options and "--jobs-url" in options  # a Jobs URL is not a Ray address
        if words == ("tune",):
            assert "--trials" in options and "--samples" not in options
        if words == ("serve",):
            assert "--serve-config" in options and "--config" not in options
    assert {("train",), ("tune",)} <= seen["--resume"]
    assert len(seen["--address"]) >= 8 and len(seen["--config"]) >= 8


def test_old_names_still_work_for_a_release_with_a_notice(tmp_path):
    result = mmei("data", "synth", "--out", str(tmp_path / "c"), "--samples", "20")
    assert result.returncode == 0 and "--out is now --output" in result.stderr
    assert (tmp_path / "c" / "_summary.json").is_file()
    old_verb = mmei("train-ranker", "--help")
    assert old_verb.returncode == 0 and "--holdout-days" in old_verb.stdout


def test_options_a_mode_ignores_are_refused_in_one_line(tmp_path, capsys):
    """In process, through the same `main` the `mmei` script runs: every refusal comes
    before any work starts, and four interpreters would cost 15 s of imports."""
    from mmei.cluster.cli import main

    def run(*args: str) -> tuple[int, str]:
        code = main(list(args))
        return code, capsys.readouterr().err

    compare = run("eval", "--compare", "--data", str(tmp_path), "--output", str(tmp_path / "o"), "--split", "val")
    assert compare[0] == 2 and "--split does not apply with --compare" in compare[1]
    bundle = run("eval", "--bundle", "b", "--data", str(tmp_path), "--output", str(tmp_path / "o"), "--seeds", "2",
                 "--parallel-runs", "2", "train.epochs=1")
    assert bundle[0] == 2 and "--seeds, --parallel-runs, key=value overrides do not apply without --compare" in bundle[1]
    resume = run("tune", "--output", str(tmp_path / "s"), "--resume", "--data", str(tmp_path))
    assert resume[0] == 2 and "--data does not apply with --resume" in resume[1]
    quick = run("quickstart", "--output", str(tmp_path / "q"), "--compare-seeds", "0", "--models", "mult")
    assert quick[0] == 2 and "--models does not apply with --compare-seeds 0" in quick[1]
    for _, stderr in (compare, bundle, resume, quick):
        assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1


COMPARED = ("mmei", "text_only")


def test_quickstart_runs_the_pipeline_end_to_end(tmp_path):
    port = free_port()
    result = mmei("quickstart", "--output", str(tmp_path / "qs"), "--samples", "120", "--exit", "--port", str(port),
                  "--compare-seeds", "2", "--models", *COMPARED[1:], "train.epochs=1", timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for expected in ("prepare with Ray Data", "ZeRO-2", "epoch 1/1", "text + audio + frames", "text only",
                     "sarcastic", "fusion weights", "run report:", f"127.0.0.1:{port}", "recommended (congruent",
                     "MMEI vs best baseline", "curl -s"):
        assert expected in result.stdout, expected
    for number in range(1, 7):  # every stage prints its elapsed time
        assert f"({number}/6 " in result.stdout
    console = result.stdout + result.stderr  # for people: our lines, not the libraries'
    for chatter in ("Reconstructed fp32", "Loading checkpoint shards", "Setting accelerator to CPU",
                    "RayDeprecationWarning", "Progress bars disabled"):
        assert chatter not in console, chatter
    assert len(console.splitlines()) <= 150 and "mmei-driver-libraries.log" not in console
    answered = sqlite3.connect(tmp_path / "qs" / "serve.db").execute(
        "SELECT user_id FROM recommendations ORDER BY created_at").fetchall()  # answered over real HTTP
    assert [u for (u,) in answered] == ["quickstart-user-0", "quickstart-user-1", "quickstart-user-2"]
    samples = json.loads((tmp_path / "qs" / "sample_requests.json").read_text())
    assert [s["example"][:9] for s in samples] == ["text + au", "text only", "sarcastic"]
    assert all(s["response"]["recognition"]["fusion_weights"] for s in samples)
    assert (tmp_path / "qs" / "train" / "bundle" / "bundle.json").is_file()
    assert (Path(tmp_path) / "qs" / "corpus" / "_SYNTHETIC.md").is_file()

    report_dir = tmp_path / "qs" / "report"
    report = (report_dir / "report.md").read_text()
    for section in ("## Stages", "## Data and quarantine", "## MMEI vs baselines", "### Learning curves",
                    "### Confusion matrices", "### Fusion weights", "### Modality ablation", "### Robustness",
                    "## W&B", "SYNTHETIC"):
        assert section in report, section
    for image in ("learning_curves", "confusion_emotion", "confusion_intent", "fusion_weights", "ablation",
                  "robustness"):
        assert f"({image}.png)" in report and (report_dir / f"{image}.png").stat().st_size > 1000, image
    for model in COMPARED:
        assert f"| {model} |" in report, model
    assert "| mult |" not in report and "| late_fusion |" not in report  # --models picks the baselines
    for reason in ("audio_undecodable", "image_undecodable", "unknown_label", "no_modality"):
        assert f"| {reason} | 1 |" in report, reason  # the planted corrupt rows, each quarantined
    assert "| **total** |" in report and "offline-run-" in report
    check_the_comparison(tmp_path / "qs" / "compare", result.stdout)


def check_the_comparison(folder: Path, console: str) -> None:
    """The quickstart's `--compare`: the only test that trains a baseline through Ray
    Train. Each run costs ~18 s here, mostly start-up, so it compares one baseline over
    two seeds; every model type's training is tested without Ray in tests/platform/models,
    and choosing the best of several baselines in tests/pipelines/test_compare.py."""
    compared = json.loads((folder / "compare.json").read_text())
    models = COMPARED
    assert {model: len(runs) for model, runs in compared["runs"].items()} == dict.fromkeys(models, 2)
    seed_scores = [run["macro_f1_mean"] for run in compared["runs"]["mmei"]]
    assert seed_scores[0] != seed_scores[1], "two seeds trained the same model"
    mean, std = compared["summary"]["mmei"]["macro_f1_mean"]
    assert (mean, std) == pytest.approx((sum(seed_scores) / 2, abs(seed_scores[0] - seed_scores[1]) / 2 ** 0.5))
    summary, verdict = compared["summary"], compared["verdict"]
    best = max(models[1:], key=lambda model: summary[model]["macro_f1_mean"][0])
    assert verdict["best_baseline"] == best
    assert verdict["macro_f1_difference"] == pytest.approx(mean - summary[best]["macro_f1_mean"][0])
    assert verdict["cross_entropy_ratio"] == pytest.approx(summary["mmei"]["loss"][0] / summary[best]["loss"][0])
    counts = {model: compared["parameters"][model]["trainable"] for model in models}
    assert all(abs(counts[model] / counts["mmei"] - 1) <= 0.10 for model in models)  # the same budget
    assert all(compared["parameters"][model]["total"] > counts[model] for model in models)  # tiny freezes embeddings
    line = f"MMEI vs best baseline ({best}), 2 seeds: macro-F1 difference {verdict['macro_f1_difference']:+.4f}"
    assert line in console and line in (folder / "compare.md").read_text()
    for model in models[1:]:  # paired statistics against every baseline, on the same test rows
        paired = verdict["baselines"][model]
        assert paired["paired_difference"] == pytest.approx(mean - summary[model]["macro_f1_mean"][0], abs=1e-9)
        low, high = paired["paired_difference_ci"]
        assert low <= high and 0 <= paired["paired_p_value"] <= 1 and paired["min_detectable_difference"] > 0
        assert paired["seeds"] == 2 and paired["rows"] == verdict["baselines"][best]["rows"] > 0
    best_paired = verdict["baselines"][best]
    assert f"paired over 2 seeds x {best_paired['rows']} test rows" in console
    assert ("not resolved at this budget" in console) == (not best_paired["resolved"])


def test_data_import_then_prepare_on_an_embedded_cluster(tmp_path):
    source = tmp_path / "plain"
    source.mkdir()
    (source / "labels.csv").write_text("sample_id,split,emotion\na,train,joy\nb,val,bliss\n")
    (source / "a.txt").write_text("I love this AI song")
    (source / "b.txt").write_text("an unknown label")
    imported = mmei("data", "import", "--format", "folder", "--input", str(source), "--output", str(tmp_path / "s"))
    assert imported.returncode == 0, imported.stderr
    prepared = mmei("data", "prepare", "--input", str(tmp_path / "s"), "--output", str(tmp_path / "f"), timeout=600)
    assert prepared.returncode == 0, prepared.stderr[-3000:]
    assert "2 in → 1 out + 1 quarantined {'unknown_label': 1}" in prepared.stdout
    manifest = json.loads((tmp_path / "f" / "manifest.json").read_text())
    assert manifest["rows_out"] == 1 and manifest["synthetic"] is False


def test_prepare_names_a_broken_input_file(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.parquet").write_bytes(b"garbage")
    result = mmei("data", "prepare", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"))
    assert result.returncode == 2 and "x.parquet" in result.stderr and "Traceback" not in result.stderr


def test_models_then_overrides_parse_as_the_user_meant():
    from mmei.cluster.cli import parse

    args = parse(["eval", "--compare", "--data", "d", "--output", "o", "train.lr=0.1", "--models", "mmei",
                  "late_fusion", "train.epochs=2"])
    assert args.models == ["mmei", "late_fusion"] and args.overrides == ["train.lr=0.1", "train.epochs=2"]
    wrong = mmei("quickstart", "--models", "resnet", "train.epochs=1")
    assert wrong.returncode == 2 and "--models takes model names" in wrong.stderr and "not resnet" in wrong.stderr


def test_the_parsers_name_lists_match_the_platforms():
    """The parser keeps its own copies (so --help imports nothing heavy); they must not drift."""
    from mmei.cluster.cli_parser import MODEL_TYPES, RANKER_INPUTS
    from mmei.platform.models.build import MODEL_TYPES as BUILT
    from mmei.platform.ranker_features import RANKER_INPUTS as READ

    assert MODEL_TYPES == list(BUILT) and sorted(RANKER_INPUTS) == sorted(READ)
    from mmei.cluster.cli import parse

    assert parse(["ranker", "train", "--logs", "l", "--output", "o"]).inputs == "emotion-aware+history"
    assert parse(["ranker", "train", "--logs", "l", "--output", "o", "--emotion-blind"]).inputs == "emotion-blind"


def test_ab_report_takes_the_arms_from_the_serving_config(tmp_path):
    simulated = mmei("data", "simulate-interactions", "--output", str(tmp_path / "sim"), "--users", "80", "--days", "2",
                     "--policy", "ab")
    assert simulated.returncode == 0, simulated.stderr
    store = json.loads((tmp_path / "sim" / "_summary.json").read_text())["store_url"]
    config = tmp_path / "serve.yaml"
    config.write_text("variants:\n  - {name: control, fraction: 0.5, strategy: congruent}\n"
                      "  - {name: treatment, fraction: 0.5, strategy: regulating}\n")
    result = mmei("ab", "report", "--store", store, "--output", str(tmp_path / "ab"), "--serve-config", str(config))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "ab" / "ab_report.json").read_text())
    assert report["srm"]["fractions_from"] == f"serving config {config}" and report["srm"]["fractions"] == HALVES
    database = (tmp_path / "sim" / "synthetic-interactions.db")
    (served,) = sqlite3.connect(database).execute("SELECT COUNT(DISTINCT user_id) FROM recommendations").fetchone()
    assert sum(report["assigned_users"].values()) == served  # every user served, with feedback or not
    both = mmei("ab", "report", "--store", store, "--output", str(tmp_path / "ab2"), "--serve-config", str(config),
                "--fractions", "control=1")
    assert both.returncode == 2 and "--fractions does not apply with --serve-config" in both.stderr


HALVES = {"control": 0.5, "treatment": 0.5}
