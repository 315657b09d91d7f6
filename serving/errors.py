"""Errors the API answers with a 4xx/5xx and a JSON body naming the field.

Everything a client can get wrong ends here, and so do the service's own refusals
(503 overloaded or unavailable, 504 past the deadline); anything else reaching a
handler is a bug and is logged, and the client still gets a JSON 500, never a dropped
connection.
"""
from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": self.message, "field": self.field}


def unavailable(message: str, retry_after_s: int) -> ApiError:
    """503 with Retry-After: the service is overloaded or a dependency is down, not the client's fault."""
    return ApiError(503, message, None, {"Retry-After": str(retry_after_s)})
