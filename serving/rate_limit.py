"""A token bucket per client: one caller cannot take the whole service.

A client is its API key (hashed: the key itself is never kept) or, without one, its
address as the ingress sees it. Each has `limits.client_burst` tokens, refilled at
`limits.client_rate_per_s`; a request with none left gets 429 with Retry-After, in
our JSON body. Probes (/healthz, /readyz) are never limited. Buckets live in each
Ingress replica, so the service-wide limit is the per-replica one times the replicas;
at most `MAX_CLIENTS` are remembered (the least recently seen are forgotten first).
The defaults sit far above what one honest client or `mmei bench serve` sends.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from collections import OrderedDict

EXEMPT_PATHS = ("/healthz", "/readyz")
MAX_CLIENTS = 100_000


class ClientBuckets:
    def __init__(self, rate_per_s: float, burst: int, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate_per_s, burst, clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client → (tokens, when)

    def take(self, client: str) -> float:
        """0 when the request may go on; else the seconds until a token is back."""
        now = self.clock()
        tokens, when = self.buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - when) * self.rate)
        wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
        self.buckets[client] = (tokens - 1.0 if not wait else tokens, now)
        if len(self.buckets) > MAX_CLIENTS:
            self.buckets.popitem(last=False)
        return wait


def client_of(scope) -> str:
    headers = dict(scope.get("headers") or [])
    key = headers.get(b"x-api-key")
    if key:
        return "key:" + hashlib.sha256(key).hexdigest()[:16]
    host = (scope.get("client") or ("unknown", 0))[0]
    return f"address:{host}"


class RateLimit:
    """ASGI middleware over `app.state.client_rate_per_s` / `client_burst` (0 turns it off)."""

    def __init__(self, app):
        self.app = app
        self.buckets: ClientBuckets | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") in EXEMPT_PATHS:
            return await self.app(scope, receive, send)
        state = scope["app"].state
        rate, burst = getattr(state, "client_rate_per_s", 0.0), getattr(state, "client_burst", 0)
        if rate <= 0 or burst <= 0:
            return await self.app(scope, receive, send)
        if self.buckets is None or (self.buckets.rate, self.buckets.burst) != (rate, burst):
            self.buckets = ClientBuckets(rate, burst)
        wait = self.buckets.take(client_of(scope))
        if not wait:
            return await self.app(scope, receive, send)
        retry = max(1, math.ceil(wait))
        body = json.dumps({"error": f"too many requests from this client: at most {burst} at once and {rate:g}/s; "
                                    f"retry in {retry} s", "field": None}).encode()
        await send({"type": "http.response.start", "status": 429,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(retry).encode())]})
        await send({"type": "http.response.body", "body": body})
