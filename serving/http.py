"""HTTP plumbing of the ingress: request ids and deadlines, Host check, draining,
body-size limit, JSON errors, API-key check.

Every client mistake becomes `{"error": ..., "field": ...}` with a 4xx; an overload or a
dependency down, a 503 with Retry-After; a missed deadline, a 504; anything unexpected,
a logged JSON 500. Nothing a client sends can take a replica down.
"""
from __future__ import annotations

import hmac
import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mmei.platform.store import StoreUnavailable
from mmei.serving.drain import Drain
from mmei.serving.errors import ApiError
from mmei.serving.metrics import RequestObserver
from mmei.serving.rate_limit import RateLimit

log = logging.getLogger("ray.serve")
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


class BodyLimit:
    """ASGI middleware: 413 with our body for bodies over `app.state.max_body_bytes`,
    declared (Content-Length) or streamed (chunked, no length).

    The body is read here first, up to the limit, then replayed to the app: a body that
    overflows mid-stream is refused here, not inside FastAPI's body parser (which would
    answer its own 400). Bodies are bounded by the limit, so buffering costs at most that.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = getattr(scope["app"].state, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await self._reject(send, limit)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nothing to answer
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await self._reject(send, limit)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    async def _reject(send, limit: int) -> None:
        body = json.dumps({"error": f"request body over {limit} bytes", "field": None}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _field(location: tuple) -> str | None:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def install(app: FastAPI) -> None:
    app.add_middleware(BodyLimit)
    app.add_middleware(RateLimit)  # before the body is read: a limited client costs no buffering
    app.add_middleware(Drain)  # while stopping: new requests 503, in-flight ones counted to the end
    app.add_middleware(HostCheck)  # a rebinding page's Host is refused before anything else runs
    app.add_middleware(RequestObserver)  # outermost: ids, deadline, metrics and logs cover every answer

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        """FastAPI's own refusals (an unparsable body: 400; an unknown route: 404) in our body."""
        return JSONResponse({"error": str(error.detail), "field": None}, status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.exception_handler(StoreUnavailable)
    async def store_down(request: Request, error: StoreUnavailable) -> JSONResponse:
        retry = str(getattr(request.app.state, "retry_after_s", 1))
        request_id = getattr(request.state, "request_id", "")
        log.warning("request %s: %s: %s", request_id, error, error.detail)  # the driver's text: the log only
        return JSONResponse({"error": f"{error}; retry shortly (request {request_id})", "field": None},
                            status_code=503, headers={"Retry-After": retry})

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
        if first.get("type") == "json_invalid":
            return JSONResponse({"error": f"malformed JSON: {first.get('ctx', {}).get('error', first['msg'])}",
                                 "field": None}, status_code=422)
        message = "; ".join(f"{_field(p['loc']) or 'body'}: {p['msg']}" for p in problems[:5])
        return JSONResponse({"error": message, "field": _field(first["loc"])}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error in a request handler")
        return JSONResponse({"error": f"internal error: {type(error).__name__}", "field": None}, status_code=500)


def check_api_key(expected: str | None, given: str | None) -> None:
    """Routes that write or administer need X-API-Key when the server has one set."""
    if expected is None:
        return
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "missing or wrong X-API-Key header", "X-API-Key", {"WWW-Authenticate": "ApiKey"})


class HostCheck:
    """ASGI middleware: a Host header outside `app.state.allowed_hosts` gets 400.

    Against DNS rebinding: a web page at evil.example whose name is made to resolve to
    127.0.0.1 can reach a loopback server from the user's browser, but its requests
    still say `Host: evil.example`. The list comes from ServeConfig.trusted_hosts()."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        allowed = getattr(scope["app"].state, "allowed_hosts", None) if scope["type"] == "http" else None
        if allowed is None or "*" in allowed:
            return await self.app(scope, receive, send)
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host  # drop the port, keep [::1]
        name = name.strip("[]").lower()
        if any(name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])) for pattern in allowed):
            return await self.app(scope, receive, send)
        body = json.dumps({"error": f"Host header {host[:100]!r} is not one this server answers to "
                                    f"(serve.allowed_hosts)", "field": "Host"}).encode()
        await send({"type": "http.response.start", "status": 400,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
