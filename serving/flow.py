"""What answering a request means, independent of where the models run.

    media → encoders (concurrently) → fusion → profile (+ the user's log for a learned ranker) → ranker
      → log → response

The Ingress runs this flow with Serve handles as its steps; the benchmark's in-process
floor and its single-process FastAPI app run the very same flow with direct calls, so
the three systems it compares do identical work.
"""
from __future__ import annotations

import asyncio
import uuid
from typing import Any, Awaitable, Callable

from ray.exceptions import RayTaskError

from mmei.platform.errors import UserInputError
from mmei.platform.experiments import assign_variant
from mmei.platform.store import Store
from mmei.serving.api import RecognitionRequest, RecommendRequest
from mmei.serving.config import ServeConfig
from mmei.serving.errors import ApiError
from mmei.serving.media import FIELD_OF, request_media

Encode = Callable[[str, Any], Awaitable[dict[str, Any] | None]]
Fuse = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
Rank = Callable[..., Awaitable[list[dict[str, Any]]]]
StoreCall = Callable[..., Awaitable[Any]]


async def in_thread(function: Callable[..., Any], *args, **kwargs) -> Any:
    """The plain store call: in a thread, so the event loop never waits on SQL."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def none() -> None:
    return None


def user_error(error: BaseException | None) -> UserInputError | None:
    """The client's mistake inside an exception, however Ray wrapped it."""
    while error is not None:
        if isinstance(error, UserInputError):
            return error
        error = getattr(error, "cause", None) if isinstance(error, RayTaskError) else None
    return None


class RecommendFlow:
    def __init__(self, config: ServeConfig, store: Store, encode: Encode, fuse: Fuse, rank: Rank,
                 store_call: StoreCall = in_thread):
        """`store_call` runs a store method: the ingress's retries within the deadline, or a plain thread."""
        self.config, self.store = config, store
        self.encode, self.fuse, self.rank, self.store_call = encode, fuse, rank, store_call

    async def _encode(self, modality: str, value: Any) -> dict[str, Any] | None:
        try:
            return await self.encode(modality, value)
        except Exception as error:  # noqa: BLE001 - undecodable media arrive wrapped by Ray
            cause = user_error(error)
            if cause is None:
                raise
            raise ApiError(422, str(cause), FIELD_OF[modality]) from None

    async def recognise(self, request: RecognitionRequest) -> tuple[dict[str, Any], dict[str, Any]]:
        media = request_media(request, self.config.limits)
        names = list(media)
        encoded = dict(zip(names, await asyncio.gather(*(self._encode(m, media[m]) for m in names))))
        recognition = await self.fuse(encoded)
        recognition["modalities"] = names
        return recognition, encoded

    async def recommend(self, request: RecommendRequest, request_id: str | None = None) -> dict[str, Any]:
        if request.k > self.config.limits.max_k:
            raise ApiError(422, f"at most {self.config.limits.max_k}", "k")
        recognition, encoded = await self.recognise(request)
        variant = assign_variant(request.user_id, self.config.variants, self.config.ab_salt)
        strategy = request.strategy or variant.strategy
        profile, user_log = await asyncio.gather(  # the log is the learned ranker's user history
            self.store_call(self.store.profile, request.user_id),
            self.store_call(self.store.user_log, request.user_id) if variant.ranker == "learned" else none())
        text = encoded.get("text")
        ranked = await self.rank(recognition["emotion"]["probabilities"], recognition["intent"]["probabilities"],
                                 text["vector"] if text else None, profile, strategy, request.k, variant.ranker,
                                 user_log)
        items = ranked["items"]
        request_id = request_id or uuid.uuid4().hex
        await self.store_call(self.store.log_recommendation, request_id, request.user_id, variant.name, strategy,
                              [item["item_id"] for item in items], recognition["emotion"]["label"],
                              recognition["intent"]["label"])
        return {"request_id": request_id, "variant": variant.name, "strategy": strategy, "ranker": ranked["ranker"],
                "items": items, "recognition": recognition}
