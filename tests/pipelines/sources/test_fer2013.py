"""FER2013 faces in both of its real layouts: the image folders (../shared/data's real
subset) and the original fer2013.csv, with odd files kept aside, never dropped."""
import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

from mmei.pipelines.sources.fer2013 import CSV_CODES, LABEL_SPACE
from mmei.pipelines.sources.importers import import_dataset
from mmei.pipelines.sources.shards import REJECTED_FILE

SUBSET = Path(__file__).resolve().parents[4] / "shared" / "data" / "fer2013-subset"


def shard_rows(out: Path) -> dict[str, dict]:
    return {row["sample_id"]: row for row in pq.read_table(sorted(out.glob("*.parquet"))).to_pylist()}


def test_the_real_image_folders_import_with_the_sets_own_test_split(tmp_path):
    report = import_dataset("fer2013", SUBSET, tmp_path / "out")
    assert report["files_in"] == report["rows"] == 3500 and report["files_rejected"] == {}
    assert report["splits"]["test"] == 700 and report["splits"]["train"] + report["splits"]["val"] == 2800
    assert 0.05 < report["splits"]["val"] / 2800 < 0.15  # 10% of train, by a hash of the name
    assert f"labels.emotion=[{', '.join(LABEL_SPACE)}]" in report["prepare_overrides"]
    rows = shard_rows(tmp_path / "out")
    with (SUBSET / "labels.csv").open() as handle:
        listed = list(csv.DictReader(handle))
    by_id = {f"fer2013-{r['split']}-{r['emotion']}-{Path(r['file']).stem}": r for r in listed}
    assert set(rows) == set(by_id)
    for sample_id, row in rows.items():
        assert row["emotion"] == by_id[sample_id]["emotion"] and len(row["frames"]) == 1
        assert (row["split"] == "test") == (by_id[sample_id]["split"] == "test")
        assert row["text"] is None and row["audio"] is None  # faces only: no text column needed
    again = import_dataset("fer2013", SUBSET, tmp_path / "again")  # the same file, the same split, every time
    assert again["splits"] == report["splits"]


def test_odd_files_in_the_folders_are_kept_aside_with_a_reason(tmp_path):
    for split, label in (("train", "happy"), ("test", "sad")):
        (tmp_path / "src" / split / label).mkdir(parents=True)
        for image in sorted((SUBSET / split / label).glob("*.jpg"))[:3]:
            shutil.copy(image, tmp_path / "src" / split / label)
    (tmp_path / "src" / "train" / "happy" / "Thumbs.db").write_bytes(b"windows")
    (tmp_path / "src" / "train" / "README.txt").write_text("class folders below")
    (tmp_path / "src" / "train" / "contempt").mkdir()  # not one of FER2013's 7 classes
    Image.new("RGB", (64, 40), (10, 20, 30)).save(tmp_path / "src" / "train" / "contempt" / "x.png")
    report = import_dataset("fer2013", tmp_path / "src", tmp_path / "out")
    assert report["rows"] == 6 and report["files_in"] == 9
    assert report["files_rejected"] == {"not_an_image": 1, "not_in_a_class_folder": 2}
    kept = {r["file"]: r for r in pq.read_table(tmp_path / "out" / REJECTED_FILE).to_pylist()}
    assert kept["train/happy/Thumbs.db"]["content"] == b"windows"
    assert kept["train/contempt/x.png"]["reason"] == "not_in_a_class_folder"


def test_the_original_csv_with_a_broken_row(tmp_path):
    rng = np.random.default_rng(0)
    pixels = lambda: " ".join(str(v) for v in rng.integers(0, 256, 48 * 48))  # noqa: E731
    lines = ["emotion,pixels,Usage", f"3,{pixels()},Training", f"6,{pixels()},PublicTest",
             f"0,{pixels()},PrivateTest", "4,1 2 3,Training", f"9,{pixels()},Training"]
    (tmp_path / "fer2013.csv").write_text("\n".join(lines) + "\n")
    report = import_dataset("fer2013", tmp_path / "fer2013.csv", tmp_path / "out")
    assert report["rows"] == 3 and report["files_rejected"] == {"bad_csv_row": 2} and report["files_in"] == 5
    rows = shard_rows(tmp_path / "out")
    assert sorted(r["emotion"] for r in rows.values()) == sorted([CSV_CODES[3], CSV_CODES[6], CSV_CODES[0]])
    assert CSV_CODES[6] == "neutral" and CSV_CODES[3] == "happy"
    assert [r["split"] for r in rows.values()].count("test") == 2  # PublicTest and PrivateTest
    image = Image.open(io.BytesIO(next(iter(rows.values()))["frames"][0]))
    assert image.size == (48, 48) and image.mode == "L"
    kept = pq.read_table(tmp_path / "out" / REJECTED_FILE).to_pylist()
    assert [r["file"] for r in kept] == ["fer2013.csv row 5", "fer2013.csv row 6"]
    assert "2304 grey levels" in kept[0]["detail"] and kept[0]["content"].startswith(b"4,1 2 3")
