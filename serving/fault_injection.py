"""Test-only fault injection (MMEI_FAULT_INJECTION=1, set by the test suite): hold one
request inside an encoder replica, so a test can kill that replica while the request
is provably in flight there.

A text equal to HOLD_TEXT makes the replica report to the named barrier actor (which
the test creates) and wait: the first arrival is held until the barrier releases it or
the replica dies; later arrivals (the ingress's retry on another replica) go on at
once. Without the environment variable this module does nothing.

With MMEI_FAULT_BARRIER_DIR also set, the barrier is two files there instead, for a test
whose server runs its own Ray cluster (`mmei serve` in a subprocess): the replica writes
`arrived` and waits until `release` exists.
"""
from __future__ import annotations

import os
import time
from typing import Any

HOLD_TEXT = "__mmei_fault_injection_hold__"
BARRIER_NAME, BARRIER_NAMESPACE = "mmei-fault-barrier", "mmei-tests"


def enabled() -> bool:
    return os.environ.get("MMEI_FAULT_INJECTION") == "1"


def maybe_hold(values: list[Any]) -> None:
    if not enabled() or HOLD_TEXT not in values:
        return
    folder = os.environ.get("MMEI_FAULT_BARRIER_DIR")
    if folder:
        hold_on_files(folder)
        return
    import ray

    barrier = ray.get_actor(BARRIER_NAME, namespace=BARRIER_NAMESPACE)
    if not ray.get(barrier.arrive.remote(ray.get_runtime_context().get_actor_name())):
        return
    deadline = time.monotonic() + 120
    while not ray.get(barrier.released.remote()) and time.monotonic() < deadline:
        time.sleep(0.1)


def hold_on_files(folder: str) -> None:
    arrived, release = os.path.join(folder, "arrived"), os.path.join(folder, "release")
    if os.path.exists(arrived):  # held once already
        return
    open(arrived, "w").close()
    deadline = time.monotonic() + 120
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.05)
