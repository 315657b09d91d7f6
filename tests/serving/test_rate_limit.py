"""One client cannot take the service: a token bucket per API key or address answers
429 with Retry-After, over a real HTTP server on 127.0.0.1; probes are never limited."""
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from mmei.serving import http
from mmei.serving.rate_limit import ClientBuckets


def test_the_bucket_refills_at_its_rate_and_caps_at_its_burst():
    now = [0.0]
    buckets = ClientBuckets(rate_per_s=2.0, burst=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token back in 0.5 s at 2/s
    assert buckets.take("b") == 0.0  # another client, its own bucket
    now[0] = 100.0  # a long pause refills to the burst, never past it
    assert [buckets.take("a") for _ in range(4)][-1] > 0


@pytest.fixture(scope="module")
def limited_server():
    app = FastAPI()
    http.install(app)
    app.state.client_rate_per_s, app.state.client_burst = 1.0, 3

    @app.get("/v1/ping")
    async def ping() -> dict:
        return {"ok": True}

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_a_client_past_its_burst_gets_429_with_retry_after_and_others_go_on(limited_server):
    with httpx.Client(base_url=limited_server) as client:
        answers = [client.get("/v1/ping") for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        refused = answers[-1]
        assert refused.headers["Retry-After"] == "1" and "too many requests" in refused.json()["error"]
        assert refused.headers.get("x-request-id")  # counted and traced like any answer
        assert client.get("/v1/ping", headers={"X-API-Key": "another-client"}).status_code == 200
        assert all(client.get("/healthz").status_code == 200 for _ in range(10))  # probes are never limited
        time.sleep(1.1)
        assert client.get("/v1/ping").status_code == 200  # a token came back
