"""Start the graph on the connected Ray cluster and wait until it answers; stop it cleanly.

Used by `mmei serve`, the quickstart, the benchmark and the tests, so they all deploy
exactly what `serve run mmei.serving.app:build_app` deploys. `serve_until_stopped`
is the foreground life of `mmei serve` and the quickstart: on SIGTERM or Ctrl-C it
drains (drain.py) before Serve is shut down; a second signal cuts the drain short.
"""
from __future__ import annotations

import os
import time
from typing import Callable
import urllib.error
import urllib.request

from ray import serve

from mmei.platform.bundle import bundle_config
from mmei.platform.catalog import load_catalog
from mmei.platform.stop_signals import ForcedStop, as_stop
from mmei.platform.store import Store
from mmei.serving.app import APP_NAME, application
from mmei.serving.config import ServeConfig
from mmei.serving.drain import create_switch, drain


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
    """Deploy on 127.0.0.1 (or config.host) and return the base URL once healthy.

    An open API on a non-loopback host is refused first (no key set, no auth.allow_open),
    recommendations past `store.retention_days` with no feedback are pruned, and a store
    from before per-user affect sums gets them built from its log.
    """
    config.check_auth(os.environ.get(config.api_key_env) or None)
    config.check_paths()  # the bundle and catalog the migration below reads
    store = Store(config.store_url, timeout_s=config.store.timeout_s)
    if config.store.retention_days > 0:
        store.prune(config.store.retention_days)
    if config.mode == "recommend":  # a store logged by an older release: its users' affect history, once
        labels = bundle_config(config.bundle).labels
        store.rebuild_user_affect({item.item_id: item.target_emotion
                                   for item in load_catalog(config.catalog_path, labels)})
    store.close()
    logging = {"enable_access_log": config.access_logs}
    serve.start(proxy_location=config.proxy_location, logging_config=logging,
                http_options={"host": config.host, "port": config.port,
                              "request_timeout_s": config.limits.request_timeout_s + 5})
    create_switch()  # before the Ingress replicas start: they look for it once
    serve.run(application(config), name=APP_NAME, route_prefix="/", logging_config=logging)
    url = f"http://{config.host}:{config.port}"
    wait_healthy(url, timeout_s)
    return url


def stop() -> None:
    serve.shutdown()


def serve_until_stopped(config: ServeConfig, echo: Callable[[str], None] = print, shared_cluster: bool = False) -> dict:
    """Serve until SIGTERM or SIGINT, then drain; returns the drain's counts.

    On a `shared_cluster` (--address) the app is then deleted, and only it: other Serve
    apps keep running. On a local cluster this command started, nothing is deleted:
    the ray_session's shutdown stops proxy and replicas together right after, so clients
    see 503s and then a closed port, never the 404s a proxy without its app answers.
    A second signal during the drain deletes the app without waiting and raises ForcedStop."""
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt as interrupt:  # StopRequested, or a plain Ctrl-C
        stop = as_stop(interrupt)
        name = stop.name if stop else "SIGINT"
    timeout = config.graceful_shutdown_timeout_s
    echo(f"{name}: stopping; new requests get 503, those in flight have up to {timeout:.0f}s to finish "
         f"(a second signal stops at once)")
    try:
        report = drain(timeout)
        echo(f"drained in {report['seconds']:.1f}s: {report['finished']} in-flight requests finished, "
             f"{report['cut']} cut, {report['refused']} new ones refused with 503")
        if shared_cluster:
            serve.delete(APP_NAME)
    except KeyboardInterrupt as interrupt:
        if not isinstance(as_stop(interrupt), ForcedStop):
            raise
        echo("second signal: stopping now; requests still in flight are cut")
        serve.delete(APP_NAME, _blocking=False)
        raise
    return report
