"""What people see: one progress line per long stage, with a rate and an ETA.

In a terminal the line is redrawn in place; in a pipe or a log file (no TTY) it is
printed as a plain line at most every `every_s` seconds, with no escape codes, so
`mmei quickstart > log` stays short and readable.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ProgressLine:
    def __init__(self, label: str, total: int, stream: TextIO | None = None, every_s: float = 30.0,
                 indent: str = ""):
        self.label, self.total, self.indent, self.every_s = label, max(total, 1), indent, every_s
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.last_print: float | None = None  # the first update prints, however long the machine has been up
        self.width = 0
        self.text = ""

    def line(self, done: int, detail: str = "") -> str:
        elapsed = time.monotonic() - self.started
        share = min(done / self.total, 1.0)
        eta = f"ETA {duration(elapsed / share - elapsed)}" if 0 < share < 1 else duration(elapsed)
        bar = "#" * int(20 * share) + "." * (20 - int(20 * share))
        return f"{self.indent}{self.label} [{bar}] {done}/{self.total} {eta}" + (f"  {detail}" if detail else "")

    def update(self, done: int, detail: str = "") -> None:
        self.text = self.line(done, detail)
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + self.text.ljust(self.width))
            self.width = len(self.text)
            self.stream.flush()
        elif self.last_print is None or now - self.last_print >= self.every_s:
            self.stream.write(self.text + "\n")
            self.stream.flush()
        else:
            return
        self.last_print = now

    def message(self, text: str) -> None:
        """A line of its own (an epoch summary), indented like the bar: printed above it."""
        text = self.indent + text
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.width = 0
        self.stream.write(text + "\n")
        if self.tty and self.text:
            self.stream.write(self.text)
            self.width = len(self.text)
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
