"""Imports are whole or absent: a failure leaves nothing behind that a retry must clean."""
import pytest

from mmei.pipelines.sources.shards import ImportFormatError, write_shards


def rows(fail_at=None):
    for i in range(5):
        if i == fail_at:
            raise ImportFormatError(f"row {i}: broken")
        yield {"sample_id": f"s{i}", "split": "train", "text": f"text {i}"}


def test_a_failed_import_leaves_no_folder_and_the_retry_succeeds(tmp_path):
    out = tmp_path / "shards"
    with pytest.raises(ImportFormatError, match="row 3"):
        write_shards(rows(fail_at=3), out, "test", rows_per_shard=2)  # two shards were already written
    assert not out.exists() and list(tmp_path.iterdir()) == []
    report = write_shards(rows(), out, "test", rows_per_shard=2)
    assert report["rows"] == 5 and len(list(out.glob("*.parquet"))) == 3 and (out / "_import.json").is_file()
    assert oct(out.stat().st_mode & 0o777) == oct(0o755)


def test_an_empty_folder_is_used_and_a_full_one_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    assert write_shards(rows(), tmp_path / "empty", "test")["rows"] == 5
    with pytest.raises(FileExistsError, match="already holds files"):
        write_shards(rows(), tmp_path / "empty", "test")
