"""The synthetic AIGC affect corpus: SYNTHETIC text, voice and face data with labels.

Nothing here is real people's data. Every shard carries `mmei.synthetic=true` in its
Parquet metadata and a `synthetic-` file name, and the folder gets a SYNTHETIC.md
and a summary.json that say so.

Generative story (fixed before any model is compared on it; never tune it to favour
a model). For sample i, with its own RNG seeded by (seed, i):

1. Scenario. With `sarcasm_rate` the sample is sarcastic: its emotion is drawn
   uniformly from {anger, disgust, sadness}. Otherwise the emotion comes from the
   prior (neutral 0.2, each other emotion 0.8/6), and with `neutral_text_rate` the
   text is emotionally neutral ("neutral_text"); the rest are "aligned".
2. Sentiment follows the emotion: joy → positive, neutral → neutral, anger / disgust
   / fear / sadness → negative, surprise → positive (0.6) or negative (0.4).
3. Intent is drawn from a prior weakly tilted by emotion (sadness and fear favour
   relax, anger and disgust favour give_feedback, joy favours socialize and create,
   surprise favours explore and learn), so voice and face say little about intent.
4. Text = emotion phrase + content reference + intent phrase, templated.
   - aligned: the emotion phrase names the true emotion;
   - neutral_text: a neutral phrase; only voice and face carry the emotion;
   - sarcasm: a joy phrase, word for word; only voice and face reveal the truth.
   With `vague_intent_rate` the intent phrase is left out, so intent is mostly but
   not only carried by text, as in real intent benchmarks.
5. Voice (16 kHz WAV): a harmonic source at an emotion-dependent pitch with an
   emotion-dependent contour (rising for surprise and joy, falling for sadness),
   loudness, syllable rate, breathiness (noise) and spectral tilt (harshness),
   scaled by a per-speaker pitch and loudness that blur the classes on purpose.
6. Face (2-4 PNG frames): a drawn face whose brows (tilt, height), eyes (openness)
   and mouth (curve, openness) depend on the emotion, ramping in intensity across
   frames, with pose jitter, skin and background colour, pixel noise and, at 15%,
   an occluding patch.
7. Missing modalities: each is dropped with `missing_rate`; if all three would go,
   one is restored at random.
8. Label noise: each label is replaced by a uniform draw with `label_noise`.

By design, then: text is the best single modality for intent; voice and face are
needed for sarcastic and neutral-text samples; no single modality is perfect.
"""
from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

from mmei.platform.config import CorpusConfig, FeatureConfig
from mmei.platform.features import encode_wav
from mmei.platform.labels import LabelSpaces
from mmei.platform.schema import MODALITY_SCHEMA, SPLITS, SYNTHETIC_KEY

GENERATOR = "mmei-synthetic-affect-v1"
SARCASTIC_EMOTIONS = ("anger", "disgust", "sadness")
EMOTION_PRIOR = {"anger": 0.8 / 6, "disgust": 0.8 / 6, "fear": 0.8 / 6, "joy": 0.8 / 6,
                 "neutral": 0.2, "sadness": 0.8 / 6, "surprise": 0.8 / 6}
SENTIMENT_OF = {"anger": "negative", "disgust": "negative", "fear": "negative", "sadness": "negative",
                "joy": "positive", "neutral": "neutral"}
INTENT_TILT = {  # multiplies a uniform intent prior
    "sadness": {"relax": 2.0}, "fear": {"relax": 1.6},
    "anger": {"give_feedback": 2.0}, "disgust": {"give_feedback": 2.0},
    "joy": {"socialize": 1.6, "create": 1.6}, "surprise": {"explore": 1.6, "learn": 1.6},
}

EMOTION_PHRASES = {
    "anger": ["this makes me so angry,", "honestly I'm furious about", "I'm fed up with", "what an infuriating mess,"],
    "disgust": ["ugh, this is gross:", "that is revolting,", "I find this disgusting:", "yuck,"],
    "fear": ["this honestly scares me,", "I'm nervous about", "that's creepy and unsettling,", "I feel anxious seeing"],
    "joy": ["I love this,", "this made my day!", "so happy with", "wow, delightful:"],
    "neutral": ["here is my note on", "okay, about", "just looked at", "regarding"],
    "sadness": ["this makes me sad,", "feeling down after", "it's heartbreaking,", "I feel empty looking at"],
    "surprise": ["whoa, I did not expect", "no way,", "what a surprise:", "wait, really?"],
}
INTENT_PHRASES = {
    "explore": ["show me something different", "what else is out there", "I want to discover new styles"],
    "relax": ["I need something calming", "help me unwind", "something soothing please"],
    "be_entertained": ["give me something fun", "I'm bored, entertain me", "make me laugh"],
    "learn": ["how was this made", "teach me the technique behind it", "I want to understand the prompt"],
    "get_inspired": ["I need ideas for my next project", "inspire me", "spark some creativity"],
    "create": ["let me remix this", "I want to generate my own version", "help me make one like this"],
    "socialize": ["I'd share this with friends", "what do others think", "let's discuss it together"],
    "give_feedback": ["the colours are off", "rating this two stars", "the rhythm needs work"],
}
CONTENT = ["this AI song", "the generated portrait", "that synthetic landscape", "this AI video",
           "the generated poem", "this AI-made comic", "the generated soundtrack", "that AI story"]

# pitch Hz, contour semitones over the clip, loudness, syllables/s, breath noise, harmonic tilt
VOICE = {
    "anger": (210, -2, 0.80, 5.5, 0.05, 0.55),
    "disgust": (150, -3, 0.50, 3.0, 0.15, 0.70),
    "fear": (250, 2, 0.55, 6.0, 0.35, 0.75),
    "joy": (230, 4, 0.70, 4.8, 0.08, 0.60),
    "neutral": (170, 0, 0.45, 4.0, 0.08, 0.75),
    "sadness": (140, -4, 0.25, 2.8, 0.30, 0.85),
    "surprise": (270, 7, 0.65, 4.5, 0.10, 0.65),
}
# brow tilt (+ = inner ends down), brow raise, eye openness, mouth curve (+ = smile), mouth open
FACE = {
    "anger": (0.9, -0.6, 0.45, -0.2, 0.0),
    "disgust": (0.4, -0.3, 0.55, -0.6, 0.15),
    "fear": (-0.6, 0.8, 1.0, -0.2, 0.5),
    "joy": (0.0, 0.3, 0.6, 0.9, 0.25),
    "neutral": (0.0, 0.0, 0.7, 0.0, 0.0),
    "sadness": (-0.8, 0.3, 0.5, -0.8, 0.0),
    "surprise": (0.0, 1.0, 1.0, 0.0, 0.9),
}


def expected_emotion_distribution(corpus: CorpusConfig) -> dict[str, float]:
    """The emotion marginal the story implies, before label noise."""
    sarcastic = {e: (1 / len(SARCASTIC_EMOTIONS) if e in SARCASTIC_EMOTIONS else 0.0) for e in EMOTION_PRIOR}
    return {e: (1 - corpus.sarcasm_rate) * p + corpus.sarcasm_rate * sarcastic[e] for e, p in EMOTION_PRIOR.items()}


def _choice(rng: np.random.Generator, options: list[str] | tuple[str, ...], weights: list[float] | None = None) -> str:
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        weights = weights / weights.sum()
    return options[int(rng.choice(len(options), p=weights))]


def synth_voice(emotion: str, seconds: float, speaker: tuple[float, float], rng: np.random.Generator,
                sample_rate: int) -> np.ndarray:
    pitch, contour, loudness, rate, breath, tilt = VOICE[emotion]

    def jitter(value: float, spread: float) -> float:
        return value * math.exp(spread * rng.standard_normal())

    pitch = jitter(pitch * speaker[0], 0.06)
    loudness = jitter(loudness * speaker[1], 0.15)
    rate, breath = jitter(rate, 0.12), jitter(breath, 0.25)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = pitch * 2.0 ** (contour * (t / seconds) / 12.0) * (1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    harmonics = [k for k in range(1, 16) if k * pitch * 1.3 < sample_rate / 2]
    amplitudes = np.array([tilt ** (k - 1) for k in harmonics])
    voiced = (amplitudes[:, None] * np.sin(np.outer(harmonics, phase))).sum(axis=0) / amplitudes.sum()
    syllables = np.clip(np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)), 0, None) ** 0.7
    signal = loudness * syllables * (voiced + breath * rng.standard_normal(t.size))
    return (signal + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def draw_face(emotion: str, intensity: float, size: int, rng: np.random.Generator, look: dict[str, Any]) -> bytes:
    tilt, raise_, eye_open, curve, mouth_open = (intensity * v for v in FACE[emotion])
    eye_open = 0.7 + intensity * (FACE[emotion][2] - 0.7)
    scale = 4  # draw large, then downsample: smooth features at small sizes
    s = size * scale
    image = Image.new("RGB", (s, s), look["background"])
    draw = ImageDraw.Draw(image)
    cx = s / 2 + look["dx"] * s + rng.normal(0, 0.01) * s
    cy = s / 2 + look["dy"] * s + rng.normal(0, 0.01) * s
    r = 0.38 * s * look["zoom"]
    draw.ellipse([cx - 0.8 * r, cy - r, cx + 0.8 * r, cy + r], fill=look["skin"])
    ink = (40, 30, 30)
    width = max(1, int(0.05 * r))
    for side in (-1, 1):
        ex, ey = cx + side * 0.35 * r, cy - 0.2 * r
        eh = 0.12 * r * max(eye_open, 0.15)
        draw.ellipse([ex - 0.14 * r, ey - eh, ex + 0.14 * r, ey + eh], fill=(250, 250, 250), outline=ink)
        draw.ellipse([ex - 0.05 * r, ey - min(eh, 0.05 * r), ex + 0.05 * r, ey + min(eh, 0.05 * r)], fill=ink)
        by = ey - 0.25 * r - 0.12 * r * raise_
        inner, outer = (ex - side * 0.15 * r, by + 0.1 * r * tilt), (ex + side * 0.18 * r, by - 0.1 * r * tilt)
        draw.line([inner, outer], fill=ink, width=width * 2)
    my, half = cy + 0.45 * r, 0.3 * r
    if mouth_open > 0.1:
        oh = 0.18 * r * mouth_open
        draw.ellipse([cx - half * 0.7, my - oh, cx + half * 0.7, my + oh], fill=(90, 20, 30))
    xs = np.linspace(-1, 1, 12)
    points = [(cx + half * x, my + 0.15 * r * curve * (1 - x * x) - 0.05 * r * curve) for x in xs]  # y grows down
    draw.line(points, fill=ink, width=width * 2)
    if look["occlude"]:
        ox, oy = rng.uniform(0.2, 0.6) * s, rng.uniform(0.2, 0.6) * s
        draw.rectangle([ox, oy, ox + 0.35 * s, oy + 0.3 * s], fill=(128, 128, 128))
    small = np.asarray(image.resize((size, size), Image.BILINEAR), dtype=np.float32)
    small = np.clip(small + rng.normal(0, 8, small.shape), 0, 255).astype(np.uint8)
    out = Image.fromarray(small)
    buffer = io.BytesIO()
    out.save(buffer, format="PNG")
    return buffer.getvalue()


def make_text(emotion: str, intent: str, scenario: str, vague: bool, rng: np.random.Generator) -> str:
    shown = {"aligned": emotion, "neutral_text": "neutral", "sarcasm": "joy"}[scenario]
    opening = _choice(rng, EMOTION_PHRASES[shown])
    content = _choice(rng, CONTENT)
    text = f"{opening} {content}."
    if not vague:
        text += f" {_choice(rng, INTENT_PHRASES[intent]).capitalize()}."
    return text[0].upper() + text[1:]


def make_sample(index: int, split: str, corpus: CorpusConfig, labels: LabelSpaces, sample_rate: int) -> dict[str, Any]:
    rng = np.random.default_rng([corpus.seed, index])
    if rng.random() < corpus.sarcasm_rate:
        scenario, emotion = "sarcasm", _choice(rng, SARCASTIC_EMOTIONS)
    else:
        emotion = _choice(rng, list(EMOTION_PRIOR), list(EMOTION_PRIOR.values()))
        # conditional rate, so that neutral_text_rate is a share of all samples
        neutral_share = corpus.neutral_text_rate / (1 - corpus.sarcasm_rate) if corpus.sarcasm_rate < 1 else 0.0
        scenario = "neutral_text" if rng.random() < neutral_share else "aligned"
    sentiment = SENTIMENT_OF.get(emotion) or ("positive" if rng.random() < 0.6 else "negative")
    intents = labels.intent
    intent = _choice(rng, intents, [INTENT_TILT.get(emotion, {}).get(i, 1.0) for i in intents])
    vague = rng.random() < corpus.vague_intent_rate

    speaker_id = int(rng.integers(0, 50))
    speaker_rng = np.random.default_rng([corpus.seed, 1_000_003, speaker_id])
    speaker = (math.exp(0.12 * speaker_rng.standard_normal()), math.exp(0.2 * speaker_rng.standard_normal()))
    seconds = rng.uniform(*corpus.audio_seconds)
    audio = encode_wav(synth_voice(emotion, seconds, speaker, rng, sample_rate), sample_rate)
    look = {
        "background": tuple(int(v) for v in rng.integers(60, 200, 3)),
        "skin": tuple(int(v) for v in np.array([224, 172, 140]) * rng.uniform(0.6, 1.1)),
        "dx": rng.uniform(-0.06, 0.06), "dy": rng.uniform(-0.06, 0.06), "zoom": rng.uniform(0.88, 1.08),
        "occlude": rng.random() < 0.15,
    }
    count = int(rng.integers(corpus.frames[0], corpus.frames[1] + 1))
    frames = [draw_face(emotion, 0.4 + 0.6 * (k + 1) / count, corpus.image_size, rng, look) for k in range(count)]
    text = make_text(emotion, intent, scenario, vague, rng)

    keep = rng.random(3) >= corpus.missing_rate
    if not keep.any():
        keep[int(rng.integers(0, 3))] = True
    noisy = {}
    for head, value in (("emotion", emotion), ("sentiment", sentiment), ("intent", intent)):
        noisy[head] = _choice(rng, labels.names(head)) if rng.random() < corpus.label_noise else value
    return {
        "sample_id": f"syn-{corpus.seed}-{index:07d}",
        "split": split,
        "text": text if keep[0] else None,
        "audio": audio if keep[1] else None,
        "audio_features": None,
        "frames": frames if keep[2] else None,
        "visual_features": None,
        **noisy,
        "scenario": scenario,
        "speaker": f"spk{speaker_id:02d}",
    }


def split_names(corpus: CorpusConfig) -> list[str]:
    """Exact split sizes from the fractions, shuffled by the seed."""
    counts = {name: int(corpus.splits.get(name, 0.0) * corpus.samples) for name in SPLITS}
    counts["train"] += corpus.samples - sum(counts.values())
    names = [name for name in SPLITS for _ in range(counts[name])]
    np.random.default_rng([corpus.seed, 7]).shuffle(names)
    return names


SHARD_SCHEMA = MODALITY_SCHEMA.append(pa.field("scenario", pa.string())).append(pa.field("speaker", pa.string()))


def write_corpus(out: Path, corpus: CorpusConfig, labels: LabelSpaces, features: FeatureConfig,
                 progress=print) -> dict[str, Any]:
    """Write the corpus as Parquet modality shards plus SYNTHETIC.md and summary.json."""
    needed = {"emotion": set(EMOTION_PRIOR), "sentiment": {"negative", "neutral", "positive"},
              "intent": set(INTENT_PHRASES)}
    for name, names in needed.items():
        unknown = names - set(labels.names(name))
        if unknown:
            raise ValueError(f"the synthetic corpus needs the default {name} labels; missing {sorted(unknown)}")
    out.mkdir(parents=True, exist_ok=True)
    stale = sorted(out.glob("synthetic-part-*.parquet"))
    if stale:
        raise FileExistsError(f"{out} already holds a corpus ({stale[0].name}, ...); choose an empty folder")
    metadata = {SYNTHETIC_KEY: b"true", b"mmei.generator": GENERATOR.encode(), b"mmei.seed": str(corpus.seed).encode()}
    schema = SHARD_SCHEMA.with_metadata(metadata)
    names = split_names(corpus)
    files = []
    for shard, start in enumerate(range(0, corpus.samples, corpus.shard_rows)):
        stop = min(start + corpus.shard_rows, corpus.samples)
        rows = [make_sample(i, names[i], corpus, labels, features.sample_rate) for i in range(start, stop)]
        path = out / f"synthetic-part-{shard:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
        files.append(path.name)
        progress(f"  synthetic shard {shard}: rows {start}-{stop - 1} → {path}")
    summary = summarize(out)
    summary.update({"synthetic": True, "generator": GENERATOR, "config": corpus.__dict__, "files": files,
                    "expected_emotion_distribution": expected_emotion_distribution(corpus)})
    (out / "_summary.json").write_text(json.dumps(summary, indent=2))
    (out / "_SYNTHETIC.md").write_text(
        "# SYNTHETIC DATA\n\nEvery row in this folder was generated by mmei's synthetic affect corpus "
        f"({GENERATOR}, seed {corpus.seed}). No row is a real person's text, voice or face.\n"
        "The generative story is in the docstring of mmei/pipelines/sources/synthetic.py and in docs/data.md.\n")
    return summary


def summarize(folder: Path) -> dict[str, Any]:
    """Counts per split, label and scenario, and the missing rate per modality."""
    table = pq.read_table(sorted(folder.glob("synthetic-part-*.parquet")))
    rows = table.num_rows
    count = lambda column: {k: v for k, v in sorted(_counts(table.column(column).to_pylist()).items())}  # noqa: E731
    return {
        "rows": rows,
        "splits": count("split"),
        "emotion": count("emotion"),
        "sentiment": count("sentiment"),
        "intent": count("intent"),
        "scenario": count("scenario"),
        "missing_rate": {m: table.column(c).null_count / rows for m, c in
                         (("text", "text"), ("audio", "audio"), ("visual", "frames"))},
    }


def _counts(values: list[Any]) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return out
