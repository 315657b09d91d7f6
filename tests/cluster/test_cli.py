"""The real `mmei` command, run as a user would."""
import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

MMEI = [sys.executable, "-m", "mmei.cluster.cli"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mmei(*args, cwd=None, timeout=300):
    return subprocess.run([*MMEI, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=ENV)


def test_data_synth_writes_a_labelled_corpus(tmp_path):
    result = mmei("data", "synth", "--out", str(tmp_path / "c"), "--samples", "40", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "SYNTHETIC" in result.stdout
    summary = json.loads((tmp_path / "c" / "_summary.json").read_text())
    assert summary["rows"] == 40 and summary["config"]["seed"] == 3


def test_bad_override_is_one_line_naming_the_key(tmp_path):
    result = mmei("data", "synth", "--out", str(tmp_path / "c"), "corpus.missing_rat=0.2")
    assert result.returncode == 2
    assert "missing_rat" in result.stderr and "Traceback" not in result.stderr


def test_missing_required_argument_is_usage_error():
    result = mmei("data", "synth")
    assert result.returncode == 2 and "--out" in result.stderr


def test_quickstart_runs_the_pipeline_end_to_end(tmp_path):
    port = free_port()
    result = mmei("quickstart", "--workdir", str(tmp_path / "qs"), "--samples", "120", "--exit", "--port", str(port),
                  "--compare-seeds", "2", "train.epochs=1", timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for expected in ("prepare with Ray Data", "ZeRO-2", "epoch 1/1", "text + audio + frames", "text only",
                     "sarcastic", "fusion weights", "run report:", f"127.0.0.1:{port}", "recommended (congruent",
                     "MMEI vs best baseline", "curl -s"):
        assert expected in result.stdout, expected
    for number in range(1, 7):  # every stage prints its elapsed time
        assert f"({number}/6 " in result.stdout
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
    for model in ("mmei", "mult", "early_fusion", "late_fusion", "text_only"):
        assert f"| {model} |" in report, model
    for reason in ("audio_undecodable", "image_undecodable", "unknown_label", "no_modality"):
        assert f"| {reason} | 1 |" in report, reason  # the planted corrupt rows, each quarantined
    assert "| **total** |" in report and "offline-run-" in report


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
