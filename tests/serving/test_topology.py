"""The compact topology (Ingress → Recognizer → Ranker) answers as the graph does, over real
HTTP on 127.0.0.1; the benchmark's floor mode skips the model work and nothing else."""
import base64

import pytest
from ray import serve

from mmei.serving.app import application
from mmei.serving.config import load_serve_config
from mmei.serving.in_process import InProcessGraph


@pytest.fixture(scope="module")
def compact(served, serve_bundle, tmp_path_factory):
    """The compact topology, with a key set but recognition opened on purpose (behind a gateway)."""
    url, _ = served
    store = tmp_path_factory.mktemp("compact") / "compact.db"
    serve.run(application(load_serve_config(None, [f"bundle={serve_bundle}", f"store_url=sqlite:///{store}",
                                                   "topology=compact", "api_key_env=MMEI_TEST_API_KEY",
                                                   "auth.protect_recognition=false"])),
              name="compact", route_prefix="/compact")
    yield f"{url}/compact"
    serve.delete("compact")


def test_compact_recognises_exactly_what_the_graph_does(client, compact, full_request):
    body = {k: v for k, v in full_request.items() if k != "k"}
    graph = client.post("/v1/analyze", json=body).json()["recognition"]
    answer = client.post(f"{compact}/v1/analyze", json=body)
    assert answer.status_code == 200, answer.text
    single = answer.json()["recognition"]
    for head in ("emotion", "sentiment", "intent"):
        for label, p in graph[head]["probabilities"].items():
            assert single[head]["probabilities"][label] == pytest.approx(p, abs=1e-5)
    assert single["modalities"] == graph["modalities"] == ["text", "audio", "visual"]
    recommended = client.post(f"{compact}/v1/recommend", json=full_request)
    assert recommended.status_code == 200 and len(recommended.json()["items"]) == 5
    ready = client.get(f"{compact}/readyz").json()
    assert ready["ready"] and set(ready["checks"]) == {"store", "recognizer", "ranker"}


def test_protect_recognition_false_opens_recognition_and_nothing_else(compact):
    import httpx

    body = {"user_id": "u", "text": "open to anyone who reaches the port"}
    assert httpx.post(f"{compact}/v1/analyze", json=body, timeout=60).status_code == 200
    assert httpx.get(f"{compact}/v1/admin/stats", timeout=60).status_code == 401  # the key still guards the rest


def test_media_only_decoding_finds_bad_is_a_422_naming_the_field_in_both(client, compact, full_row):
    """A truncated PNG passes the ingress's header check; the Recognizer's decoding fails it,
    and the modality crosses the replica boundary so the answer names `frames`."""
    truncated = full_row["frames"][0][:len(full_row["frames"][0]) // 2]
    body = {"user_id": "u", "text": "fine", "frames": [base64.b64encode(truncated).decode()]}
    for prefix in ("", compact):
        answer = client.post(f"{prefix}/v1/recommend", json=body)
        assert answer.status_code == 422 and answer.json()["field"] == "frames", (prefix, answer.text)


def test_the_floor_answers_every_request_with_the_first_models_answer(serve_bundle, tmp_path):
    """Floor mode: the same hops and payloads, no model work, the store write still real."""
    import asyncio

    config = load_serve_config(None, [f"bundle={serve_bundle}", f"store_url=sqlite:///{tmp_path}/f.db", "floor=true"])
    graph = InProcessGraph(config)
    first = asyncio.run(graph.recommend({"user_id": "a", "text": "I am so happy today", "k": 3}))
    second = asyncio.run(graph.recommend({"user_id": "b", "text": "furious and betrayed", "k": 3}))
    assert first["recognition"]["emotion"] == second["recognition"]["emotion"] and first["items"] == second["items"]
    assert first["request_id"] != second["request_id"] and len(graph.store.served()) == 2
    real = InProcessGraph(load_serve_config(None, [f"bundle={serve_bundle}", f"store_url=sqlite:///{tmp_path}/r.db"]))
    happy = asyncio.run(real.recommend({"user_id": "a", "text": "I am so happy today", "k": 3}))
    angry = asyncio.run(real.recommend({"user_id": "b", "text": "furious and betrayed", "k": 3}))
    assert happy["recognition"]["emotion"]["probabilities"] != angry["recognition"]["emotion"]["probabilities"]
