"""SIGTERM and SIGINT as a clean stop, for every verb that starts Ray.

Orchestrators (Kubernetes, Docker, systemd, a RayService rolling update) stop a process
with SIGTERM. `ray.init` installs a C++ handler for it that prints a stack dump and
aborts (exit 134), which reads as a crash. `stop_signals()`, entered after `ray.init`,
puts a Python handler in its place:

- the first SIGTERM or SIGINT raises `StopRequested` (a KeyboardInterrupt, so every
  Ctrl-C path runs as before) in the main thread: the verb winds down, `mmei serve`
  drains, and Ray is shut down by the `ray_session` that started it;
- while a library has its own graceful SIGINT handler installed (Tune checkpoints the
  sweep one last time), SIGTERM goes to it too: it means what Ctrl-C means there;
- a second signal raises `ForcedStop`: stop now, cut what is in flight.

Exit codes: 0 when the verb's normal end is a stop (`mmei serve` after its drain);
otherwise 128 + the signal (130 for SIGINT, 143 for SIGTERM), the shells' convention for
"stopped by a signal", never 134.
"""
from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_received: list[int] = []  # signals the handler took, in order: Ray's ray.get re-raises ours as a plain KeyboardInterrupt


class StopRequested(KeyboardInterrupt):
    """The first SIGTERM or SIGINT: wind down cleanly."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class ForcedStop(StopRequested):
    """A second signal while winding down: stop at once."""


@contextmanager
def handling(handler) -> Iterator[None]:
    """SIGTERM and SIGINT go to `handler` inside the block (main thread only: elsewhere
    Python cannot install one); the handlers before are put back after."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum in SIGNALS:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)


@contextmanager
def stop_signals() -> Iterator[None]:
    """The first signal raises StopRequested, a second ForcedStop (see the module's docstring)."""
    _received.clear()

    def on_signal(signum: int, frame) -> None:
        library = signal.getsignal(signal.SIGINT)
        _received.append(signum)
        if signum == signal.SIGTERM and callable(library) and library not in (on_signal, signal.default_int_handler):
            library(signal.SIGINT, frame)  # e.g. Tune: saves the sweep and returns early
            return
        raise (StopRequested if len(_received) == 1 else ForcedStop)(signum)

    with handling(on_signal):
        yield


def as_stop(interrupt: KeyboardInterrupt) -> StopRequested | None:
    """The stop an interrupt stands for, even when a library re-raised it as a plain
    KeyboardInterrupt; None for a Ctrl-C no handler of ours took."""
    if isinstance(interrupt, StopRequested):
        return interrupt
    if not _received:
        return None
    return (StopRequested if len(_received) == 1 else ForcedStop)(_received[-1])


@contextmanager
def signals_held() -> Iterator[None]:
    """Around a short shutdown that must finish (`ray.shutdown` of a local cluster, ~1-3 s):
    further signals are ignored rather than leaving its processes half-stopped."""
    with handling(signal.SIG_IGN):
        yield
