"""Signed user ids, for clients that call the service directly rather than through a backend.

`user_id` is otherwise taken as the caller says it, so a caller could act as any user
and skew the A/B population. With `auth.user_token_env` set, the server holds a secret
and each recognition request carries `X-User-Token`, the hex HMAC-SHA256 of its user id
under that secret. The backend that logs users in issues the token once per user
(`user_token(secret, user_id)`); a client cannot make one for another id.
"""
from __future__ import annotations

import hashlib
import hmac


def user_token(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def valid_user_token(secret: str, user_id: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(user_token(secret, user_id).encode(), token.encode())
