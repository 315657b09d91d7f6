"""The driver follows steps.jsonl while workers append to it."""
import io
import json
import time

from mmei.pipelines.train_progress import StepFollower, epoch_line
from mmei.platform.console import ProgressLine


def test_follower_shows_steps_as_a_line_and_epochs_as_messages(tmp_path):
    path = tmp_path / "steps.jsonl"
    out, said = io.StringIO(), []
    follower = StepFollower(path, total_steps=40, epochs=2, echo=said.append,
                            bar=ProgressLine("train mmei", 40, stream=out, every_s=0), poll_s=0.05)
    follower.start()
    step = {"step": 20, "epoch": 0, "loss": 1.25, "lr": 3e-4, "grad_norm": 0.7, "skipped_steps": 0,
            "samples_per_s": 41.0}
    epoch = {**step, "epoch_end": True, "epoch_seconds": 12.0, "val_loss": 1.5, "val_macro_f1_mean": 0.42}
    with path.open("a") as handle:
        handle.write(json.dumps(step) + "\n" + json.dumps(epoch)[:10])  # the epoch line is half written
    time.sleep(0.3)  # the follower reads the first record and waits on the half line
    with path.open("a") as handle:
        handle.write(json.dumps(epoch)[10:] + "\n")
    follower.stop()
    text = out.getvalue()
    assert "20/40" in text and "loss 1.2500" in text and "grad 0.70" in text
    assert epoch_line(epoch, 2) in text and "val macro-F1 0.420" in text


def test_without_a_bar_epoch_lines_go_to_echo(tmp_path):
    path = tmp_path / "steps.jsonl"
    record = {"step": 3, "epoch": 1, "loss": 0.5, "samples_per_s": 10.0, "epoch_end": True, "epoch_seconds": 2.0,
              "val_loss": 0.6, "val_macro_f1_mean": 0.5}
    path.write_text(json.dumps(record) + "\n")
    said = []
    follower = StepFollower(path, total_steps=3, epochs=2, echo=said.append, poll_s=0.05)
    follower.start()
    follower.stop()
    assert said == [epoch_line(record, 2)] and said[0].startswith("epoch 2/2  train_loss 0.5000")
