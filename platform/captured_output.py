"""A library's chatter captured from one thread, while every other thread keeps the console.

`contextlib.redirect_stdout` swaps `sys.stdout` for the whole process. Two threads
using it at once (two comparison runs consolidating their checkpoints) restore each
other's buffers: the second to finish put back the first's StringIO, and the process
printed nothing more, with exit code 0. Here `sys.stdout` and `sys.stderr` are
replaced by a router while any thread captures: each write goes to the writing
thread's buffer if it has one, else to the stream the router replaced. The router is
removed when the last capture ends.
"""
from __future__ import annotations

import io
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator, TextIO

_local = threading.local()
_lock = threading.Lock()
_captures = 0


class _Router:
    """Stands in for sys.stdout or sys.stderr: this thread's buffer, else the real stream."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def _target(self) -> TextIO:
        return getattr(_local, "buffer", None) or self.stream

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return getattr(_local, "buffer", None) is None and self.stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextmanager
def captured_output() -> Iterator[io.StringIO]:
    """This thread's stdout and stderr (print, tqdm, warnings) into the buffer it yields."""
    global _captures
    buffer, outer = io.StringIO(), getattr(_local, "buffer", None)
    with _lock:
        if _captures == 0:
            sys.stdout, sys.stderr = _Router(sys.stdout), _Router(sys.stderr)
        _captures += 1
    _local.buffer = buffer
    try:
        yield buffer
    finally:
        _local.buffer = outer
        with _lock:
            _captures -= 1
            if _captures == 0:
                for name in ("stdout", "stderr"):
                    stream = getattr(sys, name)
                    if isinstance(stream, _Router):
                        setattr(sys, name, stream.stream)
