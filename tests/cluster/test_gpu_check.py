"""make gpu-check: skipped without CUDA, and its checks on steps.jsonl fail when they should."""
import json
import subprocess
import sys

import pytest
import torch

from mmei.cluster.gpu_check import CheckFailed, check_training, train_settings


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: run make gpu-check itself")
def test_without_cuda_it_says_skipped_and_succeeds():
    result = subprocess.run([sys.executable, "-m", "mmei.cluster.gpu_check"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "gpu-check: skipped (no CUDA device)"


def write_steps(run, losses, skipped=0):
    run.mkdir()
    records = [{"step": 10 * (i + 1), "loss": loss, "skipped_steps": skipped, "samples_per_s": 100.0,
                "mfu": 0.3, "peak_mem_gb": 2.0} for i, loss in enumerate(losses)]
    records.append({**records[-1], "epoch_end": True, "samples_per_s": 90.0})
    (run / "steps.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def test_training_check_passes_a_falling_loss_and_fails_skips_or_a_flat_loss(tmp_path):
    write_steps(tmp_path / "good", [2.0, 1.9, 1.8, 1.2, 1.0, 0.9])
    summary = check_training(tmp_path / "good", "ZeRO-2")
    assert summary["samples_per_s"] == 90.0 and summary["steps"] == 60 and summary["mfu"] == 0.3
    write_steps(tmp_path / "skipped", [2.0, 1.9, 1.8, 1.2, 1.0, 0.9], skipped=3)
    with pytest.raises(CheckFailed, match="3 optimizer steps skipped"):
        check_training(tmp_path / "skipped", "ZeRO-2")
    write_steps(tmp_path / "flat", [2.0, 2.0, 2.0, 2.0, 1.99, 2.0])
    with pytest.raises(CheckFailed, match="did not fall"):
        check_training(tmp_path / "flat", "ZeRO-3")


def test_gpu_check_settings_ask_for_bf16_whole_cpus_and_about_100_steps():
    settings = train_settings(gpu=True, workers=1, stage=3, train_rows=1280)
    assert {"train.use_gpu=true", "train.precision=bf16", "train.zero_stage=3", "train.cpus_per_worker=1"} <= set(settings)
    epochs = int(next(s for s in settings if s.startswith("train.epochs=")).split("=")[1])
    assert 100 <= epochs * (1280 // 24) < 160
    assert any(s.startswith("train.log_every=") for s in settings)
