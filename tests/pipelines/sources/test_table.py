"""`mmei data import --format table`: a spreadsheet of texts and labels, as users bring it."""
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mmei.cluster.cli import main
from mmei.pipelines.sources.importers import import_dataset
from mmei.pipelines.sources.shards import ImportFormatError, suggested_text_tokens
from mmei.pipelines.sources.table import hashed_split, parse_label_columns


def rows_of(out) -> dict[str, dict]:
    return {row["sample_id"]: row for row in pq.read_table(sorted(out.glob("*.parquet"))).to_pylist()}


def test_csv_sorted_by_label_with_quoted_commas_and_a_mapped_label_column(tmp_path):
    """As real exports come: grouped by label, texts with commas and newlines in quotes."""
    table = tmp_path / "reviews.csv"
    lines = ["review_id,body,verdict,fold"]
    lines += [f'r{i},"great, truly great film {i}",positive,train' for i in range(6)]
    lines += [f'r{i},"dull.\nTwo lines, still dull {i}",negative,{"test" if i % 2 else "dev"}' for i in range(6, 12)]
    table.write_text("\n".join(lines) + "\n")
    report = import_dataset("table", table, tmp_path / "out",
                            {"text_column": "body", "id_column": "review_id", "split_column": "fold",
                             "label_columns": parse_label_columns(["sentiment=verdict"])})
    rows = rows_of(tmp_path / "out")
    assert len(rows) == 12 and report["rows"] == 12
    assert rows["r0"]["text"] == "great, truly great film 0" and rows["r0"]["sentiment"] == "positive"
    assert rows["r7"]["text"] == "dull.\nTwo lines, still dull 7" and rows["r7"]["split"] == "test"
    assert rows["r6"]["split"] == "val"  # "dev" is read as val
    assert rows["r0"]["emotion"] is None and rows["r0"]["audio"] is None
    assert report["labelled"]["sentiment"] == 12 and report["splits"] == {"train": 6, "val": 3, "test": 3}
    assert report["text_tokens"]["max"] >= report["text_tokens"]["p50"] > 3
    assert report["prepare_overrides"] == [f"features.text_max_tokens={suggested_text_tokens(report['text_tokens'])}"]


def test_suggested_token_length_is_the_95th_percentile_rounded_up_to_8():
    assert [suggested_text_tokens({"p95": n}) for n in (1, 16, 17, 900)] == [8, 16, 24, 512]


def test_jsonl_and_parquet_with_default_columns_and_hashed_splits(tmp_path):
    records = [{"id": f"s{i}", "text": f"text number {i}", "emotion": "joy" if i % 2 else None} for i in range(40)]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "t.parquet")
    for name in ("t.jsonl", "t.parquet"):
        report = import_dataset("table", tmp_path / name, tmp_path / f"out-{name}")
        rows = rows_of(tmp_path / f"out-{name}")
        assert rows["s1"]["emotion"] == "joy" and rows["s2"]["emotion"] is None
        assert all(rows[f"s{i}"]["split"] == hashed_split(f"s{i}") for i in range(40))
        assert report["split_from"].startswith("hash") and report["label_columns"] == {"emotion": "emotion"}
    assert set(hashed_split(f"x{i}") for i in range(200)) == {"train", "val", "test"}


def test_media_columns_read_files_relative_to_the_table(tmp_path):
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.wav").write_bytes(b"RIFF-audio")
    (tmp_path / "media" / "a1.png").write_bytes(b"png-1")
    (tmp_path / "media" / "a2.png").write_bytes(b"png-2")
    (tmp_path / "t.csv").write_text("id,text,audio,images\na,hi,media/a.wav,media/a1.png;media/a2.png\nb,yo,,\n")
    import_dataset("table", tmp_path / "t.csv", tmp_path / "out", {"audio_column": "audio", "image_column": "images"})
    rows = rows_of(tmp_path / "out")
    assert rows["a"]["audio"] == b"RIFF-audio" and rows["a"]["frames"] == [b"png-1", b"png-2"]
    assert rows["b"]["audio"] is None and rows["b"]["frames"] is None


def test_audio_only_and_image_only_tables_need_no_text_column(tmp_path):
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.wav").write_bytes(b"RIFF-audio")
    (tmp_path / "media" / "b.png").write_bytes(b"png")
    (tmp_path / "speech.csv").write_text("id,path,emotion\na,media/a.wav,angry\n")
    import_dataset("table", tmp_path / "speech.csv", tmp_path / "speech", {"audio_column": "path"})
    (tmp_path / "faces.csv").write_text("id,path,emotion\nb,media/b.png,happy\n")
    import_dataset("table", tmp_path / "faces.csv", tmp_path / "faces", {"image_column": "path"})
    speech, faces = rows_of(tmp_path / "speech")["a"], rows_of(tmp_path / "faces")["b"]
    assert speech["text"] is None and speech["audio"] == b"RIFF-audio" and speech["emotion"] == "angry"
    assert faces["text"] is None and faces["frames"] == [b"png"] and faces["emotion"] == "happy"


@pytest.mark.parametrize("content, options, message", [
    ("id,body\na,hi\n", {}, "no column 'text' and no --audio-column or --image-column; name the text with "
                            "--text-column \\(columns are id, body\\)"),
    ("id,body\na,hi\n", {"text_column": "text"}, "no column 'text' \\(--text-column\\); columns are id, body"),
    ("id,text,split\na,hi,training\n", {}, "t.csv row 2: split 'training'"),
    ("id,text\na,hi\na,again\n", {}, "t.csv row 3: duplicate id 'a'"),
    ("id,text,audio\na,hi,missing.wav\n", {"audio_column": "audio"}, "t.csv row 2: media file 'missing.wav'"),
    ("id,text\na,hi\n", {"label_columns": {"sentiment": "verdict"}}, "no column 'verdict'"),
])
def test_bad_tables_name_the_file_row_and_column(tmp_path, content, options, message):
    (tmp_path / "t.csv").write_text(content)
    with pytest.raises(ImportFormatError, match=message):
        import_dataset("table", tmp_path / "t.csv", tmp_path / "out", options)


def test_cli_imports_a_table_and_refuses_table_flags_elsewhere(tmp_path, capsys):
    (tmp_path / "t.tsv").write_text("text\tlabel\nhello there\tjoy\nbye\tsadness\n")
    assert main(["data", "import", "--format", "table", "--input", str(tmp_path / "t.tsv"), "--output",
                 str(tmp_path / "out"), "--label-column", "emotion=label"]) == 0
    printed = capsys.readouterr().out
    assert "imported 2 table samples" in printed and "text length in tokens: p50" in printed
    assert {r["emotion"] for r in rows_of(tmp_path / "out").values()} == {"joy", "sadness"}
    assert main(["data", "import", "--format", "folder", "--input", str(tmp_path), "--output",
                 str(tmp_path / "x"), "--text-column", "body"]) == 2
    assert "--text-column only apply to --format table" in capsys.readouterr().err
    assert main(["data", "import", "--format", "table", "--input", str(tmp_path / "t.tsv"), "--output",
                 str(tmp_path / "y"), "--label-column", "mood=label"]) == 2
    assert "unknown head 'mood'" in capsys.readouterr().err


def test_media_outside_the_tables_folder_are_kept_aside_never_read(tmp_path):
    (tmp_path / "secret.txt").write_text("token")
    data = tmp_path / "data"
    (data / "media").mkdir(parents=True)
    (data / "media" / "ok.wav").write_bytes(b"RIFF-audio")
    (data / "media" / "link.wav").symlink_to(tmp_path / "secret.txt")
    (data / "t.csv").write_text("id,text,audio\na,hi,media/ok.wav\nb,yo,../secret.txt\nc,hey,/etc/passwd\n"
                                "d,sup,media/link.wav\n")
    report = import_dataset("table", data / "t.csv", data / "out", {"audio_column": "audio"})
    assert report["rows"] == 1 and report["files_rejected"] == {"media_outside_root": 3} and report["files_in"] == 4
    kept = pq.read_table(data / "out" / "_quarantine" / "import-rejected.parquet").to_pylist()
    assert [r["file"].rsplit(" ", 2)[-2:] for r in kept] == [["row", "3"], ["row", "4"], ["row", "5"]]
    assert all(b"token" not in r["content"] and b"root:" not in r["content"] for r in kept)
    opted_in = import_dataset("table", data / "t.csv", data / "opted", {"audio_column": "audio"},
                              allow_outside_root=True)
    assert opted_in["rows"] == 4 and rows_of(data / "opted")["b"]["audio"] == b"token"
