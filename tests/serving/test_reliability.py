"""Kill a TextEncoder replica under load: answers keep coming, acknowledged feedback stays stored."""
import threading
import time

import httpx
import ray

from mmei.platform.store import Store

CLIENTS, REQUESTS_EACH = 4, 12


def text_encoder_replicas() -> list[dict]:
    return [a for a in ray.util.list_named_actors(all_namespaces=True) if "#TextEncoder#" in a["name"]]


def test_killing_an_encoder_replica_under_load(served, api_key):
    url, config = served
    assert len(text_encoder_replicas()) == 2
    statuses: list[int] = []
    acknowledged: list[int] = []
    lock = threading.Lock()

    def user(number: int) -> None:
        with httpx.Client(base_url=url, timeout=120, headers={"X-API-Key": api_key}) as client:
            for i in range(REQUESTS_EACH):
                answer = client.post("/v1/recommend", json={"user_id": f"load-{number}", "k": 3,
                                                            "text": f"request {i}: something relaxing please"})
                with lock:
                    statuses.append(answer.status_code)
                if answer.status_code != 200:
                    continue
                body = answer.json()
                stored = client.post("/v1/feedback", json={
                    "request_id": body["request_id"], "item_id": body["items"][0]["item_id"],
                    "engagement_seconds": float(i), "satisfaction": 1 + i % 5})
                if stored.status_code == 200:
                    with lock:
                        acknowledged.append(stored.json()["feedback_id"])

    threads = [threading.Thread(target=user, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 300
    while len(statuses) < CLIENTS * REQUESTS_EACH // 4:
        assert time.monotonic() < deadline and any(t.is_alive() for t in threads), f"clients stalled at {statuses}"
        time.sleep(0.05)
    victim = text_encoder_replicas()[0]
    ray.kill(ray.get_actor(victim["name"], namespace=victim["namespace"]), no_restart=True)
    for thread in threads:
        thread.join(timeout=300)

    failed = [s for s in statuses if s != 200]
    print(f"replica kill: {len(statuses)} requests, {len(failed)} failed {failed}; "
          f"{len(acknowledged)} feedback events acknowledged")
    assert len(statuses) == CLIENTS * REQUESTS_EACH and not failed
    stored = {event["feedback_id"] for event in Store(config.store_url).feedback_events()}
    assert set(acknowledged) <= stored and len(acknowledged) == CLIENTS * REQUESTS_EACH
    deadline = time.time() + 60
    while len(text_encoder_replicas()) < 2 and time.time() < deadline:  # Serve replaces the replica
        time.sleep(1)
    assert len(text_encoder_replicas()) == 2
    assert victim["name"] not in {a["name"] for a in text_encoder_replicas()}
