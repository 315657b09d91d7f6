"""HTTP plumbing of the ingress: body-size limit, JSON errors, API-key check.

Every client mistake becomes `{"error": ..., "field": ...}` with a 4xx; anything
unexpected becomes a logged JSON 500. Nothing a client sends can take a replica down.
"""
from __future__ import annotations

import hmac
import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from mmei.serving.errors import ApiError

log = logging.getLogger("ray.serve")
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: 413 for bodies over `app.state.max_body_bytes`, declared or streamed."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = getattr(scope["app"].state, "max_body_bytes", DEFAULT_MAX_BODY_BYTES)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await self._reject(send, limit)
        seen, started = 0, False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await self._reject(send, limit)

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

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

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
        raise ApiError(401, "missing or wrong X-API-Key header", "X-API-Key")
