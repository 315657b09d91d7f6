"""The Ingress deployment: the FastAPI app, composing the graph per request.

    POST /v1/recommend ─┬─ TextEncoder ─┐
                        ├─ AudioEncoder ├─ Fusion ─ Ranker ─ store.log ─ response
                        └─ VisualEncoder┘    (encoders run concurrently; absent modalities skipped)

The steps themselves are `flow.RecommendFlow`; here they are Serve handle calls. The
cheap checks (schema, base64, limits) run before any model, and all SQL work runs in
a thread, so the event loop never blocks on the database.
"""

# No `from __future__ import annotations` here: FastAPI must see the real request
# models on these methods, or it takes a body model for a query parameter.
import asyncio
import os
from typing import Any

from fastapi import FastAPI, Header, Query
from ray import serve
from ray.exceptions import RayActorError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError, ReplicaUnavailableError

from mmei.platform.store import NotRecommended, Store, UnknownRequest
from mmei.serving import http
from mmei.serving.api import (AnalyzeResponse, CatalogItem, ErrorResponse, FeedbackRequest, FeedbackResponse,
                              ItemsResponse, RecognitionRequest, RecommendRequest, RecommendResponse)
from mmei.serving.config import ServeConfig
from mmei.serving.errors import ApiError
from mmei.serving.flow import RecommendFlow

ERRORS = {status: {"model": ErrorResponse} for status in (401, 404, 413, 422, 503)}
REPLICA_RETRIES = 2

app = FastAPI(title="MMEI recommendation API", version="1",
              description="Recognises emotion, sentiment and intent from text, audio and frames, and ranks "
                          "AI-generated content for that state. The default catalog is SYNTHETIC.")
http.install(app)


async def call(handle, *args) -> Any:
    """One downstream call, retried when a replica died mid-request: Serve routes the
    retry to a live or restarted replica. Past the retries the client gets a 503."""
    for attempt in range(REPLICA_RETRIES + 1):
        try:
            return await handle.remote(*args)
        except (RayActorError, BackPressureError, DeploymentUnavailableError, ReplicaUnavailableError) as error:
            if attempt == REPLICA_RETRIES:
                raise ApiError(503, f"model replica unavailable, retry shortly ({type(error).__name__})") from None
            await asyncio.sleep(0.2 * (attempt + 1))


@serve.deployment
@serve.ingress(app)
class Ingress:
    def __init__(self, text_encoder, audio_encoder, visual_encoder, fusion, ranker, config: ServeConfig):
        self.config = config
        encoders = {"text": text_encoder, "audio": audio_encoder, "visual": visual_encoder}
        self.ranker = ranker
        self.store = Store(config.store_url)
        self.flow = RecommendFlow(config, self.store, encode=lambda modality, value: call(encoders[modality], value),
                                  fuse=lambda encoded: call(fusion, encoded), rank=lambda *args: call(ranker.rank, *args))
        self.api_key = os.environ.get(config.api_key_env) or None
        app.state.max_body_bytes = config.limits.max_body_bytes

    @app.post("/v1/analyze", response_model=AnalyzeResponse, responses=ERRORS)
    async def analyze(self, request: RecognitionRequest) -> dict[str, Any]:
        """Recognition only: emotion, sentiment and intent distributions and fusion weights."""
        recognition, _ = await self.flow.recognise(request)
        return {"recognition": recognition}

    @app.post("/v1/recommend", response_model=RecommendResponse, responses=ERRORS)
    async def recommend(self, request: RecommendRequest) -> dict[str, Any]:
        """Recognise the user's state, then rank the catalog for it (A/B variant by user id)."""
        return await self.flow.recommend(request)

    @app.post("/v1/feedback", response_model=FeedbackResponse, responses=ERRORS)
    async def feedback(self, event: FeedbackRequest, x_api_key: str | None = Header(default=None)) -> dict[str, Any]:
        """Store one engagement event; the answer comes only after it is committed."""
        http.check_api_key(self.api_key, x_api_key)
        try:
            feedback_id = await asyncio.to_thread(self.store.record_feedback, event.request_id, event.item_id,
                                                  event.engagement_seconds, event.satisfaction)
        except UnknownRequest as error:
            raise ApiError(404, str(error), "request_id") from None
        except NotRecommended as error:
            raise ApiError(422, str(error), "item_id") from None
        return {"stored": True, "feedback_id": feedback_id}

    @app.get("/v1/items", response_model=ItemsResponse, responses=ERRORS)
    async def items(self, offset: int = Query(default=0, ge=0, le=10**9),
                    limit: int = Query(default=50, ge=1, le=500)) -> dict[str, Any]:
        """The catalog, a page at a time."""
        total, page = await call(self.ranker.catalog, offset, limit)
        return {"total": total, "items": [CatalogItem(**item) for item in page]}

    @app.get("/v1/admin/stats", responses=ERRORS)
    async def stats(self, x_api_key: str | None = Header(default=None)) -> dict[str, Any]:
        """Recommendations served and feedback stored, per A/B variant."""
        http.check_api_key(self.api_key, x_api_key)
        return {"variants": await asyncio.to_thread(self.store.counts)}

    @app.get("/healthz")
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}
