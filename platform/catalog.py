"""The AIGC catalog: items the recommender ranks, read from Parquet or CSV.

Columns (one row per item):
    item_id          unique string
    title            string
    kind             string, e.g. image, music, video, story
    tags             list of strings, or one string split on ";"
    target_emotion   the emotion the item evokes: a name in the emotion label space
    intent_affinity  how well it serves each intent: "explore=0.6;relax=0.4" or a
                     {intent: weight} map; intents outside the label space are errors
    synthetic        optional bool: true for generated catalogs

A bad row is an error naming the file and the row, never a silently skipped item.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mmei.platform.errors import UserInputError
from mmei.platform.labels import LabelSpaces

REQUIRED_COLUMNS = ("item_id", "title", "kind", "tags", "target_emotion", "intent_affinity")


class CatalogError(UserInputError):
    """A catalog file or row that cannot be used."""


@dataclass(frozen=True)
class Item:
    item_id: str
    title: str
    kind: str
    tags: tuple[str, ...]
    target_emotion: str
    intent_affinity: dict[str, float]  # intent → weight, summing to 1
    synthetic: bool = False

    def text(self) -> str:
        """What the text encoder embeds for this item."""
        return f"{self.title}. A {self.kind} about {', '.join(self.tags)}."

    def to_dict(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "kind": self.kind, "tags": list(self.tags),
                "target_emotion": self.target_emotion, "intent_affinity": self.intent_affinity,
                "synthetic": self.synthetic}


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(";")
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"tags must be a list or a ';'-separated string, got {value!r}")
    return tuple(str(tag).strip() for tag in value if str(tag).strip())


def _affinity(value: Any, intents: list[str]) -> dict[str, float]:
    if isinstance(value, str):
        pairs = [part.split("=", 1) for part in value.split(";") if part.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(f"intent_affinity must look like 'explore=0.6;relax=0.4', got {value!r}")
        value = {name.strip(): float(weight) for name, weight in pairs}
    if not isinstance(value, dict) or not value:
        raise ValueError(f"intent_affinity must be a non-empty intent=weight map, got {value!r}")
    unknown = sorted(set(value) - set(intents))
    if unknown:
        raise ValueError(f"intent_affinity names unknown intents {unknown}; intents are {intents}")
    weights = {name: float(weight) for name, weight in value.items()}
    if any(not 0.0 <= w < float("inf") for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(f"intent_affinity weights must be finite, >= 0 and not all 0, got {weights}")
    total = sum(weights.values())
    return {name: weight / total for name, weight in weights.items()}


def item_from_row(row: dict[str, Any], labels: LabelSpaces) -> Item:
    missing = [c for c in REQUIRED_COLUMNS if row.get(c) in (None, "")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    if row["target_emotion"] not in labels.emotion:
        raise ValueError(f"target_emotion {row['target_emotion']!r} is not in {labels.emotion}")
    synthetic = row.get("synthetic", False)
    if isinstance(synthetic, str):
        synthetic = synthetic.strip().lower() in ("true", "1", "yes")
    return Item(str(row["item_id"]), str(row["title"]), str(row["kind"]), _tags(row["tags"]),
                str(row["target_emotion"]), _affinity(row["intent_affinity"], labels.intent), bool(synthetic))


def read_table(path: Path) -> pa.Table:
    if path.suffix == ".parquet":
        return pq.read_table(path)
    if path.suffix == ".csv":
        # Every column as a string: the row parser checks types and names the row.
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in (*REQUIRED_COLUMNS, "synthetic")}))
    raise CatalogError(f"catalog {path} must be .parquet or .csv")


def load_catalog(path: str | Path, labels: LabelSpaces) -> list[Item]:
    """Every item of the file, checked; the first bad row is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"catalog {path} does not exist")
    try:
        table = read_table(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise CatalogError(f"catalog {path}: {error}") from None
    absent = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if absent:
        raise CatalogError(f"catalog {path} lacks column(s) {', '.join(absent)}; needs {', '.join(REQUIRED_COLUMNS)}")
    items, seen = [], set()
    for number, row in enumerate(table.to_pylist(), start=1):
        try:
            if isinstance(row.get("intent_affinity"), str) and row["intent_affinity"].lstrip().startswith("{"):
                row["intent_affinity"] = json.loads(row["intent_affinity"])
            item = item_from_row(row, labels)
        except (ValueError, TypeError) as error:
            raise CatalogError(f"catalog {path}, row {number}: {error}") from None
        if item.item_id in seen:
            raise CatalogError(f"catalog {path}, row {number}: duplicate item_id {item.item_id!r}")
        seen.add(item.item_id)
        items.append(item)
    if not items:
        raise CatalogError(f"catalog {path} has no items")
    return items
