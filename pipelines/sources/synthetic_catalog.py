"""A SYNTHETIC catalog of AI-generated content items for the recommender.

No real items, titles or creators: every row has `synthetic=true`, and the file
name starts with `synthetic-`. The default catalog that `mmei serve` ships
(`serving/catalog/synthetic-catalog.csv`) is this generator's output for
`--items 120 --seed 0`.

Generative story, per item i with its own RNG seeded by (seed, i):
1. Kind: uniform over image, music, video, story, poem, game.
2. Target emotion: uniform over the emotion label space: the feeling the piece is
   made to evoke.
3. Intent affinity: a Dirichlet(0.4) draw over the intents, so most items serve one
   or two intents well.
4. Tags: two words typical of the target emotion, one of the kind, and one of the
   intent with the largest affinity; the title joins an emotion adjective and a
   kind noun. Titles and tags are what the text encoder embeds, so an item's words
   carry its affect and intent, as real titles and descriptions would.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from mmei.platform.labels import LabelSpaces

KINDS = ("image", "music", "video", "story", "poem", "game")
EMOTION_WORDS = {
    "anger": ["fierce", "stormy", "defiant", "raw"], "disgust": ["grotesque", "gritty", "uncanny", "murky"],
    "fear": ["eerie", "haunting", "tense", "shadowy"], "joy": ["sunny", "playful", "bright", "uplifting"],
    "neutral": ["calm", "plain", "minimal", "steady"], "sadness": ["melancholy", "rainy", "wistful", "lonely"],
    "surprise": ["unexpected", "surreal", "startling", "whimsical"],
}
KIND_WORDS = {"image": "illustration", "music": "track", "video": "clip", "story": "tale", "poem": "verse",
              "game": "level"}
INTENT_WORDS = {"explore": "discovery", "relax": "ambient", "be_entertained": "fun", "learn": "tutorial",
                "get_inspired": "inspiration", "create": "remixable", "socialize": "shareable",
                "give_feedback": "poll"}


def catalog_rows(items: int, seed: int, labels: LabelSpaces) -> list[dict[str, str]]:
    rows = []
    for i in range(items):
        rng = np.random.default_rng([seed, i])
        kind = KINDS[rng.integers(len(KINDS))]
        emotion = labels.emotion[rng.integers(len(labels.emotion))]
        affinity = rng.dirichlet(np.full(len(labels.intent), 0.4))
        top_intent = labels.intent[int(affinity.argmax())]
        words = EMOTION_WORDS.get(emotion, [emotion, emotion])
        chosen = [str(w) for w in rng.choice(words, size=2, replace=False)]
        tags = [*chosen, KIND_WORDS.get(kind, kind), INTENT_WORDS.get(top_intent, top_intent)]
        rows.append({
            "item_id": f"syn-{i:04d}",
            "title": f"{chosen[0].capitalize()} {KIND_WORDS.get(kind, kind)} #{i}",
            "kind": kind,
            "tags": ";".join(tags),
            "target_emotion": emotion,
            "intent_affinity": ";".join(f"{name}={weight:.3f}" for name, weight in zip(labels.intent, affinity)
                                        if weight >= 0.005) or f"{top_intent}=1",
            "synthetic": "true",
        })
    return rows


def write_catalog(path: Path, items: int, seed: int, labels: LabelSpaces) -> Path:
    """Write the CSV; the name must say synthetic, so nobody mistakes it for real data."""
    path = Path(path)
    if not path.name.startswith("synthetic"):
        path = path.with_name(f"synthetic-{path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = catalog_rows(items, seed, labels)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
