"""The store pruned on a schedule, not only when `mmei serve` starts.

A server that runs for months would otherwise keep every recommendation nobody answered.
Each Ingress replica runs one daemon thread; the DELETE is idempotent, so several
replicas pruning the same store only repeat work that finds nothing. A failed prune (the
store is down) is logged and tried again at the next tick: it never touches a request.
"""
from __future__ import annotations

import logging
import threading

from mmei.platform.store import Store, StoreUnavailable

log = logging.getLogger("ray.serve")


class PruneSchedule:
    def __init__(self, store: Store, retention_days: float, every_s: float):
        self.store, self.retention_days, self.every_s = store, retention_days, every_s
        self.stopped = threading.Event()
        self.pruned = 0  # rows this replica deleted, for tests and logs

    def start(self) -> "PruneSchedule":
        if self.retention_days > 0 and self.every_s > 0:
            threading.Thread(target=self.run, name="mmei-prune", daemon=True).start()
        return self

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                deleted = self.store.prune(self.retention_days)
            except StoreUnavailable as error:
                log.warning("scheduled prune skipped: %s", error)
                continue
            self.pruned += deleted
            if deleted:
                log.info("pruned %d recommendations older than %s days with no feedback", deleted,
                         self.retention_days)

    def stop(self) -> None:
        self.stopped.set()
