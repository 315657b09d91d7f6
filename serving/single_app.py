"""A single-process FastAPI + uvicorn app hosting the same models: what a user might
build instead of a Serve graph. Only the benchmark runs it:

    MMEI_SINGLE_APP_ARGS='["bundle=...", ...]' uvicorn --factory mmei.serving.single_app:create_app
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any

from fastapi import FastAPI, Header

from mmei.serving import http
from mmei.serving.api import RecommendRequest
from mmei.serving.config import load_serve_config
from mmei.serving.in_process import InProcessGraph


def create_app() -> FastAPI:
    config = load_serve_config(None, json.loads(os.environ.get("MMEI_SINGLE_APP_ARGS", "[]")))
    graph = InProcessGraph(config)
    if not config.access_logs:  # as Serve's logging_config does for the Ingress: no line per request
        logging.getLogger("ray.serve").setLevel(logging.WARNING)
    app = FastAPI(title="MMEI single-process app (benchmark comparator)")
    http.install(app)
    app.state.max_body_bytes = config.limits.max_body_bytes
    app.state.client_rate_per_s = config.limits.client_rate_per_s  # the same per-client limit as the Ingress
    app.state.client_burst = config.limits.client_burst

    api_key = os.environ.get(config.api_key_env) or None

    @app.post("/v1/recommend")
    async def recommend(request: RecommendRequest, x_api_key: str | None = Header(default=None)) -> dict[str, Any]:
        if config.auth.protect_recognition:  # the same check as the Ingress, so the comparison is fair
            http.check_api_key(api_key, x_api_key)
        return await graph.flow.recommend(request)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
