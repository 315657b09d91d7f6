"""Preparation's progress line: rows written so far, counted from the output files.

The pipeline streams into its datasink, so the files on disk are the progress: this
thread reads their Parquet footers (feature rows and quarantined rows) every second.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pyarrow.parquet as pq

from mmei.platform.console import ProgressLine


class RowsWritten(threading.Thread):
    def __init__(self, output_dir: Path, total: int, indent: str = "", poll_s: float = 1.0):
        super().__init__(daemon=True, name="mmei-prepare-progress")
        self.output_dir, self.poll_s = output_dir, poll_s
        self.bar = ProgressLine("prepare: rows", total, indent=indent)
        self.counted: dict[Path, int] = {}
        self.stopped = threading.Event()

    def rows(self) -> int:
        for path in [*self.output_dir.glob("part-*.parquet"), *self.output_dir.glob("_quarantine/part-*.parquet")]:
            if path not in self.counted:
                try:
                    self.counted[path] = pq.read_metadata(path).num_rows
                except OSError:  # renamed into place an instant later
                    continue
        return sum(self.counted.values())

    def run(self) -> None:
        while not self.stopped.wait(self.poll_s):
            self.bar.update(self.rows())

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)
        self.bar.close()
