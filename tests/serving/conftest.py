"""One Serve graph for the serving tests, on the session's real Ray cluster, over real HTTP."""
from __future__ import annotations

import base64

import httpx
import pytest



@pytest.fixture(scope="session")
def api_key() -> str:
    import os

    return os.environ["MMEI_TEST_API_KEY"]  # set by tests/conftest.py before ray.init


@pytest.fixture(scope="session")
def serve_bundle(tmp_path_factory):
    """An untrained tiny MMEI bundle (real pretrained text encoder): serving needs no training."""
    import torch

    from mmei.platform.bundle import save_bundle
    from mmei.platform.config import load_config
    from mmei.platform.models.build import build_model

    torch.manual_seed(0)
    config = load_config("tiny")
    folder = tmp_path_factory.mktemp("serve") / "bundle"
    save_bundle(build_model(config, pretrained=True).eval(), config, folder, extra={"trained": False})
    return folder


@pytest.fixture(scope="session")
def served(ray_cluster, serve_bundle, tmp_path_factory, port_picker):
    """(base URL, ServeConfig): two TextEncoder replicas, so one can be killed under load."""
    from mmei.serving.config import load_serve_config
    from mmei.serving.launch import start, stop
    store = tmp_path_factory.mktemp("store") / "serve.db"
    config = load_serve_config(None, [f"bundle={serve_bundle}", f"store_url=sqlite:///{store}",
                                      f"port={port_picker()}", "api_key_env=MMEI_TEST_API_KEY",
                                      "replicas.text_encoder=2", "limits.max_body_bytes=1000000"])
    url = start(config)
    yield url, config
    stop()


@pytest.fixture(scope="session")
def client(served, api_key):
    """A client that sends the key, as a user's backend would: with a key set, recognition needs it."""
    with httpx.Client(base_url=served[0], timeout=60, headers={"X-API-Key": api_key}) as session:
        yield session


@pytest.fixture(scope="session")
def full_row(corpus_rows):
    return next(r for r in corpus_rows if r["text"] and r["audio"] and r["frames"])


@pytest.fixture(scope="session")
def full_request(full_row):
    encode = lambda data: base64.b64encode(data).decode()  # noqa: E731
    return {"user_id": "user-1", "text": full_row["text"], "audio": encode(full_row["audio"]),
            "frames": [encode(frame) for frame in full_row["frames"]], "k": 5}
