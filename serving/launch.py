"""Start the graph on the connected Ray cluster and wait until it answers.

Used by `mmei serve`, the quickstart, the benchmark and the tests, so they all deploy
exactly what `serve run mmei.serving.app:build_app` deploys.
"""
from __future__ import annotations

import time
import urllib.error
import urllib.request

from ray import serve

from mmei.serving.app import APP_NAME, application
from mmei.serving.config import ServeConfig


def wait_healthy(url: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the Serve graph did not answer {url}/healthz within {timeout_s:.0f} s")
        time.sleep(0.5)


def start(config: ServeConfig, timeout_s: float = 180.0) -> str:
    """Deploy on 127.0.0.1 (or config.host) and return the base URL once healthy."""
    logging = {"enable_access_log": config.access_logs}
    serve.start(http_options={"host": config.host, "port": config.port}, logging_config=logging)
    serve.run(application(config), name=APP_NAME, route_prefix="/", logging_config=logging)
    url = f"http://{config.host}:{config.port}"
    wait_healthy(url, timeout_s)
    return url


def stop() -> None:
    serve.shutdown()
