"""The driver's view of a training run: it follows RUN/steps.jsonl while Ray Train runs.

Rank 0 appends a record every `train.log_every` steps and one per epoch; this thread
turns them into a progress line (step/total, loss, rate, ETA) and one line per epoch.
Workers' own output (Ray Train's per-rank reports, DeepSpeed) stays in Ray's log files
unless `mmei -v` forwards it, so these lines are what the console shows.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Callable

from mmei.platform.console import ProgressLine


def epoch_line(record: dict[str, Any], epochs: int) -> str:
    return (f"epoch {record['epoch'] + 1}/{epochs}  train_loss {record['loss']:.4f}  val_loss {record['val_loss']:.4f}"
            f"  val macro-F1 {record['val_macro_f1_mean']:.3f}  ({record['epoch_seconds']:.1f}s, "
            f"{record['samples_per_s']:.0f} samples/s)")


def step_detail(record: dict[str, Any]) -> str:
    parts = [f"loss {record['loss']:.4f}", f"lr {record.get('lr', 0):.2e}"]
    if record.get("grad_norm") is not None:
        parts.append(f"grad {record['grad_norm']:.2f}")
    parts.append(f"{record['samples_per_s']:.0f} samples/s")
    if record.get("skipped_steps"):
        parts.append(f"skipped {record['skipped_steps']}")
    if "mfu" in record:
        parts.append(f"MFU {record['mfu']:.1%}")
    return "  ".join(parts)


class StepFollower(threading.Thread):
    def __init__(self, path: Path, total_steps: int, epochs: int, echo: Callable[[str], None],
                 bar: ProgressLine | None = None, poll_s: float = 1.0):
        super().__init__(daemon=True, name="mmei-step-follower")
        self.path, self.epochs, self.echo, self.bar, self.poll_s = path, epochs, echo, bar, poll_s
        self.total_steps = total_steps
        self.offset = 0
        self.pending = ""
        self.stopped = threading.Event()

    def read_new(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        size = self.path.stat().st_size
        if size < self.offset:  # a restarted rank 0 rewrote the file from its checkpoint
            self.offset, self.pending = 0, ""
        with self.path.open() as handle:
            handle.seek(self.offset)
            chunk = handle.read()
            self.offset = handle.tell()
        lines = (self.pending + chunk).split("\n")
        self.pending = lines.pop()  # an unfinished last line waits for the next read
        return [json.loads(line) for line in lines if line.strip()]

    def show(self, record: dict[str, Any]) -> None:
        if record.get("epoch_end"):
            text = epoch_line(record, self.epochs)
            self.bar.message(text) if self.bar else self.echo(text)
        elif self.bar:
            self.bar.update(record["step"], step_detail(record))

    def run(self) -> None:
        while not self.stopped.wait(self.poll_s):
            for record in self.read_new():
                self.show(record)

    def stop(self) -> None:
        """Show what is left, then end the thread."""
        self.stopped.set()
        self.join(timeout=5)
        for record in self.read_new():
            self.show(record)
        if self.bar:
            self.bar.close()
