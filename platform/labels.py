"""Label spaces: the class names of each head, declared in config rather than code.

Models, metrics, featurization and serving all map names to ids through this one
object, so a dataset with other classes changes only its config.
"""
from __future__ import annotations

from dataclasses import dataclass, field

HEADS: tuple[str, ...] = ("emotion", "sentiment", "intent")
IGNORE_INDEX = -100  # label id for "no label": skipped by the loss and the metrics
# A sentiment score (MMSA's regression label, e.g. [-3, 3] for CMU-MOSI/MOSEI), predicted
# by a one-output head beside the classification heads; NaN where a row has none.
SCORE_HEAD = "score"

DEFAULT_EMOTIONS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
DEFAULT_SENTIMENTS = ["negative", "neutral", "positive"]
DEFAULT_INTENTS = [
    "explore", "relax", "be_entertained", "learn",
    "get_inspired", "create", "socialize", "give_feedback",
]


@dataclass
class LabelSpaces:
    emotion: list[str] = field(default_factory=lambda: list(DEFAULT_EMOTIONS))  # MELD's 7 emotions
    sentiment: list[str] = field(default_factory=lambda: list(DEFAULT_SENTIMENTS))  # negative, neutral, positive
    intent: list[str] = field(default_factory=lambda: list(DEFAULT_INTENTS))  # 8 AIGC consumption intents

    def __post_init__(self) -> None:
        for head in HEADS:
            names = self.names(head)
            if not names or len(set(names)) != len(names):
                raise ValueError(f"label space {head!r} must be non-empty and unique, got {names}")

    def names(self, head: str) -> list[str]:
        if head not in HEADS:
            raise KeyError(f"unknown head {head!r}; heads are {HEADS}")
        return getattr(self, head)

    def size(self, head: str) -> int:
        return len(self.names(head))

    def sizes(self) -> dict[str, int]:
        return {head: self.size(head) for head in HEADS}

    def encode(self, head: str, label: str | None) -> int:
        """Name → id; None (unlabelled) → IGNORE_INDEX; an unknown name is an error."""
        if label is None:
            return IGNORE_INDEX
        names = self.names(head)
        try:
            return names.index(label)
        except ValueError:
            raise ValueError(f"{head} label {label!r} is not in the label space {names}") from None

    def decode(self, head: str, index: int) -> str:
        return self.names(head)[index]
