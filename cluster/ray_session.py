"""Connecting the CLI to a Ray cluster: embedded local by default, or `--address`.

Every verb runs its work on whatever cluster this gives: `ray.init()` starts a local
one when no address is set (nor RAY_ADDRESS), so the same command works on a laptop
and, with --address, on a remote cluster.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import ray


@contextmanager
def ray_session(address: str | None = None, quiet: bool = False) -> Iterator[None]:
    """Start or join a cluster for the verb's duration; leave it as it was afterwards."""
    if ray.is_initialized():
        yield
        return
    address = address or os.environ.get("RAY_ADDRESS")
    ray.init(address=address, log_to_driver=not quiet, configure_logging=True, logging_level="WARNING")
    try:
        yield
    finally:
        ray.shutdown()
