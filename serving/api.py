"""The HTTP API's request and response models: the OpenAPI spec at /docs is built from these.

Floats refuse NaN and Inf, strings have bounds, unknown fields are errors: a request
that does not fit gets a 422 naming the field before any model runs. The bounds are
the default serving limits (a stricter `limits.*` tightens them at run time, with the
same 422).
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Strategy = Literal["congruent", "regulating"]
# Standard base64 with its padding: what the server decodes (b64decode with validate=True).
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$"
# Custom formats say what the bytes must be (OpenAPI allows any format name): a client
# generator, schemathesis in our tests, can then produce media the server accepts.
AUDIO_FORMAT = {"format": "base64-audio", "contentEncoding": "base64", "contentMediaType": "audio/wav"}
IMAGE_FORMAT = {"format": "base64-image", "contentEncoding": "base64", "contentMediaType": "image/png"}
Frame = Annotated[str, Field(min_length=4, pattern=BASE64, description="base64 PNG or JPEG",
                             json_schema_extra=IMAGE_FORMAT)]
AT_LEAST_ONE_MODALITY = [
    {"required": ["text"], "properties": {"text": {"type": "string"}}},
    {"required": ["audio"], "properties": {"audio": {"type": "string"}}},
    {"required": ["frames"], "properties": {"frames": {"type": "array", "minItems": 1}}},
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RecognitionRequest(Strict):
    """At least one of text, audio and frames. The schema says all a server checks
    without decoding; what only decoding finds (not audio, not an image, too long,
    too many pixels) is a 422 naming the field."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra={"anyOf": AT_LEAST_ONE_MODALITY})

    user_id: str = Field(min_length=1, max_length=128, description="stable id of the end user (A/B assignment)")
    text: str | None = Field(default=None, min_length=1, max_length=2000, pattern=r"\S",
                             description="what the user typed (not blank; at most limits.max_text_chars)")
    audio: str | None = Field(default=None, min_length=4, max_length=20_000_000, pattern=BASE64,
                              json_schema_extra=AUDIO_FORMAT,
                              description="base64 WAV or FLAC, at most limits.max_audio_seconds (10 s), 96 kHz, "
                                          "2 channels")
    frames: list[Frame] | None = Field(default=None, min_length=1, max_length=8,
                                       description="base64 PNG or JPEG frames (at most limits.max_frames, "
                                                   "each at most limits.max_image_pixels)")

    @model_validator(mode="after")
    def carries_a_modality(self):
        if self.text is None and self.audio is None and not self.frames:
            raise ValueError("the request carries no modality: give text, audio or frames")
        return self


class RecommendRequest(RecognitionRequest):
    k: int = Field(default=10, ge=1, le=50, description="number of items to return (at most limits.max_k)")
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
    request_id: str = Field(min_length=1, max_length=64, description="the request_id /v1/recommend answered with")
    item_id: str = Field(min_length=1, max_length=128, description="one of that answer's items")
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


class ReadinessResponse(BaseModel):
    ready: bool
    checks: dict[str, str] = Field(description="store and each model deployment: ok, or why not")


class ErrorResponse(BaseModel):
    error: str = Field(description="what is wrong")
    field: str | None = Field(default=None, description="the offending field, dotted, when there is one")
