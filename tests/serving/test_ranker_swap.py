"""Swapping the learned ranker bundle under load on 127.0.0.1 loses no request, even to a
bundle that reads user history from the store."""
import threading
import time

import httpx
import torch
from ray import serve

from mmei.pipelines.sources.synthetic_catalog import KINDS
from mmei.platform.catalog import load_catalog
from mmei.platform.labels import LabelSpaces
from mmei.platform.models.ranker import RankerModel
from mmei.platform.ranker_bundle import save_ranker_bundle
from mmei.platform.ranker_features import PairFeatures
from mmei.serving.app import application
from mmei.serving.config import DEFAULT_CATALOG, load_serve_config


def ranker_bundle(folder, seed, history=False):
    labels = LabelSpaces()
    width = PairFeatures(load_catalog(DEFAULT_CATALOG, labels), labels, KINDS, history=history).width
    torch.manual_seed(seed)
    meta = {"width": width, "kinds": list(KINDS), "labels": labels.__dict__, "emotion_blind": False,
            "history": history}
    return save_ranker_bundle(RankerModel(width).state_dict(), folder, meta)


def wait_for_requests(count, threads, statuses, timeout_s=300):
    deadline = time.monotonic() + timeout_s
    while len(statuses) < count:
        assert time.monotonic() < deadline and any(t.is_alive() for t in threads), f"clients stalled at {statuses}"
        time.sleep(0.05)


def test_swapping_the_ranker_bundle_under_load_drops_nothing(served, serve_bundle, tmp_path):
    url, base = served
    # b reads each user's history: the Ranker replays it from the store's log on every request
    first, second = ranker_bundle(tmp_path / "ranker-a", 1), ranker_bundle(tmp_path / "ranker-b", 2, history=True)
    overrides = [f"bundle={serve_bundle}", f"store_url={base.store_url}", "variants=[{name: learned, ranker: learned}]"]
    serve.run(application(load_serve_config(None, [*overrides, f"ranker_bundle={first}"])), name="swap",
              route_prefix="/swap")
    statuses, rankers, feedback = [], [], []
    stop = threading.Event()

    def user(number: int) -> None:
        with httpx.Client(base_url=f"{url}/swap", timeout=120) as client:
            while not stop.is_set():
                answer = client.post("/v1/recommend", json={"user_id": f"swap-{number}", "text": "calm me", "k": 3})
                statuses.append(answer.status_code)
                if answer.status_code == 200:
                    rankers.append(answer.json()["ranker"])
                    first = answer.json()["items"][0]["item_id"]  # feedback: history for ranker-b to replay
                    feedback.append(client.post("/v1/feedback", json={
                        "request_id": answer.json()["request_id"], "item_id": first, "engagement_seconds": 20.0,
                        "satisfaction": 1 + number}).status_code)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    wait_for_requests(15, threads, statuses)
    serve.run(application(load_serve_config(None, [*overrides, f"ranker_bundle={second}"])), name="swap",
              route_prefix="/swap")  # only the Ranker's user_config differs
    deadline = time.time() + 120
    while "learned:ranker-b" not in rankers[-5:] and time.time() < deadline:
        time.sleep(0.2)
    wait_for_requests(len(statuses) + 15, threads, statuses)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    serve.delete("swap")
    failed = [s for s in statuses if s != 200]
    print(f"ranker swap: {len(statuses)} requests, {len(failed)} failed; "
          f"{rankers.count('learned:ranker-a')} by ranker-a then {rankers.count('learned:ranker-b')} by ranker-b")
    assert not failed and set(feedback) == {200}
    assert rankers[0] == "learned:ranker-a" and rankers[-1] == "learned:ranker-b"
    switch = rankers.index("learned:ranker-b")
    assert set(rankers[switch:]) == {"learned:ranker-b"}  # once swapped, never back
