"""Errors the API answers with a 4xx and a JSON body naming the field.

Everything a client can get wrong ends here; anything else reaching a handler is a
bug and is logged, and the client still gets a JSON 500 or 503, never a dropped
connection.
"""
from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field

    def body(self) -> dict:
        return {"error": self.message, "field": self.field}
