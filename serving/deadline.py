"""One deadline per request, passed down every hop.

The ingress starts the clock when a request arrives (`request_deadline`); every model
call and store call then waits only for what is left (`within`), so a request never
takes longer than `limits.request_timeout_s` end to end. Past it the client gets a 504
with our error body, and the call still pending is cancelled (Serve cancels the
downstream request with it). A context variable carries the deadline: each request
runs in its own task, so requests never see each other's clocks.
"""
from __future__ import annotations

import asyncio
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Awaitable, Iterator

from mmei.serving.errors import ApiError

_deadline: ContextVar[tuple[float, float] | None] = ContextVar("mmei_deadline", default=None)


@contextmanager
def request_deadline(timeout_s: float) -> Iterator[None]:
    token = _deadline.set((time.monotonic() + timeout_s, timeout_s))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining(stage: str) -> float | None:
    """Seconds left for `stage`; None outside a request; a 504 when none are left."""
    current = _deadline.get()
    if current is None:
        return None
    left = current[0] - time.monotonic()
    if left <= 0:
        raise ApiError(504, f"request deadline of {current[1]:g} s passed before {stage}")
    return left


async def within(awaitable: Awaitable[Any], stage: str) -> Any:
    """Await `awaitable` for at most the time left; a 504 naming the stage past it."""
    left = remaining(stage)
    try:
        return await asyncio.wait_for(awaitable, left)
    except asyncio.TimeoutError:
        current = _deadline.get()
        raise ApiError(504, f"request deadline of {current[1]:g} s passed during {stage}") from None
