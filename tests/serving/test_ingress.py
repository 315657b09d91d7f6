"""The recommendation graph end to end over real HTTP on 127.0.0.1."""
import httpx
import pytest

from mmei.platform.bundle import load_bundle
from mmei.platform.store import Store


def test_recommend_with_text_audio_and_frames(client, full_request):
    response = client.post("/v1/recommend", json=full_request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["items"]) == 5 and body["variant"] == "control" and body["strategy"] == "congruent"
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True) and len({i["item_id"] for i in body["items"]}) == 5
    recognition = body["recognition"]
    assert recognition["modalities"] == ["text", "audio", "visual"]
    for head in ("emotion", "sentiment", "intent"):
        assert sum(recognition[head]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert sum(recognition["fusion_weights"].values()) == pytest.approx(1.0, abs=1e-4)


def test_the_graph_recognises_exactly_what_the_bundle_predicts(client, full_row, full_request, serve_bundle):
    """Serve's split (encoder replicas → Fusion.fuse) equals the model's one forward."""
    served = client.post("/v1/analyze", json={k: v for k, v in full_request.items() if k != "k"}).json()["recognition"]
    local = load_bundle(serve_bundle).predict([full_row])[0]
    for head in ("emotion", "sentiment", "intent"):
        for label, p in local[head]["probabilities"].items():
            assert served[head]["probabilities"][label] == pytest.approx(p, abs=1e-4)
    for modality, weight in local["fusion_weights"].items():
        assert served["fusion_weights"][modality] == pytest.approx(weight, abs=1e-4)


def test_text_only_and_the_strategy_switch(client):
    base = {"user_id": "user-2", "text": "ugh, everything went wrong today and I am furious", "k": 10}
    congruent = client.post("/v1/recommend", json=base).json()
    regulating = client.post("/v1/recommend", json={**base, "strategy": "regulating"}).json()
    assert congruent["recognition"]["modalities"] == ["text"]
    assert congruent["recognition"]["fusion_weights"]["audio"] == 0.0
    assert regulating["strategy"] == "regulating"
    assert [i["item_id"] for i in congruent["items"]] != [i["item_id"] for i in regulating["items"]]


def test_feedback_is_acknowledged_only_once_stored(client, served):
    _, config = served
    answer = client.post("/v1/recommend", json={"user_id": "user-3", "text": "show me something to learn", "k": 3}).json()
    event = {"request_id": answer["request_id"], "item_id": answer["items"][1]["item_id"],
             "engagement_seconds": 42.5, "satisfaction": 4}
    assert httpx.post(f"{served[0]}/v1/feedback", json=event, timeout=60).status_code == 401  # a key is set
    stored = client.post("/v1/feedback", json=event)
    assert stored.status_code == 200 and stored.json()["stored"] is True
    events = [e for e in Store(config.store_url).feedback_events() if e["request_id"] == answer["request_id"]]
    assert [(e["item_id"], e["position"], e["satisfaction"], e["user_id"]) for e in events] == [
        (event["item_id"], 1, 4, "user-3")]
    stats = client.get("/v1/admin/stats").json()
    assert stats["variants"]["control"]["feedback"] >= 1


def test_items_health_and_docs(client):
    page = client.get("/v1/items", params={"offset": 110, "limit": 50}).json()
    assert page["total"] == 120 and len(page["items"]) == 10 and page["items"][0]["synthetic"] is True
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/recommend", "/v1/analyze", "/v1/feedback", "/v1/items", "/healthz"} <= set(paths)
