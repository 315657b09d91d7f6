"""A bundle whose labels no catalog targets (RAVDESS's 8 emotions, say) is still served:
recognition only, on a real 48 kHz clip and a real face, over real HTTP on 127.0.0.1.
A catalog the user names that does not fit is refused in the CLI, before Ray starts."""
import base64
import os
from pathlib import Path

import pytest
from ray import serve

from mmei.platform.config import ConfigError
from mmei.platform.user_token import user_token
from mmei.serving.app import application
from mmei.serving.config import load_serve_config

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
RAVDESS_LABELS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]


@pytest.fixture(scope="module")
def ravdess_bundle(tmp_path_factory):
    """An untrained bundle with RAVDESS's label space: what `mmei train` on RAVDESS saves."""
    import torch

    from mmei.platform.bundle import save_bundle
    from mmei.platform.config import load_config
    from mmei.platform.models.build import build_model

    torch.manual_seed(0)
    config = load_config("tiny", [f"labels.emotion=[{', '.join(RAVDESS_LABELS)}]"])
    folder = tmp_path_factory.mktemp("ravdess") / "bundle"
    save_bundle(build_model(config, pretrained=True).eval(), config, folder, extra={"trained": False})
    return folder


def test_the_shipped_catalog_does_not_fit_and_says_why_in_a_second(ravdess_bundle, tmp_path, capsys):
    from mmei.cluster.cli import main

    config = load_serve_config(None, [f"bundle={ravdess_bundle}"])
    problem = config.catalog_problem()
    assert "target_emotion" in problem and "'calm'" in problem and "mode=analyze" in problem
    own = tmp_path / "catalog.csv"
    own.write_text("item_id,title,kind,tags,target_emotion,intent_affinity\n"
                   "a,Song,music,calm;soft,contempt,{}\n")
    assert main(["serve", "--bundle", str(ravdess_bundle), f"catalog={own}"]) == 2  # before Ray: no replica logs
    error = capsys.readouterr().err
    assert "row 1: target_emotion 'contempt' is not in" in error and "Traceback" not in error
    assert load_serve_config(None, [f"bundle={ravdess_bundle}", "mode=analyze"]).check_paths() is None


USER_SECRET_ENV = "MMEI_TEST_USER_SECRET"


@pytest.fixture(scope="module")
def analyze_only(served, ravdess_bundle, tmp_path_factory):
    """Also with signed user ids on: the secret is only in this driver's environment."""
    url, _ = served
    store = tmp_path_factory.mktemp("analyze") / "analyze.db"
    config = load_serve_config(None, [f"bundle={ravdess_bundle}", f"store_url=sqlite:///{store}", "mode=analyze",
                                      "topology=compact", f"auth.user_token_env={USER_SECRET_ENV}"])
    with pytest.raises(ConfigError, match=f"{USER_SECRET_ENV}, which is not set"):
        application(config)  # named but unset: refused before anything deploys
    os.environ[USER_SECRET_ENV] = "user-signing-secret"
    try:
        serve.run(application(config), name="analyze", route_prefix="/analyze")
    finally:
        del os.environ[USER_SECRET_ENV]
    yield f"{url}/analyze"
    serve.delete("analyze")


def signed(user_id: str) -> dict:
    return {"X-User-Token": user_token("user-signing-secret", user_id)}


def test_recognition_of_a_real_48k_clip_and_a_real_face_without_a_catalog(client, analyze_only):
    clip = (SHARED / "ravdess-48k-original" / "03-01-05-02-01-01-12.wav").read_bytes()
    face = next((SHARED / "fer2013-subset" / "test" / "happy").glob("*.jpg")).read_bytes()
    for body in ({"user_id": "u1", "audio": base64.b64encode(clip).decode()},
                 {"user_id": "u1", "frames": [base64.b64encode(face).decode()]}):
        answer = client.post(f"{analyze_only}/v1/analyze", json=body, headers=signed("u1"))
        assert answer.status_code == 200, answer.text
        emotion = answer.json()["recognition"]["emotion"]
        assert list(emotion["probabilities"]) == RAVDESS_LABELS
        assert sum(emotion["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    refused = client.post(f"{analyze_only}/v1/recommend", json={"user_id": "u1", "audio": base64.b64encode(clip).decode()},
                          headers=signed("u1"))
    assert refused.status_code == 404 and "recognition only (mode=analyze)" in refused.json()["error"]
    assert client.get(f"{analyze_only}/v1/items").status_code == 404
    ready = client.get(f"{analyze_only}/readyz").json()
    assert ready["ready"] and set(ready["checks"]) == {"store", "recognizer"}


def test_with_user_tokens_on_a_caller_cannot_act_as_another_user(client, analyze_only):
    face = next((SHARED / "fer2013-subset" / "test" / "happy").glob("*.jpg")).read_bytes()
    body = {"user_id": "victim", "frames": [base64.b64encode(face).decode()]}
    for headers in ({}, signed("attacker"), {"X-User-Token": "0" * 64}):
        refused = client.post(f"{analyze_only}/v1/analyze", json=body, headers=headers)
        assert refused.status_code == 401 and refused.json()["field"] == "X-User-Token", refused.text
    assert client.post(f"{analyze_only}/v1/analyze", json=body, headers=signed("victim")).status_code == 200
