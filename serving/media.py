"""Request media → bytes the encoders featurize, with the server's limits applied.

Base64 is decoded and every media header is read here, in the ingress: audio length,
sample rate and channels, and each frame's pixel count. A bad or oversized payload is
a 422 naming its field before any replica decodes it (a 249 KB PNG can decode to
256 megapixels). What only decoding can find is caught by the encoders' own
featurization, which the ingress maps back to the same field.
"""
from __future__ import annotations

import base64
import binascii

from mmei.platform.features import FeatureError, check_audio_header, has_text, open_image
from mmei.serving.api import RecognitionRequest
from mmei.serving.config import Limits
from mmei.serving.errors import ApiError

FIELD_OF = {"text": "text", "audio": "audio", "visual": "frames"}


def decode_base64(value: str, field: str) -> bytes:
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "not valid base64", field) from None
    if not data:
        raise ApiError(422, "empty after base64 decoding", field)
    return data


def request_media(request: RecognitionRequest, limits: Limits) -> dict[str, object]:
    """modality → its input (str, audio bytes, list of image bytes); at least one."""
    media: dict[str, object] = {}
    if request.text is not None and has_text(request.text):
        if len(request.text) > limits.max_text_chars:
            raise ApiError(422, f"longer than {limits.max_text_chars} characters", "text")
        media["text"] = request.text
    if request.audio is not None:
        audio = decode_base64(request.audio, "audio")
        try:
            seconds = check_audio_header(audio, limits.max_audio_sample_rate, limits.max_audio_channels)
        except FeatureError as error:
            raise ApiError(422, str(error), "audio") from None
        if seconds > limits.max_audio_seconds:
            raise ApiError(422, f"{seconds:.1f} s of audio; at most {limits.max_audio_seconds:g} s", "audio")
        media["audio"] = audio
    if request.frames is not None:
        if len(request.frames) > limits.max_frames:
            raise ApiError(422, f"{len(request.frames)} frames; at most {limits.max_frames}", "frames")
        frames = [decode_base64(frame, f"frames.{i}") for i, frame in enumerate(request.frames)]
        for i, frame in enumerate(frames):
            try:
                open_image(frame, limits.max_image_pixels)
            except FeatureError as error:
                raise ApiError(422, str(error), f"frames.{i}") from None
        if frames:
            media["visual"] = frames
    if not media:
        raise ApiError(422, "the request carries no modality: give text, audio or frames", None)
    return media
