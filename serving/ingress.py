"""The Ingress deployment: the FastAPI app, composing the graph per request.

    POST /v1/recommend ─┬─ TextEncoder ─┐
                        ├─ AudioEncoder ├─ Fusion ─ Ranker ─ store.log ─ response
                        └─ VisualEncoder┘    (encoders run concurrently; absent modalities skipped)

    topology compact:  POST /v1/recommend ─ Recognizer ─ Ranker ─ store.log ─ response

The steps themselves are `flow.RecommendFlow`; here they are Serve handle calls. The
cheap checks (schema, base64, media headers, limits) run before any model, and all SQL
work runs in a thread, so the event loop never blocks on the database.

Under real traffic:
- one deadline per request (`limits.request_timeout_s`) bounds every call: past it, 504;
- a full downstream queue (`limits.max_queued_requests`) is a 503 with Retry-After at
  once, never retried here (retrying an overload makes it worse);
- a replica that died mid-request is retried, with backoff, within the deadline;
- a store that is down or locked is retried with jitter within the deadline, then 503;
- `/healthz` is liveness; `/readyz` checks the store and every model deployment;
  Serve's `check_health` pings the store.
"""

# No `from __future__ import annotations` here: FastAPI must see the real request
# models on these methods, or it takes a body model for a query parameter.
import asyncio
import functools
import os
import random
import time
from typing import Any, Awaitable, Callable

from fastapi import FastAPI, Header, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from ray import serve
from ray.exceptions import RayActorError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError, ReplicaUnavailableError

from mmei.platform.store import KeyReused, NotRecommended, Store, StoreUnavailable, UnknownRequest
from mmei.platform.user_token import valid_user_token
from mmei.serving import http
from mmei.serving.api import (AnalyzeResponse, CatalogItem, ErrorResponse, FeedbackRequest, FeedbackResponse,
                              ItemsResponse, ReadinessResponse, RecognitionRequest, RecommendRequest,
                              RecommendResponse)
from mmei.serving.config import ServeConfig
from mmei.serving.deadline import remaining, within
from mmei.serving.drain import DrainState, watch
from mmei.serving.errors import ApiError, unavailable
from mmei.serving.flow import RecommendFlow, encode_then_fuse
from mmei.serving.metrics import ServingMetrics
from mmei.serving.prune_schedule import PruneSchedule

ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 404, 409, 413, 422, 503, 504)}
RECOGNITION_SECURITY = {"security": [{}, {"APIKeyHeader": []}]}  # the key, when the server has one (auth.protect_recognition)
# What a client does next: send feedback for one of the items it was shown.
FEEDBACK_LINK = {"responses": {"200": {"links": {"SendFeedback": {
    "operationId": "feedback", "description": "feedback for the first recommended item",
    "requestBody": {"request_id": "$response.body#/request_id", "item_id": "$response.body#/items/0/item_id",
                    "engagement_seconds": 30.0, "satisfaction": 4}}}}}}
DIED = (RayActorError, DeploymentUnavailableError, ReplicaUnavailableError)
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="the key in the env var the server's api_key_env names")

app = FastAPI(title="MMEI recommendation API", version="1",
              description="Recognises emotion, sentiment and intent from text, audio and frames, and ranks "
                          "AI-generated content for that state. The default catalog is SYNTHETIC.")
http.install(app)


def backoff(attempt: int) -> float:
    """Exponential, capped, with jitter: retries of many requests spread out instead of stampeding."""
    return min(0.05 * 2 ** attempt, 1.0) * random.uniform(0.5, 1.5)


@serve.deployment
@serve.ingress(app)
class Ingress:
    def __init__(self, ranker, config: ServeConfig, **models):
        """`models`: text_encoder, audio_encoder, visual_encoder and fusion (topology graph),
        or recognizer (topology compact): handles, named as their deployments."""
        self.config, self.ranker, self.models = config, ranker, models
        self.catalog: list[CatalogItem] | None = None  # /v1/items, once the Ranker has sent it
        options = config.store
        self.store = Store(config.store_url, timeout_s=options.timeout_s, pool_size=options.pool_size,
                           max_overflow=options.max_overflow, pool_recycle_s=options.pool_recycle_s, create=False)
        self.metrics = ServingMetrics()
        self.pruning = PruneSchedule(self.store, options.retention_days, options.prune_every_h * 3600).start()
        if "recognizer" in models:
            recognise = functools.partial(self.call, models["recognizer"], "recognizer")
        else:
            recognise = encode_then_fuse(
                lambda modality, value: self.call(models[f"{modality}_encoder"], f"{modality}_encoder", value),
                functools.partial(self.call, models["fusion"], "fusion"))
        rank = functools.partial(self.call, ranker.rank, "ranker") if ranker is not None else None
        self.flow = RecommendFlow(config, self.store, recognise, rank, store_call=self.store_call)
        self.api_key = os.environ.get(config.api_key_env) or None
        config.check_auth(self.api_key)  # fails closed here, where the key is enforced, not only in a driver
        self.user_secret = config.user_secret(os.environ)  # likewise: named but unset fails here
        app.state.max_body_bytes = config.limits.max_body_bytes
        app.state.request_timeout_s = config.limits.request_timeout_s
        app.state.retry_after_s = config.limits.retry_after_s
        app.state.client_rate_per_s = config.limits.client_rate_per_s
        app.state.client_burst = config.limits.client_burst
        app.state.metrics = self.metrics
        app.state.allowed_hosts = config.trusted_hosts()
        app.state.drain = DrainState()
        watch(app.state.drain)  # `mmei serve`'s stop drains this replica first (drain.py)

    async def call(self, handle, stage: str, *args) -> Any:
        """One downstream call within the request's deadline. A dead replica is retried
        (Serve routes the retry to a live or restarted one); a full queue is a 503 now."""
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                result = await within(handle.remote(*args), stage)
                self.metrics.stage_done(stage, started)
                return result
            except BackPressureError:
                raise unavailable(f"overloaded: {stage} is at its queue limit; retry shortly",
                                  self.config.limits.retry_after_s) from None
            except DIED as error:
                wait = backoff(attempt)
                if (remaining(stage) or 0) <= wait:
                    raise unavailable(f"{stage} unavailable ({type(error).__name__})",
                                      self.config.limits.retry_after_s) from None
                attempt += 1
                await asyncio.sleep(wait)

    async def store_call(self, function: Callable[..., Any], *args, **kwargs) -> Any:
        """A store call in a thread, within the deadline. An outage is retried with jitter
        while a whole attempt (`store.timeout_s`) still fits before the deadline; then the
        client gets the 503 that names the store, not a 504."""
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                await asyncio.to_thread(self.store.ensure_schema)
                result = await within(asyncio.to_thread(function, *args, **kwargs), "store")
                self.metrics.stage_done("store", started)
                return result
            except StoreUnavailable as error:
                wait = backoff(attempt)
                if (remaining("store") or 0) <= wait + self.config.store.timeout_s:
                    raise error  # 503 without the driver's text, which the handler logs (http.py)
                attempt += 1
                await asyncio.sleep(wait)

    def check_api_key(self, given: str | None) -> None:
        http.check_api_key(self.api_key, given)

    def check_user_token(self, user_id: str, token: str | None) -> None:
        if self.user_secret is not None and not valid_user_token(self.user_secret, user_id, token):
            raise ApiError(401, "missing or wrong X-User-Token for this user_id (auth.user_token_env is on)",
                           "X-User-Token", {"WWW-Authenticate": "UserToken"})

    def check_recommending(self) -> None:
        """mode analyze deploys no Ranker: the routes that rank say so instead of failing."""
        if self.ranker is None:
            raise ApiError(404, "this deployment serves recognition only (mode=analyze): POST /v1/analyze; it has no "
                                "catalog whose target emotions match the model's labels to recommend from")

    @app.post("/v1/analyze", response_model=AnalyzeResponse, responses=ERRORS, openapi_extra=RECOGNITION_SECURITY,
              operation_id="analyze")
    async def analyze(self, request: RecognitionRequest, x_api_key: str | None = Header(default=None),
                      x_user_token: str | None = Header(default=None, max_length=128)) -> dict[str, Any]:
        """Recognition only: emotion, sentiment and intent distributions and fusion weights."""
        if self.config.auth.protect_recognition:
            self.check_api_key(x_api_key)
        self.check_user_token(request.user_id, x_user_token)
        recognition, _ = await self.flow.recognise(request)
        return {"recognition": recognition}

    @app.post("/v1/recommend", response_model=RecommendResponse, responses=ERRORS,
              openapi_extra={**RECOGNITION_SECURITY, **FEEDBACK_LINK}, operation_id="recommend")
    async def recommend(self, request: RecommendRequest, http_request: Request,
                        x_api_key: str | None = Header(default=None),
                        x_user_token: str | None = Header(default=None, max_length=128)) -> dict[str, Any]:
        """Recognise the user's state, then rank the catalog for it (A/B variant by user id).

        Its `request_id` is the id to send feedback for (and the X-Request-ID header)."""
        if self.config.auth.protect_recognition:
            self.check_api_key(x_api_key)
        self.check_user_token(request.user_id, x_user_token)
        self.check_recommending()
        answer = await self.flow.recommend(request, request_id=http_request.state.request_id)
        http_request.state.variant = answer["variant"]
        return answer

    @app.post("/v1/feedback", response_model=FeedbackResponse, responses=ERRORS, operation_id="feedback")
    async def feedback(self, event: FeedbackRequest, http_request: Request,
                       idempotency_key: str | None = Header(default=None, min_length=1, max_length=128,
                                                            description="a client's key for this event: a retry with "
                                                                        "the same key is stored once"),
                       x_api_key: str | None = Security(api_key_header)) -> Any:
        """Store one engagement event; the answer comes only after it is committed.

        With an Idempotency-Key header, sending the event again returns the original
        acknowledgement and changes nothing (header Idempotent-Replayed: true); the same key
        with a different event is a 409. Without one, a repeated event is stored again."""
        self.check_api_key(x_api_key)
        key = idempotency_key or None
        try:
            feedback_id, replayed = await self.store_call(
                self.store.record_feedback, event.request_id, event.item_id, event.engagement_seconds,
                event.satisfaction, event_key=key)
        except UnknownRequest as error:
            raise ApiError(404, str(error), "request_id") from None
        except NotRecommended as error:  # no such (recommendation, item) pair: not found
            raise ApiError(404, str(error), "item_id") from None
        except KeyReused as error:  # the key's stored event conflicts with this one
            raise ApiError(409, str(error), "Idempotency-Key") from None
        self.metrics.feedback.inc(tags={"replayed": str(replayed).lower()})
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return JSONResponse({"stored": True, "feedback_id": feedback_id}, headers=headers)

    @app.get("/v1/items", response_model=ItemsResponse, responses=ERRORS, operation_id="items")
    async def items(self, offset: int = Query(default=0, ge=0, le=10**9),
                    limit: int = Query(default=50, ge=1, le=500)) -> dict[str, Any]:
        """The catalog, a page at a time."""
        self.check_recommending()
        if self.catalog is None:  # fetched from the Ranker once: a deployment's catalog never changes
            _, page = await self.call(self.ranker.catalog, "ranker", 0, 10**9)
            self.catalog = [CatalogItem(**item) for item in page]
        return {"total": len(self.catalog), "items": self.catalog[offset:offset + limit]}

    @app.get("/v1/admin/stats", responses=ERRORS, operation_id="admin_stats")
    async def stats(self, x_api_key: str | None = Security(api_key_header)) -> dict[str, Any]:
        """Recommendations served and feedback stored, per A/B variant."""
        self.check_api_key(x_api_key)
        return {"variants": await self.store_call(self.store.counts)}

    @app.get("/healthz", operation_id="healthz")
    async def healthz(self) -> dict[str, str]:
        """Liveness: this replica answers. Readiness is /readyz."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=ReadinessResponse, responses={503: {"model": ReadinessResponse}},
             operation_id="readyz")
    async def readyz(self) -> Any:
        """Ready when the store answers and every model deployment answers, each within 2 s."""
        async def probe(check: Awaitable[Any]) -> str:
            try:
                await asyncio.wait_for(check, 2.0)
                return "ok"
            except Exception as error:  # noqa: BLE001 - any failure means not ready; say which
                return f"unavailable: {type(error).__name__}"

        checks = {"store": asyncio.to_thread(self.store.ping),
                  **{name: handle.ready.remote() for name, handle in self.models.items()},
                  **({"ranker": self.ranker.ready.remote()} if self.ranker is not None else {})}
        results = dict(zip(checks, await asyncio.gather(*(probe(check) for check in checks.values()))))
        ready = all(result == "ok" for result in results.values())
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    def check_health(self) -> None:
        """Serve's periodic health check: a replica that cannot reach its store is unhealthy."""
        self.store.ping()

