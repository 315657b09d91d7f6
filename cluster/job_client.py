"""A Ray Jobs API client for `mmei submit` and `mmei jobs`, with token auth and clear errors.

The address is the head's dashboard (HTTP, port 8265): `--address`, else
RAY_JOBS_ADDRESS or an http(s) RAY_ADDRESS, else http://127.0.0.1:8265. Ray 2.60
clusters require a token by default; it comes from RAY_AUTH_TOKEN, the file in
RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token (where `ray get-auth-token` puts it), and
is sent as a bearer header. Nothing here opens a port or talks to anything but the
address given.
"""
from __future__ import annotations

import os
from pathlib import Path

from mmei.platform.errors import UserInputError

DEFAULT_ADDRESS = "http://127.0.0.1:8265"


class ClusterError(UserInputError):
    """The cluster could not be reached or refused us: one line, no traceback."""


def jobs_address(address: str | None = None) -> str:
    """The Jobs API URL: a bare host:port gets http://."""
    ray_address = os.environ.get("RAY_ADDRESS", "")
    chosen = (address or os.environ.get("RAY_JOBS_ADDRESS")
              or (ray_address if ray_address.startswith(("http://", "https://")) else None) or DEFAULT_ADDRESS)
    return chosen if "://" in chosen else f"http://{chosen}"


def auth_token() -> str | None:
    """The cluster token, from the places Ray itself looks; None if there is none."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return os.environ["RAY_AUTH_TOKEN"].strip()
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token").expanduser()
    if path.is_file():
        return path.read_text().strip() or None
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        raise ClusterError(f"RAY_AUTH_TOKEN_PATH={path} does not exist")
    return None


def connect(address: str | None = None):
    """A JobSubmissionClient, or a ClusterError saying what is wrong and what to try."""
    import requests
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    url = jobs_address(address)
    token = auth_token()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return JobSubmissionClient(url, headers=headers)
    except (ConnectionError, requests.exceptions.ConnectionError) as error:
        raise ClusterError(f"no Ray cluster answers at {url} ({type(error).__name__}). Is the head running, and is "
                           f"its dashboard port reachable? On Kubernetes: kubectl port-forward svc/<cluster>-head-svc "
                           f"8265:8265") from None
    except (AuthenticationError, RuntimeError) as error:
        raise ClusterError(auth_hint(str(error), url, token)) from None


def auth_hint(message: str, url: str, token: str | None) -> str:
    """Ray's error, plus what to do when it is about the token."""
    first = message.strip().splitlines()[0] if message.strip() else "request refused"
    if "401" in message or "Authentication required" in message or "Unauthorized" in message:
        return (f"{url} requires a Ray auth token and none was sent: set RAY_AUTH_TOKEN, or RAY_AUTH_TOKEN_PATH to "
                f"the cluster's token file (`ray get-auth-token` on the head prints it). Ray said: {first}")
    if "403" in message or "Authentication failed" in message or "Forbidden" in message:
        return f"{url} refused the auth token ({'RAY_AUTH_TOKEN' if token else 'none'}); it is not this cluster's"
    return f"{url}: {first}"
