"""The HTTP API's request and response models: the OpenAPI spec at /docs is built from these.

Floats refuse NaN and Inf, strings have bounds, unknown fields are errors: a request
that does not fit gets a 422 naming the field before any model runs.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Strategy = Literal["congruent", "regulating"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RecognitionRequest(Strict):
    user_id: str = Field(min_length=1, max_length=128, description="stable id of the end user (A/B assignment)")
    text: str | None = Field(default=None, max_length=20000, description="what the user typed")
    audio: str | None = Field(default=None, max_length=20_000_000, description="base64 WAV or FLAC")
    frames: list[str] | None = Field(default=None, max_length=64, description="base64 PNG or JPEG frames")


class RecommendRequest(RecognitionRequest):
    k: int = Field(default=10, ge=1, le=1000, description="number of items to return (capped by the server's max_k)")
    strategy: Strategy | None = Field(default=None, description="affect strategy; default: the A/B variant's")


class Distribution(BaseModel):
    label: str
    probabilities: dict[str, float]


class Recognition(BaseModel):
    emotion: Distribution
    sentiment: Distribution
    intent: Distribution
    fusion_weights: dict[str, float] = Field(description="weight per modality; 0 where absent")
    modalities: list[str] = Field(description="modalities the request carried")


class ScoredItem(BaseModel):
    item_id: str
    score: float
    title: str
    kind: str


class RecommendResponse(BaseModel):
    request_id: str
    variant: str
    strategy: Strategy
    ranker: str = Field(description="the ranker that ordered the items: affect, or learned:<bundle>")
    items: list[ScoredItem]
    recognition: Recognition


class AnalyzeResponse(BaseModel):
    recognition: Recognition


class FeedbackRequest(Strict):
    request_id: str = Field(min_length=1, max_length=64)
    item_id: str = Field(min_length=1, max_length=128)
    engagement_seconds: float = Field(ge=0.0, le=86400.0)
    satisfaction: int = Field(ge=1, le=5)


class FeedbackResponse(BaseModel):
    stored: bool
    feedback_id: int


class CatalogItem(BaseModel):
    item_id: str
    title: str
    kind: str
    tags: list[str]
    target_emotion: str
    intent_affinity: dict[str, float]
    synthetic: bool


class ItemsResponse(BaseModel):
    total: int
    items: list[CatalogItem]


class ErrorResponse(BaseModel):
    error: str = Field(description="what is wrong")
    field: str | None = Field(default=None, description="the offending field, dotted, when there is one")
