"""Featurization: raw text, audio bytes and image bytes → fixed-size arrays plus masks.

One implementation for both sides: Ray Data calls it when preparing feature shards
and the Serve encoders call it per request, so training and serving can never
disagree on how a waveform or a frame becomes a tensor. Every function is pure and
deterministic (numpy and PIL only; no randomness, no global state but a cached
tokenizer and mel filterbank).

A missing modality becomes an all-False mask and `present[m] = False`, never a
zero-filled input that looks real.
"""
from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import soundfile
from PIL import Image, UnidentifiedImageError

from mmei.platform.config import MODALITIES, FeatureConfig
from mmei.platform.errors import UserInputError
from mmei.platform.text_weights import resolve_text_model_dir

# Fixed affine for log-mel values: keeps loudness (an emotion cue) instead of
# normalising it away per utterance, while bringing values near unit scale.
LOG_MEL_OFFSET = -6.0
LOG_MEL_SCALE = 4.0


class FeatureError(UserInputError):
    """Input that cannot be featurized: undecodable audio or image, bad shape."""


# ---------------------------------------------------------------- audio
def decode_audio(data: bytes, sample_rate: int) -> np.ndarray:
    """WAV/FLAC bytes → mono float32 waveform at `sample_rate` (linear resampling)."""
    try:
        waveform, source_rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise FeatureError(f"audio is not decodable WAV/FLAC: {error}") from None
    waveform = waveform.mean(axis=1)
    if waveform.size == 0:
        raise FeatureError("audio has no samples")
    if not np.all(np.isfinite(waveform)):
        raise FeatureError("audio contains NaN or Inf samples")
    if source_rate != sample_rate:
        duration = waveform.size / source_rate
        target = np.arange(int(round(duration * sample_rate))) / sample_rate
        waveform = np.interp(target, np.arange(waveform.size) / source_rate, waveform).astype(np.float32)
    return waveform


def audio_duration_seconds(data: bytes) -> float:
    """Duration from the header alone, so over-long clips are rejected before decoding."""
    try:
        info = soundfile.info(io.BytesIO(data))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise FeatureError(f"audio is not decodable WAV/FLAC: {error}") from None
    return info.frames / info.samplerate


def encode_wav(waveform: np.ndarray, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(waveform, -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@functools.lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular HTK-style mel filters, shape (n_fft // 2 + 1, n_mels)."""
    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)

    bins = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(sample_rate / 2)), n_mels + 2))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - bins[:, None]) / np.maximum(upper - centre, 1e-9)
    return np.clip(np.minimum(rising, falling), 0.0, None).astype(np.float32)


def log_mel(waveform: np.ndarray, features: FeatureConfig) -> np.ndarray:
    """Waveform → (frames, n_mels) scaled log-mel energies, one frame per hop."""
    win, hop = features.win_samples, features.hop_samples
    n_fft = 1 << (win - 1).bit_length()
    padded = np.pad(waveform, (win // 2, win // 2))
    count = 1 + max(0, padded.size - win) // hop
    index = np.arange(win)[None, :] + hop * np.arange(count)[:, None]
    frames = padded[index] * np.hanning(win).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, n=n_fft, axis=1)) ** 2
    # float64 accumulation: a float32 matmul's last bit depends on how many BLAS threads
    # split it (Ray actors run 1, a notebook 2+); rounded to float32 afterwards, every
    # process computes the same features.
    mel = power.astype(np.float64) @ mel_filterbank(features.sample_rate, n_fft, features.n_mels).astype(np.float64)
    return ((np.log(mel + 1e-6) - LOG_MEL_OFFSET) / LOG_MEL_SCALE).astype(np.float32)


def feature_matrix(values: Any, width: int, what: str) -> np.ndarray:
    """A pre-extracted (steps, width) matrix, checked: right width, finite values."""
    try:
        matrix = np.asarray(values, dtype=np.float32)
    except (ValueError, TypeError):
        raise FeatureError(f"{what} is not a rectangular matrix of numbers") from None
    if matrix.ndim != 2 or matrix.shape[1] != width or matrix.shape[0] == 0:
        raise FeatureError(f"{what} has shape {matrix.shape}, expected (steps, {width})")
    if not np.all(np.isfinite(matrix)):
        raise FeatureError(f"{what} contains NaN or Inf")
    return matrix


def audio_arrays(audio: np.ndarray | None, features: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Waveform or pre-extracted matrix (or None) → padded model input and its mask.

    Clips past the limit are cut: `audio_max_seconds`, or `audio_feature_steps` rows.
    """
    steps, width = features.audio_max_steps, features.audio_width
    values = np.zeros((steps, width), dtype=np.float32)
    mask = np.zeros(steps, dtype=bool)
    if audio is not None:
        if features.audio_input == "features":
            sequence = audio[:steps]
        elif features.audio_input == "waveform":
            waveform = audio[: features.audio_max_samples]
            # Wav2Vec2's own feature extractor normalises each utterance the same way.
            sequence = ((waveform - waveform.mean()) / np.sqrt(waveform.var() + 1e-7))[:, None]
        else:
            sequence = log_mel(audio[: features.audio_max_samples], features)[:steps]
        values[: len(sequence)] = sequence
        mask[: len(sequence)] = True
    return (values[:, 0] if features.audio_input == "waveform" else values), mask


# ---------------------------------------------------------------- visual
def decode_image(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise FeatureError(f"image is not decodable PNG/JPEG: {error}") from None
    return image.convert("RGB")


def image_array(image: Image.Image, size: int) -> np.ndarray:
    """RGB image → (3, size, size) float32 in [-1, 1] (ViT's default normalisation)."""
    resized = image.resize((size, size), Image.BILINEAR)
    pixels = np.asarray(resized, dtype=np.float32) / 255.0
    return ((pixels - 0.5) / 0.5).transpose(2, 0, 1).copy()


def frame_indices(count: int, max_frames: int) -> list[int]:
    """Evenly spaced frames when a clip has more than the model takes."""
    if count <= max_frames:
        return list(range(count))
    return [int(i) for i in np.linspace(0, count - 1, max_frames).round()]


def visual_arrays(frames: Sequence[Any] | None, features: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Encoded images, or pre-extracted per-frame vectors, → (max_frames, ...) and mask."""
    limit = features.max_frames
    if features.visual_input == "features":
        values = np.zeros((limit, features.visual_feature_dim), dtype=np.float32)
    else:
        values = np.zeros((limit, 3, features.image_size, features.image_size), dtype=np.float32)
    mask = np.zeros(limit, dtype=bool)
    if frames is None or len(frames) == 0:
        return values, mask
    for slot, index in enumerate(frame_indices(len(frames), limit)):
        if features.visual_input == "features":
            values[slot] = frames[index]
        else:
            values[slot] = image_array(decode_image(frames[index]), features.image_size)
        mask[slot] = True
    return values, mask


# ---------------------------------------------------------------- text
class Tokenizer:
    """Pads and truncates to a fixed length; `tokenizers` when tokenizer.json exists.

    The Rust `tokenizers` library loads in ~0.03 s and gives the same ids as
    transformers' BERT tokenizer (a test checks); importing transformers costs ~3 s,
    paid by every Ray actor and Serve replica. Folders with only vocab.txt fall back
    to transformers.
    """

    def __init__(self, folder: Path, length: int):
        self.length = length
        if (folder / "tokenizer.json").is_file():
            from tokenizers import Tokenizer as RustTokenizer

            self.fast = RustTokenizer.from_file(str(folder / "tokenizer.json"))
            pad = self.fast.token_to_id("[PAD]") or 0
            self.fast.enable_truncation(max_length=length)
            self.fast.enable_padding(length=length, pad_id=pad, pad_token="[PAD]")
            self.slow = None
        else:
            from transformers import AutoTokenizer

            self.fast = None
            self.slow = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if self.fast is not None:
            encoded = self.fast.encode_batch(texts)
            return (np.array([e.ids for e in encoded], dtype=np.int64),
                    np.array([e.attention_mask for e in encoded], dtype=np.int64))
        encoded = self.slow(texts, padding="max_length", truncation=True, max_length=self.length, return_tensors="np")
        return encoded["input_ids"].astype(np.int64), encoded["attention_mask"].astype(np.int64)


@functools.lru_cache(maxsize=4)
def load_tokenizer(path: str | None, length: int) -> Tokenizer:
    return Tokenizer(resolve_text_model_dir(path), length)


def has_text(text: str | None) -> bool:
    """Empty or whitespace-only text counts as a missing text modality."""
    return text is not None and bool(text.strip())


def text_arrays(texts: Sequence[str | None], features: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Batch of texts → (B, L) int64 token ids and attention masks; None → all padding."""
    length = features.text_max_tokens
    ids = np.zeros((len(texts), length), dtype=np.int64)
    mask = np.zeros((len(texts), length), dtype=np.int64)
    rows = [i for i, text in enumerate(texts) if has_text(text)]
    if rows:
        ids[rows], mask[rows] = load_tokenizer(features.tokenizer_path, length)([texts[i] for i in rows])
    return ids, mask


# ---------------------------------------------------------------- rows
def row_audio(row: dict[str, Any], features: FeatureConfig) -> np.ndarray | None:
    """The row's audio in the form the config asks for: decoded waveform or feature matrix."""
    if features.audio_input == "features":
        values = row.get("audio_features")
        return None if values is None else feature_matrix(values, features.audio_feature_dim, "audio_features")
    return decode_audio(row["audio"], features.sample_rate) if row.get("audio") else None


def row_visual(row: dict[str, Any], features: FeatureConfig) -> Sequence[Any] | None:
    """Encoded frames, or the checked (frames, dim) matrix of pre-extracted vectors."""
    if features.visual_input == "features":
        values = row.get("visual_features")
        return None if values is None else feature_matrix(values, features.visual_feature_dim, "visual_features")
    return row.get("frames")


FEATURE_KEYS = ("input_ids", "attention_mask", "audio", "audio_mask", "frames", "frame_mask", "present")


def featurize_batch(rows: Sequence[dict[str, Any]], features: FeatureConfig) -> dict[str, np.ndarray]:
    """Modality-shard rows (dicts with text / audio / frames) → stacked feature arrays.

    Raises FeatureError on undecodable media; callers that must not stop on a bad row
    (Ray Data preparation) validate rows first and quarantine the failures.
    """
    input_ids, attention_mask = text_arrays([row.get("text") for row in rows], features)
    audio, audio_mask, frames, frame_mask, present = [], [], [], [], []
    for row in rows:
        values, mask = audio_arrays(row_audio(row, features), features)
        audio.append(values)
        audio_mask.append(mask)
        present_audio = bool(mask.any())
        values, mask = visual_arrays(row_visual(row, features), features)
        frames.append(values)
        frame_mask.append(mask)
        present.append([has_text(row.get("text")), present_audio, bool(mask.any())])
    empty_audio, empty_audio_mask = audio_arrays(None, features)  # shapes for a batch of none
    empty_frames, empty_frame_mask = visual_arrays(None, features)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "audio": _stack(audio, empty_audio),
        "audio_mask": _stack(audio_mask, empty_audio_mask),
        "frames": _stack(frames, empty_frames),
        "frame_mask": _stack(frame_mask, empty_frame_mask),
        "present": np.asarray(present, dtype=bool).reshape(len(rows), len(MODALITIES)),
    }


def _stack(items: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    return np.stack(items) if items else np.zeros((0, *like.shape), dtype=like.dtype)


def to_tensors(batch: dict[str, np.ndarray]) -> dict[str, "torch.Tensor"]:
    """Feature arrays → torch tensors (the model's input dict)."""
    import torch

    return {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in batch.items()}


def modality_batch(modality: str, value: Any, features: FeatureConfig) -> dict[str, np.ndarray]:
    """One request's input for one modality → that encoder's batch of one.

    text: a string; audio: WAV/FLAC bytes; visual: a list of PNG/JPEG bytes. The same
    functions as featurize_batch, so Serve featurizes exactly as training did.
    """
    if modality == "text":
        ids, mask = text_arrays([value], features)
        return {"input_ids": ids, "attention_mask": mask}
    if modality == "audio":
        values, mask = audio_arrays(decode_audio(value, features.sample_rate), features)
        return {"audio": values[None], "audio_mask": mask[None]}
    if modality == "visual":
        values, mask = visual_arrays(value, features)
        return {"frames": values[None], "frame_mask": mask[None]}
    raise ValueError(f"unknown modality {modality!r}; modalities are {MODALITIES}")
