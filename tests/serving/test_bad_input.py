"""Bad input gets a 4xx with a JSON error naming the field; the server keeps serving."""
import base64
import io

import numpy as np
import pytest
import soundfile


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(int(16000 * seconds), dtype=np.float32), 16000, format="WAV")
    return buffer.getvalue()


CASES = {
    "wrong type": ("/v1/recommend", {"user_id": "u", "text": "hi", "k": "ten"}, 422, "k"),
    "k over the limit": ("/v1/recommend", {"user_id": "u", "text": "hi", "k": 51}, 422, "k"),
    "unknown field": ("/v1/recommend", {"user_id": "u", "text": "hi", "mood": "x"}, 422, "mood"),
    "no modality": ("/v1/recommend", {"user_id": "u"}, 422, None),
    "blank text only": ("/v1/analyze", {"user_id": "u", "text": "   "}, 422, "text"),
    "audio not base64": ("/v1/recommend", {"user_id": "u", "audio": "%%%not-base64"}, 422, "audio"),
    "audio not audio": ("/v1/recommend", {"user_id": "u", "audio": b64(b"hello, not a wav")}, 422, "audio"),
    "audio too long": ("/v1/recommend", {"user_id": "u", "audio": b64(wav(12.0))}, 422, "audio"),
    "frame not an image": ("/v1/recommend", {"user_id": "u", "frames": [b64(b"GIF? no")]}, 422, "frames.0"),
    "too many frames": ("/v1/recommend", {"user_id": "u", "frames": [b64(b"x")] * 9}, 422, "frames"),
    "bad strategy": ("/v1/recommend", {"user_id": "u", "text": "hi", "strategy": "cheer"}, 422, "strategy"),
    "unknown request_id": ("/v1/feedback", {"request_id": "nope", "item_id": "syn-0001", "engagement_seconds": 3,
                                            "satisfaction": 3}, 404, "request_id"),
    "satisfaction out of range": ("/v1/feedback", {"request_id": "r", "item_id": "i", "engagement_seconds": 3,
                                                   "satisfaction": 6}, 422, "satisfaction"),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_requests_get_a_4xx_naming_the_field(client, api_key, name):
    path, body, status, field = CASES[name]
    response = client.post(path, json=body, headers={"X-API-Key": api_key})
    assert response.status_code == status, response.text
    error = response.json()
    assert error["field"] == field and error["error"]


def test_malformed_json_nan_and_oversized_bodies(client, api_key):
    headers = {"content-type": "application/json", "X-API-Key": api_key}
    malformed = client.post("/v1/recommend", content=b'{"user_id": "u", "text": ', headers=headers)
    assert malformed.status_code == 422 and "malformed JSON" in malformed.json()["error"]
    nan = client.post("/v1/feedback", headers=headers,
                      content=b'{"request_id": "r", "item_id": "i", "engagement_seconds": NaN, "satisfaction": 3}')
    assert nan.status_code == 422 and nan.json()["field"] == "engagement_seconds"
    huge = client.post("/v1/recommend", json={"user_id": "u", "text": "x" * 1_200_000}, headers=headers)
    assert huge.status_code == 413 and "over 1000000 bytes" in huge.json()["error"]


def test_feedback_for_an_item_the_request_did_not_return(client, api_key):
    answer = client.post("/v1/recommend", json={"user_id": "u9", "text": "something fun", "k": 2}).json()
    shown = {item["item_id"] for item in answer["items"]}
    other = next(f"syn-{i:04d}" for i in range(120) if f"syn-{i:04d}" not in shown)
    response = client.post("/v1/feedback", headers={"X-API-Key": api_key}, json={
        "request_id": answer["request_id"], "item_id": other, "engagement_seconds": 1, "satisfaction": 2})
    assert response.status_code == 404 and response.json()["field"] == "item_id"
    assert client.get("/healthz").status_code == 200


def test_a_foreign_host_header_is_refused_as_dns_rebinding_would_send_it(client, api_key):
    """A page at evil.example, its name rebound to 127.0.0.1, reaches the loopback server
    from a browser: its requests carry its own name in Host, and get 400 before any route."""
    stats = client.get("/v1/admin/stats", headers={"Host": "evil.example:8000"})
    assert stats.status_code == 400 and stats.json()["field"] == "Host"
    feedback = client.post("/v1/feedback", headers={"Host": "evil.example"},
                           json={"request_id": "r", "item_id": "i", "engagement_seconds": 3, "satisfaction": 3})
    assert feedback.status_code == 400
    for name in ("localhost", "127.0.0.1:8000", "[::1]:8000"):
        assert client.get("/healthz", headers={"Host": name}).status_code == 200, name
