"""Serving under real traffic, over real HTTP on 127.0.0.1: decompression bombs, streamed
bodies, deadlines, overload, idempotent feedback, store outages, replica deaths,
readiness and metrics. Every wait loop has a deadline.
"""
import asyncio
import base64
import concurrent.futures
import io
import os
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import ray
import soundfile

from mmei.platform.store import Store

REPO = Path(__file__).resolve().parents[2]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def wait_until(condition, what: str, timeout_s: float = 60.0, every_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


def flac_bomb(seconds: int = 9, rate: int = 384_000, channels: int = 8) -> bytes:
    """Silence as FLAC: ~30 KB that decode to seconds × rate × channels samples (110 MB)."""
    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", samplerate=rate, channels=channels, format="FLAC", subtype="PCM_16") as out:
        for _ in range(seconds):
            out.write(np.zeros((rate, channels), dtype=np.int16))
    return buffer.getvalue()


def replicas(deployment: str, app: str = "mmei") -> set[str]:
    return {a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
            if f"{app}#{deployment}#" in a["name"] and a["name"].startswith("SERVE_REPLICA")}


def kill_replica(name: str) -> None:
    (namespace,) = {a["namespace"] for a in ray.util.list_named_actors(all_namespaces=True) if a["name"] == name}
    ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)


# ---------------------------------------------------------------- bombs and bodies (the session graph)
def test_decompression_bombs_get_a_quick_422_and_no_replica_dies(client, png_bomb):
    before = {name: replicas(name) for name in ("Ingress", "TextEncoder", "AudioEncoder", "VisualEncoder")}
    frame = b64(png_bomb(9000, 9000))
    cases = [("a 16000x16000 PNG", {"frames": [b64(png_bomb(16000, 16000))]}, "frames.0"),
             ("eight 9000x9000 frames", {"frames": [frame] * 8}, "frames.0"),
             ("9 s of 8-channel FLAC at 384 kHz", {"audio": b64(flac_bomb())}, "audio")]
    for name, media, field in cases:
        started = time.perf_counter()
        response = client.post("/v1/analyze", json={"user_id": "bomber", **media})
        seconds = time.perf_counter() - started
        print(f"{name}: {response.status_code} in {seconds:.2f} s: {response.json()}")
        assert response.status_code == 422 and response.json()["field"] == field, name
        assert seconds < 5, name
    assert {name: replicas(name) for name in before} == before  # the same replicas, none restarted
    assert client.post("/v1/analyze", json={"user_id": "u", "text": "still here?"}).status_code == 200


def test_a_streamed_body_over_the_limit_gets_our_413(client):
    def chunks():
        for _ in range(20):
            yield b"x" * (1 << 20)  # 20 MiB, chunked: no Content-Length

    response = client.post("/v1/recommend", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "over 1000000 bytes" in response.json()["error"]


# ---------------------------------------------------------------- idempotent feedback
def test_the_same_feedback_three_times_at_once_is_stored_and_counted_once(client, served, api_key):
    url, config = served
    answer = client.post("/v1/recommend", json={"user_id": "retrying-user", "text": "calm me down", "k": 3}).json()
    event = {"request_id": answer["request_id"], "item_id": answer["items"][0]["item_id"],
             "engagement_seconds": 17.0, "satisfaction": 5}
    headers = {"X-API-Key": api_key, "Idempotency-Key": f"retry-{answer['request_id']}"}

    async def three():
        async with httpx.AsyncClient(base_url=url, timeout=60) as session:
            return await asyncio.gather(*(session.post("/v1/feedback", json=event, headers=headers) for _ in range(3)))

    responses = asyncio.run(three())
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert len({r.json()["feedback_id"] for r in responses}) == 1
    assert sorted(r.headers.get("Idempotent-Replayed", "false") for r in responses) == ["false", "true", "true"]
    store = Store(config.store_url)
    assert len([e for e in store.feedback_events() if e["request_id"] == answer["request_id"]]) == 1
    assert [p.events for p in store.profile("retrying-user")] == [1]
    other = client.post("/v1/feedback", json={**event, "satisfaction": 1}, headers=headers)
    assert other.status_code == 409 and other.json()["field"] == "Idempotency-Key"


# ---------------------------------------------------------------- SQLite locked past its timeout
def test_a_locked_sqlite_store_gives_503_and_recovers_without_a_restart(client, served, api_key):
    import sqlite3

    _, config = served
    answer = client.post("/v1/recommend", json={"user_id": "lock-user", "text": "anything", "k": 2}).json()
    event = {"request_id": answer["request_id"], "item_id": answer["items"][0]["item_id"],
             "engagement_seconds": 2.0, "satisfaction": 3}
    ingress = replicas("Ingress")
    holder = sqlite3.connect(config.store_url[len("sqlite:///"):], timeout=30)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        started = time.perf_counter()
        refused = client.post("/v1/feedback", json=event, headers={"X-API-Key": api_key})
        assert refused.status_code == 503 and refused.headers["Retry-After"], refused.text
        assert time.perf_counter() - started < config.limits.request_timeout_s + 5
        readiness = client.get("/readyz")
        assert readiness.status_code == 503 and readiness.json()["checks"]["store"].startswith("unavailable")
    finally:
        holder.rollback()
        holder.close()
    assert client.post("/v1/feedback", json=event, headers={"X-API-Key": api_key}).status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"ready": True, "checks": {
        "store": "ok", "text_encoder": "ok", "audio_encoder": "ok", "visual_encoder": "ok", "fusion": "ok",
        "ranker": "ok"}}
    assert replicas("Ingress") == ingress  # recovered with no restart


# ---------------------------------------------------------------- a model replica killed mid-request
@ray.remote
class Barrier:
    """Holds the first request that reaches it; remembers the replica that held it."""

    def __init__(self):
        self.holder, self.open = None, False

    def arrive(self, replica: str) -> bool:
        if self.holder is None:
            self.holder = replica
            return True
        return False

    def held_by(self):
        return self.holder

    def released(self) -> bool:
        return self.open

    def release(self) -> None:
        self.open = True


def test_killing_the_replica_a_request_is_in_succeeds_that_request(served, api_key):
    from mmei.serving.fault_injection import BARRIER_NAME, BARRIER_NAMESPACE, HOLD_TEXT

    url, _ = served
    barrier = Barrier.options(name=BARRIER_NAME, namespace=BARRIER_NAMESPACE).remote()
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(httpx.post, f"{url}/v1/analyze", json={"user_id": "u", "text": HOLD_TEXT},
                                  headers={"X-API-Key": api_key}, timeout=120)
            victim = wait_until(lambda: ray.get(barrier.held_by.remote()), "the request to reach a replica", 60, 0.1)
            assert victim in replicas("TextEncoder")  # the request is in that replica now
            kill_replica(victim)
            response = pending.result(timeout=120)
        assert response.status_code == 200, response.text
        assert response.json()["recognition"]["modalities"] == ["text"]
        assert victim not in replicas("TextEncoder")
    finally:
        ray.kill(barrier)
    wait_until(lambda: len(replicas("TextEncoder")) == 2, "Serve to replace the killed replica", 120)


# ---------------------------------------------------------------- the ingress killed under load
def test_killing_the_ingress_under_load_loses_no_acknowledged_feedback(served, api_key):
    """Clients retry what failed with the same Idempotency-Key: every acknowledged event is
    stored, and nothing is stored twice."""
    url, config = served
    acknowledged: dict[str, int] = {}
    failures: list[int] = []

    def user(number: int) -> None:
        with httpx.Client(base_url=url, timeout=60, headers={"X-API-Key": api_key}) as session:
            for i in range(6):
                answer = None
                for _ in range(20):  # a real client retries a failed request
                    try:
                        response = session.post("/v1/recommend", json={"user_id": f"k{number}", "text": f"song {i}",
                                                                       "k": 2})
                    except httpx.HTTPError:
                        response = None
                    if response is not None and response.status_code == 200:
                        answer = response.json()
                        break
                    failures.append(getattr(response, "status_code", 0))
                    time.sleep(0.5)
                assert answer is not None, "the service never came back"
                key = f"ingress-kill-{number}-{i}"
                for _ in range(20):
                    try:
                        stored = session.post("/v1/feedback", headers={"X-API-Key": api_key, "Idempotency-Key": key},
                                              json={"request_id": answer["request_id"], "engagement_seconds": 5.0,
                                                    "item_id": answer["items"][0]["item_id"], "satisfaction": 4})
                    except httpx.HTTPError:
                        stored = None
                    if stored is not None and stored.status_code == 200:
                        acknowledged[key] = stored.json()["feedback_id"]
                        break
                    failures.append(getattr(stored, "status_code", 0))
                    time.sleep(0.5)

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(user, n) for n in range(3)]
        wait_until(lambda: len(acknowledged) >= 3, "some feedback before the kill", 120, 0.1)
        (victim,) = replicas("Ingress")
        kill_replica(victim)
        for future in futures:
            future.result(timeout=300)
    print(f"ingress kill: {len(acknowledged)} events acknowledged; failed attempts (retried): {failures}")
    assert len(acknowledged) == 18
    stored = [e for e in Store(config.store_url).feedback_events() if (e.get("event_key") or "").startswith(
        "ingress-kill-")]
    assert sorted(e["event_key"] for e in stored) == sorted(acknowledged)  # each once, none lost
    assert {e["event_key"]: e["feedback_id"] for e in stored} == acknowledged
    wait_until(lambda: len(replicas("Ingress")) == 1, "Serve to replace the ingress", 120)


# ---------------------------------------------------------------- metrics
def test_our_counters_are_on_rays_prometheus_endpoint(client):
    for _ in range(3):
        assert client.post("/v1/analyze", json={"user_id": "m", "text": "measure me"}).status_code == 200
    port = ray._private.worker._global_node.metrics_export_port

    def scraped():
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        wanted = ("mmei_requests", 'route="/v1/analyze"', "mmei_stage_latency_ms", 'stage="text_encoder"')
        return text if all(w in text for w in wanted) else None

    text = wait_until(scraped, "mmei metrics on the Prometheus endpoint", 90, 2)
    assert 'status="200"' in text


# ---------------------------------------------------------------- a tight graph: overload, deadline, PostgreSQL outage
@pytest.fixture(scope="module")
def private_postgres(port_picker):
    """A PostgreSQL server of this module's own, so it can be stopped and started again."""
    folder = Path(tempfile.mkdtemp(prefix="mmei-pg-own-"))
    folder.chmod(0o755)
    port = port_picker()
    script = str(REPO / ".ci" / "postgres.sh")
    started = subprocess.run(["bash", script, "start", str(folder / "pg"), str(port)], capture_output=True, text=True)
    if started.returncode != 0:
        message = f"no PostgreSQL server could be started: {started.stderr.strip()[-300:]}"
        if os.environ.get("MMEI_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    url = started.stdout.strip().splitlines()[-1]

    def control(action: str) -> None:
        command = ["bash", script, action, str(folder / "pg")] + ([str(port)] if action == "start" else [])
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    yield url, control
    control("stop")


@pytest.fixture(scope="module")
def tight(ray_cluster, serve_bundle, private_postgres, served):
    """A second app on the same Serve instance: one slot per model replica, tiny queues,
    a 6 s deadline, an API key (so recognition needs it, by default), and a PostgreSQL store."""
    from ray import serve

    from mmei.serving.app import application
    from mmei.serving.config import load_serve_config

    url, _ = served
    config = load_serve_config(None, [f"bundle={serve_bundle}", f"store_url={private_postgres[0]}",
                                      "api_key_env=MMEI_TEST_API_KEY",
                                      "limits.request_timeout_s=6", "limits.max_queued_requests=1",
                                      "replicas.model_max_ongoing=1", "replicas.ingress_max_ongoing=32",
                                      "store.timeout_s=1"])
    serve.run(application(config), name="tight", route_prefix="/tight")
    base = f"{url}/tight"
    wait_until(lambda: httpx.get(f"{base}/healthz", timeout=5).status_code == 200, "the tight app", 120)
    yield base, config
    serve.delete("tight")


def test_overload_gets_503_with_retry_after_never_500_and_recovers(tight, api_key):
    base, _ = tight
    headers = {"X-API-Key": api_key}

    async def burst():
        async with httpx.AsyncClient(timeout=60) as session:
            return await asyncio.gather(*(session.post(f"{base}/v1/analyze", headers=headers,
                                                       json={"user_id": f"o{i}", "text": f"burst {i} of requests"})
                                          for i in range(24)))

    responses = asyncio.run(burst())
    statuses = sorted(r.status_code for r in responses)
    print(f"burst of 24 at one slot per replica: {statuses}")
    assert 503 in statuses and 500 not in statuses and set(statuses) <= {200, 503, 504}
    assert all(r.headers.get("Retry-After") and r.json()["error"] for r in responses if r.status_code == 503)
    time.sleep(1)
    assert httpx.post(f"{base}/v1/analyze", headers=headers, json={"user_id": "u", "text": "calm again"},
                      timeout=60).status_code == 200


def test_with_a_key_set_recognition_needs_it_by_default(tight, api_key):
    base, _ = tight
    for path in ("/v1/analyze", "/v1/recommend"):
        for headers in ({}, {"X-API-Key": "wrong"}):
            refused = httpx.post(f"{base}{path}", json={"user_id": "u", "text": "hi"}, headers=headers, timeout=60)
            assert refused.status_code == 401 and refused.json()["field"] == "X-API-Key", (path, refused.text)
    scheme = httpx.get(f"{base}/openapi.json", timeout=30).json()["components"]["securitySchemes"]["APIKeyHeader"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")


def test_past_the_deadline_the_client_gets_504_and_the_held_call_is_let_go(tight, api_key):
    from mmei.serving.fault_injection import BARRIER_NAME, BARRIER_NAMESPACE, HOLD_TEXT

    base, config = tight
    barrier = Barrier.options(name=BARRIER_NAME, namespace=BARRIER_NAMESPACE).remote()
    try:
        started = time.perf_counter()
        response = httpx.post(f"{base}/v1/analyze", headers={"X-API-Key": api_key},
                              json={"user_id": "u", "text": HOLD_TEXT}, timeout=60)
        seconds = time.perf_counter() - started
    finally:
        ray.get(barrier.release.remote())
        ray.kill(barrier)
    assert response.status_code == 504 and "deadline of 6 s" in response.json()["error"], response.text
    assert config.limits.request_timeout_s - 0.5 < seconds < config.limits.request_timeout_s + 3


def test_a_stopped_postgresql_gives_503_and_recovers_without_a_restart(tight, private_postgres, api_key):
    base, _ = tight
    _, control = private_postgres
    headers = {"X-API-Key": api_key}
    answer = httpx.post(f"{base}/v1/recommend", headers=headers, timeout=60,
                        json={"user_id": "pg-user", "text": "something to read", "k": 2}).json()
    event = {"request_id": answer["request_id"], "item_id": answer["items"][0]["item_id"],
             "engagement_seconds": 3.0, "satisfaction": 4}
    ingress = replicas("Ingress", app="tight")
    control("stop")
    try:
        refused = httpx.post(f"{base}/v1/feedback", headers=headers, json=event, timeout=60)
        assert refused.status_code == 503 and refused.headers["Retry-After"], refused.text
        # the driver's text (host, port) goes to the log, never to the client
        ours = refused.headers["x-request-id"].split(",")[0].strip()  # Serve's proxy appends its own id
        assert refused.json()["error"].startswith("store ") and ours in refused.text
        assert "127.0.0.1" not in refused.text and "localhost" not in refused.text and "port" not in refused.text
        assert httpx.get(f"{base}/readyz", timeout=60).status_code == 503
    finally:
        control("start")
    stored = wait_until(lambda: httpx.post(f"{base}/v1/feedback", headers=headers, json=event, timeout=60)
                        if httpx.get(f"{base}/readyz", timeout=60).status_code == 200 else None,
                        "the store to be back", 60, 1)
    assert stored.status_code == 200
    assert replicas("Ingress", app="tight") == ingress  # no restart
