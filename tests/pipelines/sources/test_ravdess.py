"""RAVDESS speech on the real clips in ../shared/data: names → labels, the speaker-
independent split, odd files kept aside, and the original 48 kHz stereo WAV decoded."""
import csv
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from mmei.cluster.cli import main
from mmei.pipelines.sources.importers import import_dataset
from mmei.pipelines.sources.ravdess import LABEL_SPACE, actor_split, parse_name
from mmei.pipelines.sources.shards import REJECTED_FILE, ImportFormatError
from mmei.platform.config import load_config
from mmei.platform.features import audio_header, featurize_batch

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"
SUBSET, ORIGINAL = SHARED / "ravdess-16k-4actors", SHARED / "ravdess-48k-original"


def shard_rows(out: Path) -> dict[str, dict]:
    return {row["sample_id"]: row for row in pq.read_table(sorted(out.glob("*.parquet"))).to_pylist()}


def test_names_parse_as_the_dataset_documents_them():
    assert parse_name("03-01-05-02-01-01-12") == {"channel": "speech", "emotion": "angry", "intensity": "strong",
                                                  "statement": "Kids are talking by the door", "repetition": 1,
                                                  "actor": 12}
    assert parse_name("01-01-05-02-01-01-12") == "ravdess_video_modality"
    assert parse_name("03-01-09-01-01-01-12") == "ravdess_code_out_of_range"
    assert parse_name("take-3") == "name_not_ravdess"
    assert [actor_split(a) for a in (1, 18, 19, 20, 21, 24)] == ["train", "train", "val", "val", "test", "test"]
    assert LABEL_SPACE[0] == "neutral" and LABEL_SPACE[-1] == "surprised" and len(LABEL_SPACE) == 8


def test_the_real_subset_imports_with_labels_that_match_its_own_labels_file(tmp_path):
    report = import_dataset("ravdess", SUBSET, tmp_path / "out")
    assert report["files_in"] == report["rows"] == 240 and report["files_rejected"] == {}
    # actors 01, 02 train and 21, 22 test: no 19-20, so the highest train actor is val
    assert report["splits"] == {"train": 60, "val": 60, "test": 120} and report["actors"]["val"] == [2]
    assert "labels.emotion=[neutral, calm, happy, sad, angry, fearful, disgust, surprised]" in \
        report["prepare_overrides"]
    rows = shard_rows(tmp_path / "out")
    with (SUBSET / "labels.csv").open() as handle:
        listed = {f"ravdess-{Path(r['file']).stem}": r for r in csv.DictReader(handle)}
    assert set(rows) == set(listed)
    for sample_id, row in rows.items():  # the file name's codes agree with the set's own labels
        assert row["emotion"] == listed[sample_id]["emotion"] and row["text"] == listed[sample_id]["statement"]
        assert (row["split"] == "test") == (listed[sample_id]["split"] == "test")
    assert {actor for split in ("train", "val") for actor in report["actors"][split]}.isdisjoint(report["actors"]["test"])


def test_odd_files_are_kept_aside_with_a_reason_and_in_equals_out_plus_rejected(tmp_path):
    source = tmp_path / "src" / "Actor_01"
    source.mkdir(parents=True)
    clips = sorted((SUBSET / "audio").glob("03-01-0[1-3]-01-01-01-01.flac"))
    for clip in clips:
        shutil.copy(clip, source)
    shutil.copy(clips[0], source / "01-01-01-01-01-01-01.mp4")  # RAVDESS's video files are not audio
    (source / "notes.wav").write_bytes(b"not a clip")
    report = import_dataset("ravdess", tmp_path / "src", tmp_path / "out")
    assert report["rows"] == len(clips) == 3
    assert report["files_rejected"] == {"ravdess_video_modality": 1, "name_not_ravdess": 1}
    assert report["files_in"] == 5
    kept = {r["file"]: r for r in pq.read_table(tmp_path / "out" / REJECTED_FILE).to_pylist()}
    assert kept["Actor_01/notes.wav"]["content"] == b"not a clip"
    assert kept["Actor_01/01-01-01-01-01-01-01.mp4"]["reason"] == "ravdess_video_modality"
    shutil.copy(clips[0], tmp_path / "src" / clips[0].name)  # the same clip twice: which one is it?
    with pytest.raises(ImportFormatError, match="is there twice"):
        import_dataset("ravdess", tmp_path / "src", tmp_path / "again")
    assert not (tmp_path / "again").exists() and not list(tmp_path.glob(".again.importing-*"))


STEREO = ("03-01-02-01-01-02-01.flac", "03-01-08-01-02-02-01.flac")  # stereo in the source, as the subset keeps them


def test_the_original_48k_wavs_and_the_stereo_clips_import_through_the_cli_and_featurize(tmp_path, capsys):
    """../shared/data's two untouched 48 kHz originals are mono; the source's stereo clips
    are in the 16 kHz subset. Both kinds go through the real import and featurization."""
    source = tmp_path / "src"
    shutil.copytree(ORIGINAL, source)
    for name in STEREO:
        shutil.copy(SUBSET / "audio" / name, source)
    headers = {path.stem: audio_header(path.read_bytes()) for path in source.iterdir()}
    assert sorted((rate, channels) for _, rate, channels in headers.values()) == [(16000, 2), (16000, 2),
                                                                                  (48000, 1), (48000, 1)]
    assert main(["data", "import", "--format", "ravdess", "--input", str(source), "--output",
                 str(tmp_path / "out")]) == 0
    assert "imported 4 ravdess samples" in capsys.readouterr().out
    rows = list(shard_rows(tmp_path / "out").values())
    config = load_config("audio", ["labels.emotion=[neutral, calm, happy, sad, angry, fearful, disgust, surprised]"])
    batch = featurize_batch(rows, config.features)  # what preparation and the encoders run on each row
    for i, row in enumerate(rows):
        seconds = headers[row["sample_id"][len("ravdess-"):]][0]
        expected = min(seconds, config.features.audio_max_seconds) * 1000 / config.features.hop_ms
        assert abs(int(batch["audio_mask"][i].sum()) - expected) <= 2 and np.isfinite(batch["audio"][i]).all()
    assert sorted(row["emotion"] for row in rows) == ["angry", "calm", "neutral", "surprised"]
