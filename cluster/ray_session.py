"""Connecting the CLI to a Ray cluster: embedded local by default, or `--address`.

Every verb runs its work on whatever cluster this gives: `ray.init()` starts a local
one when no address is set (nor RAY_ADDRESS), so the same command works on a laptop
and, with --address, on a remote cluster.

The console is for people. Unless `-v`, Ray's own output stays in its log files,
through Ray's own switches rather than text filters:
- `log_to_driver=False`: workers' stdout and stderr (Ray Train's per-rank reports,
  DeepSpeed's warnings) are not forwarded;
- Ray Data's progress bars and "starting execution" banners are off (a pipe got each
  redraw as a new line); our stages draw their own progress lines;
- Ray's and DeepSpeed's driver-side log lines below ERROR go to
  mmei-driver-libraries.log in Ray's log folder, not the console; Ray's deprecation
  warnings are off.
The verb's first line says where the logs are.

SIGTERM and SIGINT stop the verb cleanly (platform/stop_signals.py): no stack dump, Ray
shut down, exit 0 for `mmei serve` after its drain, otherwise 130 or 143.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import Callable, Iterator

import ray

from mmei.platform.stop_signals import signals_held, stop_signals

RAY_LOGGERS = ("ray", "ray.data", "ray.train", "ray.tune", "ray.serve")
# Ray Train's controller polls its workers every 2 s by default, which adds 3-4 s to the
# start and end of every run: 15% of a short run here (26 s -> 22 s, `mmei eval --compare`
# and sweeps run many). The cost is one status call per worker every 0.5 s, small next to
# a training step; it has not been measured on a GPU cluster.
# Set for embedded clusters (workers inherit the driver's environment) and carried in
# the runtime_env of jobs `mmei submit` sends.
RAY_TRAIN_ENV = {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.5"}
# Only for a cluster mmei starts itself (one machine, local files), on top of the above:
# - Ray Data reads Parquet footers on a pool of 32 new actor processes per read, built for
#   thousands of files on object storage. Our shards are local and few: one actor reads a
#   split in 0.8 s instead of 2.5-3.3 s here, and a training run starts 15 fewer processes.
# - A single machine is not preempted: Ray Train's preemption watcher is one more actor
#   process per run, and its teardown logged core_worker errors.
# Serve's throughput-optimized mode (Ray >= 2.55): the ingress replica answers HTTP itself
# (direct ingress, on the configured host), deployments call each other over gRPC, user
# code and the router run on the replica's main loop, the GC is frozen after start-up.
# `mmei bench serve`-style runs here, median of 3 alternating rounds at concurrency 16:
# compact 27.9 -> 35.2 req/s, graph 18.3 -> 27.9, p50 61 -> 44 ms and 71 -> 54 ms; without
# direct ingress compact stays at 28.6, without gRPC graph reaches only 23.7.
# Direct ingress also holds every stopping ingress replica for a draining period (30 s by
# default, for an external load balancer to deregister it): past serve.shutdown's own
# 30 s wait, the controller was killed mid-shutdown and the next serve.start connected to
# the dead one (ActorDiedError). Our drain has already flipped /readyz and let in-flight
# requests finish before anything is deleted, and a cluster mmei starts has no external
# balancer, so it drains for 1 s; RayServices set their own (cluster/kuberay).
SERVE_THROUGHPUT_ENV = {"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}
LOCAL_CLUSTER_ENV = {**RAY_TRAIN_ENV, "RAY_DATA_PARQUET_FOOTER_NUM_ACTORS": "1",
                     "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0", **SERVE_THROUGHPUT_ENV,
                     "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "1"}
LIBRARY_LOG = "mmei-driver-libraries.log"


class BelowErrorToFile(logging.Filter):
    """On a logger whose own console handler we do not control (DeepSpeed makes its own
    on import): records below ERROR go to the file instead of the console."""

    def __init__(self, handler: logging.Handler):
        super().__init__()
        self.handler = handler

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        self.handler.handle(record)
        return False


def quiet_libraries(folder: str | None) -> None:
    """Ray Data progress and banners off; the libraries' INFO and WARNING lines go to
    `folder`/mmei-driver-libraries.log, and only their errors reach the console."""
    import warnings

    import ray.data
    from ray.util.annotations import RayDeprecationWarning

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.enable_operator_progress_bars = False
    context.print_on_execution_start = False
    warnings.filterwarnings("ignore", category=RayDeprecationWarning)  # for Ray's maintainers, not our users
    to_file = logging.FileHandler(os.path.join(folder, LIBRARY_LOG)) if folder else logging.NullHandler()
    to_file.setLevel(logging.INFO)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in RAY_LOGGERS:
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                handler.setLevel(logging.ERROR)
    logging.getLogger("ray").setLevel(logging.INFO)
    logging.getLogger("ray").addHandler(to_file)
    logging.getLogger("DeepSpeed").addFilter(BelowErrorToFile(to_file))


def log_folder() -> str | None:
    """This session's Ray log folder, where `-v` would have sent the console's share."""
    try:
        return os.path.join(ray._private.worker._global_node.get_session_dir_path(), "logs")
    except Exception:  # noqa: BLE001 - a remote cluster's folder is on its head node
        return None


@contextmanager
def ray_session(address: str | None = None, quiet: bool = False,
                announce: Callable[[str], None] | None = None) -> Iterator[None]:
    """Start or join a cluster for the verb's duration; leave it as it was afterwards.

    `announce` gets one line naming the Ray log folder (for the console)."""
    if ray.is_initialized():
        yield
        return
    address = address or os.environ.get("RAY_ADDRESS")
    for key, value in (RAY_TRAIN_ENV if address else LOCAL_CLUSTER_ENV).items():
        os.environ.setdefault(key, value)  # the user's own setting wins
    ray.init(address=address, log_to_driver=not quiet, configure_logging=True,
             logging_level="ERROR" if quiet else "INFO")
    with stop_signals():  # at once after ray.init, whose own SIGTERM handler dumps a stack and aborts
        try:
            if quiet:
                folder = log_folder()
                quiet_libraries(folder)
                if announce and folder:
                    announce(f"Ray's own logs: {folder} (mmei -v shows them here)")
            yield
        finally:
            with signals_held():
                ray.shutdown()
