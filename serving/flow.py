"""What answering a request means, independent of where the models run.

    media → recognition (encoders concurrently, then fusion) ┬→ ranker → log → response
    the user's profile (+ log, for a learned ranker), meanwhile ┘

The Ingress runs this flow with Serve handles as its steps: in the `graph` topology
recognition is one handle call per encoder and one to Fusion, in the `compact` one a
single call to the Recognizer, which runs the same `encode_then_fuse` inside its
replica. The benchmark's in-process floor and its single-process FastAPI app run the
very same flow with direct calls, so the systems it compares do identical work.
"""
from __future__ import annotations

import asyncio
import uuid
from typing import Any, Awaitable, Callable

import numpy as np
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
RecogniseMedia = Callable[[dict[str, Any]], Awaitable[tuple[dict[str, Any], np.ndarray | None]]]
Rank = Callable[..., Awaitable[dict[str, Any]]]
StoreCall = Callable[..., Awaitable[Any]]


async def in_thread(function: Callable[..., Any], *args, **kwargs) -> Any:
    """The plain store call: in a thread, so the event loop never waits on SQL."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def none() -> None:
    return None


async def together(*steps: Awaitable[Any]) -> list[Any]:
    """Run steps concurrently; if one fails, cancel the rest and raise its error."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


class MediaError(UserInputError):
    """One modality's media that only decoding found bad: a 422 naming its field."""

    def __init__(self, modality: str, message: str):
        super().__init__(message)
        self.modality = modality

    def __reduce__(self):  # crosses replicas intact (Ray pickles the cause of a task error)
        return MediaError, (self.modality, str(self))


def user_error(error: BaseException | None) -> UserInputError | None:
    """The client's mistake inside an exception, however Ray wrapped it."""
    while error is not None:
        if isinstance(error, UserInputError):
            return error
        error = getattr(error, "cause", None) if isinstance(error, RayTaskError) else None
    return None


def encode_then_fuse(encode: Encode, fuse: Fuse) -> RecogniseMedia:
    """Recognition from media: every modality's encoder concurrently, then fusion.
    Returns (recognition, the text's unit vector or None)."""
    async def encode_one(modality: str, value: Any) -> dict[str, Any] | None:
        try:
            return await encode(modality, value)
        except Exception as error:  # noqa: BLE001 - undecodable media arrive wrapped by Ray
            cause = user_error(error)
            if cause is None:
                raise
            raise MediaError(modality, str(cause)) from None

    async def recognise(media: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray | None]:
        names = list(media)
        encoded = dict(zip(names, await asyncio.gather(*(encode_one(m, media[m]) for m in names))))
        text = encoded.get("text")
        return await fuse(encoded), text["vector"] if text else None
    return recognise


class RecommendFlow:
    def __init__(self, config: ServeConfig, store: Store, recognise_media: RecogniseMedia, rank: Rank | None,
                 store_call: StoreCall = in_thread):
        """`store_call` runs a store method: the ingress's retries within the deadline, or a plain thread."""
        self.config, self.store = config, store
        self.recognise_media, self.rank, self.store_call = recognise_media, rank, store_call

    async def recognise(self, request: RecognitionRequest) -> tuple[dict[str, Any], np.ndarray | None]:
        """(recognition, the text's unit vector or None); bad media are a 422 naming the field."""
        media = request_media(request, self.config.limits)
        try:
            recognition, text_vector = await self.recognise_media(media)
        except Exception as error:  # noqa: BLE001 - a client's bad media, however Ray wrapped it
            cause = user_error(error)
            if cause is None:
                raise
            raise ApiError(422, str(cause), FIELD_OF.get(getattr(cause, "modality", ""))) from None
        recognition["modalities"] = list(media)
        return recognition, text_vector

    async def recommend(self, request: RecommendRequest, request_id: str | None = None) -> dict[str, Any]:
        if request.k > self.config.limits.max_k:
            raise ApiError(422, f"at most {self.config.limits.max_k}", "k")
        variant = assign_variant(request.user_id, self.config.variants, self.config.ab_salt)
        strategy = request.strategy or variant.strategy
        # The user's stored data does not depend on the recognition: read it meanwhile.
        (recognition, text_vector), profile, history = await together(
            self.recognise(request), self.store_call(self.store.profile, request.user_id),
            self.store_call(self.store.user_affect, request.user_id) if variant.ranker == "learned" else none())
        request_id = request_id or uuid.uuid4().hex  # before ranking: it seeds an exploring variant's draw
        ranked = await self.rank(recognition["emotion"]["probabilities"], recognition["intent"]["probabilities"],
                                 text_vector, profile, strategy, request.k, variant.ranker, history,
                                 variant.epsilon, request_id)
        items = ranked["items"]
        await self.store_call(self.store.log_recommendation, request_id, request.user_id, variant.name, strategy,
                              [item["item_id"] for item in items], recognition["emotion"]["label"],
                              recognition["intent"]["label"], None, ranked.get("matched"), ranked.get("propensities"))
        return {"request_id": request_id, "variant": variant.name, "strategy": strategy, "ranker": ranked["ranker"],
                "items": items, "recognition": recognition}
