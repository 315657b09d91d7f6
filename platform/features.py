"""Featurization: raw text, audio bytes and image bytes → arrays the model reads.

Two steps, one implementation for both sides:
1. `compact_rows`: each row's modalities as the arrays that exist, unpadded: token ids,
   the clip's log-mel steps (or waveform, or pre-extracted matrix), the chosen frames
   as uint8 pixels (or pre-extracted vectors); None for an absent modality. Ray Data
   stores exactly these in the feature shards, so an absent modality costs nothing.
2. `pad_batch`: compact rows → fixed-size arrays plus masks and `present`, the model's
   input. Training's collate runs it on shard rows; `featurize_batch` (Serve) runs
   both steps on requests. Training and serving can never disagree on how a waveform
   or a frame becomes a tensor.
Every function is pure and deterministic (numpy, scipy and PIL; no randomness, no
global state but a cached tokenizer and mel filterbank). A missing modality becomes an
all-False mask and `present[m] = False`, never a zero-filled input that looks real.
"""
from __future__ import annotations

import functools
import io
import math
import re
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


class AudioDecodeError(FeatureError):
    """Audio that is not decodable WAV/FLAC, or has no samples."""


class ImageDecodeError(FeatureError):
    """An image that is not a decodable PNG/JPEG."""


class MediaTooLarge(FeatureError):
    """Media whose header promises more than the limits: pixels, sample rate, channels.
    Checked before decoding, so a small file that would decode to hundreds of MB never is."""


# ---------------------------------------------------------------- audio
OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def plain(error: Exception) -> str:
    """A decoder's message without Python object reprs (`<_io.BytesIO object at 0x7f…>`):
    it reaches clients in 422 bodies, which name the problem, never memory addresses."""
    return OBJECT_REPR.sub("the data", str(error))


def decode_audio(data: bytes, sample_rate: int) -> np.ndarray:
    """WAV/FLAC bytes → mono float32 waveform at `sample_rate`.

    Resampling is polyphase with an anti-aliasing filter (scipy's resample_poly):
    real recordings come at 44.1 or 48 kHz, and linear interpolation folds everything
    above the new Nyquist frequency back into the band the model hears.
    """
    try:
        waveform, source_rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioDecodeError(f"audio is not decodable WAV/FLAC: {plain(error)}") from None
    waveform = waveform.mean(axis=1)
    if waveform.size == 0:
        raise AudioDecodeError("audio has no samples")
    if not np.all(np.isfinite(waveform)):
        raise AudioDecodeError("audio contains NaN or Inf samples")
    if source_rate != sample_rate:
        from scipy.signal import resample_poly

        common = math.gcd(int(source_rate), int(sample_rate))
        waveform = resample_poly(waveform, sample_rate // common, int(source_rate) // common).astype(np.float32)
    return waveform


def audio_header(data: bytes) -> tuple[float, int, int]:
    """(seconds, sample rate, channels) from the header alone, before any decoding."""
    try:
        info = soundfile.info(io.BytesIO(data))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioDecodeError(f"audio is not decodable WAV/FLAC: {plain(error)}") from None
    if info.samplerate <= 0:
        raise AudioDecodeError("audio header gives no sample rate")
    return info.frames / info.samplerate, int(info.samplerate), int(info.channels)


def audio_duration_seconds(data: bytes) -> float:
    """Duration from the header alone, so over-long clips are rejected before decoding."""
    return audio_header(data)[0]


def check_audio_header(data: bytes, max_sample_rate: int, max_channels: int) -> float:
    """The clip's seconds, once its header is within the rate and channel limits."""
    seconds, rate, channels = audio_header(data)
    if rate > max_sample_rate:
        raise MediaTooLarge(f"audio at {rate} Hz; at most {max_sample_rate} Hz")
    if channels > max_channels:
        raise MediaTooLarge(f"audio with {channels} channels; at most {max_channels}")
    return seconds


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


def audio_steps(audio: np.ndarray | None, features: FeatureConfig) -> np.ndarray | None:
    """A decoded waveform or a pre-extracted matrix → the steps the model reads, unpadded.

    Log-mel frames of at most `audio_max_seconds`; the normalised waveform for Wav2Vec2;
    or a pre-extracted matrix subsampled evenly to `max_feature_steps`, by the same
    rule as visual features, so the two stay aligned. None when there is nothing.
    """
    if audio is None or len(audio) == 0:
        return None
    if features.audio_input == "features":
        return np.ascontiguousarray(audio[frame_indices(len(audio), features.max_feature_steps)], dtype=np.float32)
    waveform = audio[: features.audio_max_samples]
    if features.audio_input == "waveform":
        # Wav2Vec2's own feature extractor normalises each utterance the same way.
        return ((waveform - waveform.mean()) / np.sqrt(waveform.var() + 1e-7)).astype(np.float32)
    return log_mel(waveform, features)[: features.audio_max_steps]


# ---------------------------------------------------------------- visual
def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """The image with its header read and its size checked; nothing decoded yet."""
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise MediaTooLarge(f"image too large: {plain(error)}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageDecodeError(f"image is not decodable PNG/JPEG: {plain(error)}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise MediaTooLarge(f"image of {width}x{height} = {width * height / 1e6:.1f} Mpx; at most "
                            f"{max_pixels / 1e6:g} Mpx")
    return image


def decode_image(data: bytes, max_pixels: int = 16_000_000) -> Image.Image:
    """PNG/JPEG bytes → RGB image, refusing more than `max_pixels` before decoding.
    Every decoder failure is an ImageDecodeError (or MediaTooLarge), never a crash."""
    image = open_image(data, max_pixels)
    try:
        image.load()
        return image.convert("RGB")
    except Image.DecompressionBombError as error:
        raise MediaTooLarge(f"image too large: {plain(error)}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageDecodeError(f"image is not decodable PNG/JPEG: {plain(error)}") from None


def image_pixels(image: Image.Image, size: int) -> np.ndarray:
    """RGB image → (3, size, size) uint8: what feature shards store per frame."""
    return np.asarray(image.resize((size, size), Image.BILINEAR), dtype=np.uint8).transpose(2, 0, 1).copy()


def normalised_pixels(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels → float32 in [-1, 1] (ViT's default normalisation; VitFrames maps it
    to its own processor's mean and std)."""
    return (pixels.astype(np.float32) / 255.0 - 0.5) / 0.5


def frame_indices(count: int, limit: int) -> list[int]:
    """Evenly spaced indices when a sequence has more steps than the model takes."""
    if count <= limit:
        return list(range(count))
    return [int(i) for i in np.linspace(0, count - 1, limit).round()]


def visual_steps(frames: Sequence[Any] | None, features: FeatureConfig) -> np.ndarray | None:
    """Encoded images → the chosen frames as (F, 3, S, S) uint8; a pre-extracted matrix →
    its steps subsampled to `max_feature_steps` (F, D); None when there are none."""
    if frames is None or len(frames) == 0:
        return None
    chosen = frame_indices(len(frames), features.visual_max_steps)
    if features.visual_input == "features":
        return np.ascontiguousarray(np.asarray(frames, dtype=np.float32)[chosen])
    return np.stack([image_pixels(decode_image(frames[i], features.max_image_pixels), features.image_size)
                     for i in chosen])


# ---------------------------------------------------------------- text
class Tokenizer:
    """Token ids, truncated to a fixed length, unpadded; `tokenizers` when tokenizer.json exists.

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
            self.fast.no_padding()
            self.fast.enable_truncation(max_length=length)
            self.slow = None
        else:
            from transformers import AutoTokenizer

            self.fast = None
            self.slow = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)

    def __call__(self, texts: list[str]) -> list[np.ndarray]:
        if self.fast is not None:
            return [np.asarray(encoded.ids, dtype=np.int32) for encoded in self.fast.encode_batch(texts)]
        encoded = self.slow(texts, truncation=True, max_length=self.length)
        return [np.asarray(ids, dtype=np.int32) for ids in encoded["input_ids"]]


@functools.lru_cache(maxsize=4)
def load_tokenizer(path: str | None, length: int) -> Tokenizer:
    return Tokenizer(resolve_text_model_dir(path), length)


def has_text(text: str | None) -> bool:
    """Empty or whitespace-only text counts as a missing text modality."""
    return text is not None and bool(text.strip())


def text_tokens(texts: Sequence[str | None], features: FeatureConfig) -> list[np.ndarray | None]:
    """Each text's token ids (with [CLS] and [SEP], at most text_max_tokens); None for no text."""
    tokens: list[np.ndarray | None] = [None] * len(texts)
    rows = [i for i, text in enumerate(texts) if has_text(text)]
    if rows:
        encoded = load_tokenizer(features.tokenizer_path, features.text_max_tokens)([texts[i] for i in rows])
        for i, ids in zip(rows, encoded):
            tokens[i] = ids
    return tokens


def text_arrays(texts: Sequence[str | None], features: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Batch of texts → (B, L) int64 token ids and attention masks; None → all padding."""
    batch = pad_batch([{"tokens": t, "audio": None, "frames": None} for t in text_tokens(texts, features)], features)
    return batch["input_ids"], batch["attention_mask"]


# ---------------------------------------------------------------- rows
def row_audio(row: dict[str, Any], features: FeatureConfig) -> np.ndarray | None:
    """The row's audio in the form the config asks for: decoded waveform or feature matrix."""
    if features.audio_input == "features":
        values = row.get("audio_features")
        return None if values is None else feature_matrix(values, features.audio_feature_dim, "audio_features")
    if not row.get("audio"):
        return None
    check_audio_header(row["audio"], features.audio_max_sample_rate, features.audio_max_channels)
    return decode_audio(row["audio"], features.sample_rate)


def row_visual(row: dict[str, Any], features: FeatureConfig) -> Sequence[Any] | None:
    """Encoded frames, or the checked (frames, dim) matrix of pre-extracted vectors."""
    if features.visual_input == "features":
        values = row.get("visual_features")
        return None if values is None else feature_matrix(values, features.visual_feature_dim, "visual_features")
    return row.get("frames")


FEATURE_KEYS = ("input_ids", "attention_mask", "audio", "audio_mask", "frames", "frame_mask", "present")
COMPACT_KEYS = ("tokens", "audio", "frames")
Compact = dict[str, "np.ndarray | None"]


def compact_row(row: dict[str, Any], tokens: np.ndarray | None, features: FeatureConfig) -> Compact:
    return {"tokens": tokens, "audio": audio_steps(row_audio(row, features), features),
            "frames": visual_steps(row_visual(row, features), features)}


def compact_rows(rows: Sequence[dict[str, Any]], features: FeatureConfig) -> list[Compact]:
    """Modality-shard rows (dicts with text / audio / frames) → each row's unpadded arrays.

    Raises FeatureError (AudioDecodeError, ImageDecodeError) on undecodable media.
    """
    tokens = text_tokens([row.get("text") for row in rows], features)
    return [compact_row(row, ids, features) for row, ids in zip(rows, tokens)]


def pad_batch(items: Sequence[Compact], features: FeatureConfig) -> dict[str, np.ndarray]:
    """Compact rows → the model's fixed-size arrays, masks and `present` (B, 3)."""
    n, length = len(items), features.text_max_tokens
    steps, frames_max = features.audio_max_steps, features.visual_max_steps
    audio_shape = (n, steps) if features.audio_input == "waveform" else (n, steps, features.audio_width)
    frame_shape = ((features.visual_feature_dim,) if features.visual_input == "features"
                   else (3, features.image_size, features.image_size))
    batch = {
        "input_ids": np.zeros((n, length), np.int64), "attention_mask": np.zeros((n, length), np.int64),
        "audio": np.zeros(audio_shape, np.float32), "audio_mask": np.zeros((n, steps), bool),
        "frames": np.zeros((n, frames_max, *frame_shape), np.float32), "frame_mask": np.zeros((n, frames_max), bool),
        "present": np.zeros((n, len(MODALITIES)), bool),
    }
    for i, item in enumerate(items):
        tokens, audio, frames = item["tokens"], item["audio"], item["frames"]
        if tokens is not None and len(tokens):
            count = min(len(tokens), length)
            batch["input_ids"][i, :count] = tokens[:count]
            batch["attention_mask"][i, :count] = 1
            batch["present"][i, 0] = True
        if audio is not None and len(audio):
            count = min(len(audio), steps)
            batch["audio"][i, :count] = audio[:count]
            batch["audio_mask"][i, :count] = True
            batch["present"][i, 1] = True
        if frames is not None and len(frames):
            count = min(len(frames), frames_max)
            kept = frames[:count]
            batch["frames"][i, :count] = normalised_pixels(kept) if kept.dtype == np.uint8 else kept
            batch["frame_mask"][i, :count] = True
            batch["present"][i, 2] = True
    return batch


def featurize_batch(rows: Sequence[dict[str, Any]], features: FeatureConfig) -> dict[str, np.ndarray]:
    """Modality-shard rows → the model's input arrays: what Serve and evaluation use.

    Raises FeatureError on undecodable media; callers that must not stop on a bad row
    (Ray Data preparation) validate rows first and quarantine the failures.
    """
    return pad_batch(compact_rows(rows, features), features)


def to_tensors(batch: dict[str, np.ndarray]) -> dict[str, "torch.Tensor"]:
    """Feature arrays → torch tensors (the model's input dict)."""
    import torch

    return {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in batch.items()}


MODALITY_KEYS = {"text": ("input_ids", "attention_mask"), "audio": ("audio", "audio_mask"),
                 "visual": ("frames", "frame_mask")}


def modality_batch(modality: str, value: Any, features: FeatureConfig) -> dict[str, np.ndarray]:
    """One request's input for one modality → that encoder's batch of one.

    text: a string; audio: WAV/FLAC bytes; visual: a list of PNG/JPEG bytes. The same
    functions as featurize_batch, so Serve featurizes exactly as training did.
    """
    if modality not in MODALITY_KEYS:
        raise ValueError(f"unknown modality {modality!r}; modalities are {MODALITIES}")
    item: Compact = {"tokens": None, "audio": None, "frames": None}
    if modality == "text":
        item["tokens"] = text_tokens([value], features)[0]
    elif modality == "audio":
        check_audio_header(value, features.audio_max_sample_rate, features.audio_max_channels)
        item["audio"] = audio_steps(decode_audio(value, features.sample_rate), features)
    else:
        item["frames"] = visual_steps(value, features)
    batch = pad_batch([item], features)
    return {key: batch[key] for key in MODALITY_KEYS[modality]}
