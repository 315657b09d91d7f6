"""What the service measures, on Ray's Prometheus endpoint (ray.serve.metrics).

    mmei_requests_total{route, status, variant}   every HTTP request the ingress answered
    mmei_request_latency_ms{route}                end to end, in the ingress
    mmei_stage_latency_ms{stage}                  text_encoder, audio_encoder, visual_encoder, fusion
                                                  (or recognizer: topology compact), ranker, store
    mmei_feedback_events_total{replayed}          feedback acknowledged (replayed: an Idempotency-Key seen before)

Serve adds its own tags (deployment, replica, application). Each request also leaves
one JSON log line in the replica's log, with our request id and Serve's.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

LATENCY_BOUNDARIES_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]
log = logging.getLogger("ray.serve")


class ServingMetrics:
    def __init__(self):
        from ray.serve import metrics

        self.requests = metrics.Counter("mmei_requests", description="HTTP requests answered by the ingress",
                                        tag_keys=("route", "status", "variant"))
        self.latency = metrics.Histogram("mmei_request_latency_ms", description="ingress latency per request (ms)",
                                         boundaries=LATENCY_BOUNDARIES_MS, tag_keys=("route",))
        self.stage = metrics.Histogram("mmei_stage_latency_ms", description="latency of one step of a request (ms)",
                                       boundaries=LATENCY_BOUNDARIES_MS, tag_keys=("stage",))
        self.feedback = metrics.Counter("mmei_feedback_events", description="feedback events acknowledged",
                                        tag_keys=("replayed",))

    def stage_done(self, stage: str, started: float) -> None:
        self.stage.observe((time.perf_counter() - started) * 1000, tags={"stage": stage})


def serve_request_id() -> str | None:
    """The id Serve gave this request (for matching our log line to Serve's own)."""
    try:
        from ray.serve.context import _get_serve_request_context

        return _get_serve_request_context().request_id or None
    except Exception:  # noqa: BLE001 - an internal of Ray's; its absence must not fail a request
        return None


class RequestObserver:
    """ASGI middleware: a request id (X-Request-ID), the request's deadline, its metrics
    and its JSON log line. The route handler may add `variant` to the request's state."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from mmei.serving.deadline import request_deadline

        state = scope["app"].state
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started, status = time.perf_counter(), 500

        async def observed_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            with request_deadline(getattr(state, "request_timeout_s", 30.0)):
                await self.app(scope, receive, observed_send)
        finally:
            record(state, scope, request_id, status, (time.perf_counter() - started) * 1000)


def record(state: Any, scope: dict, request_id: str, status: int, milliseconds: float) -> None:
    route = scope.get("path", "")
    variant = scope.get("state", {}).get("variant", "")
    metrics: ServingMetrics | None = getattr(state, "metrics", None)
    if metrics is not None:
        metrics.requests.inc(tags={"route": route, "status": str(status), "variant": variant})
        metrics.latency.observe(milliseconds, tags={"route": route})
    log.info(json.dumps({"event": "mmei_request", "request_id": request_id, "serve_request_id": serve_request_id(),
                         "method": scope.get("method"), "route": route, "status": status,
                         "ms": round(milliseconds, 2), "variant": variant or None}))
