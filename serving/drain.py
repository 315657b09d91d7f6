"""A clean stop: the driver tells every Ingress replica to drain, and waits for their in-flight requests.

    mmei serve ── SIGTERM ──▶ DrainSwitch.start()          (a named actor the driver owns)
                                   │ wakes each Ingress replica's watcher thread
    Ingress (every replica) ◀──────┘ draining: /readyz 503, new requests 503 + Retry-After,
                                     in-flight ones run to the end; reports its counts
    mmei serve ◀── DrainSwitch.totals() until nothing is in flight, or the timeout

Why an actor and not Serve's own shutdown: `serve.shutdown()` stops the proxies with
the apps, so a load balancer gets refused connections instead of a 503 it can route
around, and the driver cannot say what finished. Deployments started without a
driver (`serve deploy`, RayService) have no switch; their replicas skip the watcher and
rely on Serve's per-deployment graceful shutdown (`graceful_shutdown_timeout_s`).
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field

import ray

SWITCH_NAME = "mmei-drain-switch"
SWITCH_NAMESPACE = "mmei"
REPORT_EVERY_S = 0.05
# A replica that registered but has not answered the drain this long after it began is
# gone (killed and replaced): its requests went with it, and waiting for it would hang.
SILENT_REPLICA_S = 2.0


@ray.remote(num_cpus=0)
class DrainSwitch:
    """Registered Ingress replicas, whether draining has begun, and each replica's counts."""

    def __init__(self):
        self.draining = asyncio.Event()
        self.started_at: float | None = None
        self.registered: set[str] = set()
        self.reports: dict[str, dict] = {}

    async def register(self, replica: str) -> None:
        self.registered.add(replica)

    async def wait_draining(self) -> bool:
        await self.draining.wait()
        return True

    async def start(self) -> None:
        if self.started_at is None:
            self.started_at = time.monotonic()
        self.draining.set()

    async def report(self, replica: str, counts: dict) -> None:
        self.reports[replica] = counts

    async def totals(self) -> dict:
        """In flight, finished since the drain began and refused with 503, over live replicas;
        `waiting_for`: replicas that have not answered yet (not counted once silent too long)."""
        since = time.monotonic() - (self.started_at or time.monotonic())
        silent = [r for r in self.registered if r not in self.reports]
        totals = {key: sum(report[key] for report in self.reports.values())
                  for key in ("in_flight", "finished", "refused")}
        return {**totals, "replicas": len(self.reports),
                "waiting_for": len(silent) if since < SILENT_REPLICA_S else 0}


@dataclass
class DrainState:
    """One replica's share, kept by the Drain middleware on the event loop; read by the watcher."""

    draining: bool = False
    in_flight: int = 0
    in_flight_at_start: int = 0
    refused: int = 0
    replica: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    lock: threading.Lock = field(default_factory=threading.Lock)  # admitting vs. the watcher's snapshot

    def admit(self, probe: bool = False) -> bool:
        """False once draining; a refused request is counted unless it is a readiness probe."""
        with self.lock:
            if self.draining:
                self.refused += 0 if probe else 1
                return False
            self.in_flight += 1
            return True

    def begin_draining(self) -> None:
        with self.lock:
            self.draining = True
            self.in_flight_at_start = self.in_flight

    def counts(self) -> dict:
        finished = max(self.in_flight_at_start - self.in_flight, 0)
        return {"in_flight": self.in_flight, "finished": finished, "refused": self.refused}


def watch(state: DrainState) -> bool:
    """In an Ingress replica: a daemon thread that waits for the switch, then drains and reports.
    False when there is no switch (a deployment no `mmei serve` driver started)."""
    try:
        switch = ray.get_actor(SWITCH_NAME, namespace=SWITCH_NAMESPACE)
    except ValueError:
        return False

    def run() -> None:
        try:
            ray.get(switch.register.remote(state.replica))
            ray.get(switch.wait_draining.remote())
        except ray.exceptions.RayError:  # the driver and its switch are gone: nothing to drain for
            return
        state.begin_draining()
        while True:
            try:
                ray.get(switch.report.remote(state.replica, state.counts()))
            except ray.exceptions.RayError:
                return
            time.sleep(REPORT_EVERY_S)

    threading.Thread(target=run, name="mmei-drain-watch", daemon=True).start()
    return True


class Drain:
    """ASGI middleware: counts requests in flight; once draining, answers new ones 503 with
    Retry-After (and /readyz 503) while /healthz stays 200: the replica is alive, not ready."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        state: DrainState | None = getattr(scope["app"].state, "drain", None) if scope["type"] == "http" else None
        if state is None or scope["path"] == "/healthz":
            return await self.app(scope, receive, send)
        if not state.admit(probe=scope["path"] == "/readyz"):
            retry = str(getattr(scope["app"].state, "retry_after_s", 1))
            return await refuse(send, scope["path"], retry)
        try:
            await self.app(scope, receive, send)
        finally:
            state.in_flight -= 1


async def refuse(send, path: str, retry_after: str) -> None:
    if path == "/readyz":
        body = {"ready": False, "checks": {"server": "shutting down"}}
    else:
        body = {"error": "the server is shutting down; retry shortly", "field": None}
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            (b"retry-after", retry_after.encode())]})
    await send({"type": "http.response.body", "body": data})


_held: list = []  # the driver's handle: a named actor nobody holds is reclaimed


def create_switch() -> None:
    """In the driver, before deploying: the switch its Ingress replicas will find. It lives
    as long as this driver (and goes with it, so no stale switch outlives a stopped `mmei serve`)."""
    _held[:] = [DrainSwitch.options(name=SWITCH_NAME, namespace=SWITCH_NAMESPACE, get_if_exists=True).remote()]


def drain(timeout_s: float, poll_s: float = REPORT_EVERY_S) -> dict:
    """In the driver: start draining and wait until no live replica has a request in flight
    (or the timeout). Returns finished (in flight when it began, answered since), cut
    (still in flight at the timeout), refused (new requests answered 503) and seconds."""
    started = time.monotonic()
    switch = ray.get_actor(SWITCH_NAME, namespace=SWITCH_NAMESPACE)
    ray.get(switch.start.remote())
    while True:
        totals = ray.get(switch.totals.remote())
        settled = totals["waiting_for"] == 0 and totals["in_flight"] == 0
        if settled or time.monotonic() - started > timeout_s:
            break
        time.sleep(poll_s)
    return {"finished": totals["finished"], "cut": totals["in_flight"], "refused": totals["refused"],
            "replicas": totals["replicas"], "seconds": round(time.monotonic() - started, 2)}
