"""`mmei bench audio` and `mmei bench visual` on ../shared/data's REAL subsets, through the
real CLI (import, prepare, train, baseline, the paired line), then `mmei serve` with the
voice-trained bundle answering /v1/analyze on an original 48 kHz RAVDESS WAV."""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
MMEI = [sys.executable, "-m", "mmei.cluster.cli"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
LINE = re.compile(r"^bench (audio|visual): macro_f1=(\d\.\d{4}) baseline_macro_f1=(\d\.\d{4}) "
                  r"diff_ci95=\[(-?\d\.\d{4}), (-?\d\.\d{4})\]$", re.M)


def bench(modality: str, source: Path, output: Path, *extra: str) -> tuple[str, dict]:
    result = subprocess.run([*MMEI, "bench", modality, "--input", str(source), "--output", str(output), "--epochs", "1",
                             "--seeds", "1", *extra], capture_output=True, text=True, timeout=600, env=ENV)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout, json.loads((output / f"bench_{modality}.json").read_text())


@pytest.fixture(scope="module")
def audio_bench(tmp_path_factory):
    output = tmp_path_factory.mktemp("bench") / "audio"
    return output, *bench("audio", SHARED / "ravdess-16k-4actors", output, "train.batch_size=8")


def test_bench_audio_on_real_speech_prints_the_paired_line(audio_bench):
    _, console, result = audio_bench
    match = LINE.search(console)
    assert match and match.group(1) == "audio", console
    a, b, low, high = (float(match.group(i)) for i in range(2, 6))
    assert (a, b) == (round(result["a"], 4), round(result["b"], 4)) and low <= a - b + 1e-4 and a - b - 1e-4 <= high
    assert "240 files in = 240 samples + 0 rejected" in console and "240 rows in → 240 out + 0 quarantined" in console
    assert result["import"]["splits"] == {"train": 60, "val": 60, "test": 120} and result["rows"] == 120
    assert result["preset"] == "audio" and result["baseline_C"] > 0 and len(result["runs"]) == 1
    assert 0.0 < result["baseline_accuracy"] < 1.0 and set(result["fusion_weights"]) == {"text", "audio", "visual"}


def test_bench_visual_on_real_faces_in_their_folder_layout(tmp_path):
    source = tmp_path / "fer"
    for split, count in (("train", 12), ("test", 4)):
        for folder in sorted((SHARED / "fer2013-subset" / split).iterdir()):
            (source / split / folder.name).mkdir(parents=True)
            for image in sorted(folder.glob("*.jpg"))[:count]:
                shutil.copy(image, source / split / folder.name)
    console, result = bench("visual", source, tmp_path / "out", "model.visual_channels=[8, 16, 32, 64]")
    match = LINE.search(console)
    assert match and match.group(1) == "visual", console
    assert "112 files in = 112 samples + 0 rejected" in console and result["rows"] == 28
    assert result["fusion_weights"]["visual"] == 1.0  # faces only: no text, no audio


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_mmei_serve_recognises_an_original_48k_clip_with_the_voice_bundle(audio_bench, tmp_path, mmei_serve):
    output, _, result = audio_bench
    port = free_port()
    server = mmei_serve(["--bundle", result["runs"][0]["bundle"], "--port", str(port),
                         f"store_url=sqlite:///{tmp_path}/serve.db"], env=ENV, cwd=tmp_path)
    console = server.output()
    # RAVDESS's labels are not the shipped catalog's: recognition is served, and the user told why
    assert "serving recognition only (mode=analyze)" in console and "target_emotion" in console, console
    clip = (SHARED / "ravdess-48k-original" / "03-01-05-02-01-01-12.wav").read_bytes()
    answer = httpx.post(f"http://127.0.0.1:{port}/v1/analyze", timeout=60,
                        json={"user_id": "u1", "audio": base64.b64encode(clip).decode()})
    assert answer.status_code == 200, answer.text
    emotion = answer.json()["recognition"]["emotion"]
    assert list(emotion["probabilities"])[:2] == ["neutral", "calm"] and len(emotion["probabilities"]) == 8
    assert answer.json()["recognition"]["modalities"] == ["audio"]
    server.process.send_signal(signal.SIGINT)
    server.process.wait(timeout=60)
