"""Ray Data preparation on a real local cluster: quarantine, accounting, determinism."""
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile

from mmei.pipelines.feature_dataset import FeatureCollate, load_feature_dataset
from mmei.pipelines.prepare import DataInputError, prepare
from mmei.pipelines.sources.synthetic import SHARD_SCHEMA
from mmei.platform.config import load_config
from mmei.platform.features import featurize_batch
from mmei.platform.labels import HEADS
from mmei.platform.loss import joint_loss
from mmei.platform.schema import SYNTHETIC_KEY
from mmei.platform.models.build import build_model

CONFIG = load_config("tiny")


def ten_minute_flac() -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(16000 * 600, dtype=np.float32), 16000, format="FLAC")
    return buffer.getvalue()  # silence compresses to a few hundred KB


def planted(rows: list[dict], bomb: bytes) -> dict[str, dict]:
    """Seven corrupt rows, one per reason, built from good ones."""
    full = [r for r in rows if r["text"] and r["audio"] and r["frames"]]
    png = full[1]["frames"][0]
    return {
        "media_too_large": {**full[6], "sample_id": "bad-bomb", "frames": [png, bomb]},
        "audio_undecodable": {**full[0], "sample_id": "bad-wav", "audio": b"RIFF\x00\x00\x00\x00WAVEnot audio"},
        "image_undecodable": {**full[1], "sample_id": "bad-png", "frames": [png[: len(png) // 2]]},
        "unknown_label": {**full[2], "sample_id": "bad-label", "emotion": "bliss"},
        "no_modality": {**full[3], "sample_id": "bad-empty", "text": None, "audio": None, "frames": None},
        "nonfinite_features": {**full[4], "sample_id": "bad-nan", "audio_features": [[0.1, float("nan")]]},
        "audio_too_long": {**full[5], "sample_id": "bad-long", "audio": ten_minute_flac()},
    }


@pytest.fixture(scope="module")
def prepared(ray_cluster, corpus_rows, tmp_path_factory, png_bomb):
    source = tmp_path_factory.mktemp("shards")
    bad = planted(corpus_rows, png_bomb(6000, 6000))  # 36 Mpx from a few KB: quarantined, never decoded
    good = corpus_rows[:90]
    synthetic = SHARD_SCHEMA.with_metadata({SYNTHETIC_KEY: b"true"})  # one synthetic file labels the output
    pq.write_table(pa.Table.from_pylist(good[:40], schema=synthetic), source / "a.parquet")
    mixed = good[40:] + list(bad.values())
    pq.write_table(pa.Table.from_pylist(mixed, schema=SHARD_SCHEMA), source / "b.parquet")
    output = tmp_path_factory.mktemp("features") / "out"
    manifest = prepare(source, output, CONFIG, batch_size=16, echo=lambda _: None)
    return {"manifest": manifest, "output": output, "good": good, "bad": bad}


def test_every_planted_row_is_quarantined_with_its_own_reason(prepared):
    manifest = prepared["manifest"]
    assert manifest["rows_in"] == 97
    assert manifest["rows_out"] == 90 and manifest["rows_quarantined"] == 7
    assert manifest["rows_in"] == manifest["rows_out"] + manifest["rows_quarantined"]
    assert manifest["reasons"] == {reason: 1 for reason in prepared["bad"]}
    quarantine = pq.read_table(sorted((prepared["output"] / "_quarantine").glob("*.parquet"))).to_pylist()
    by_id = {row["sample_id"]: row for row in quarantine}
    for reason, row in prepared["bad"].items():
        kept = by_id[row["sample_id"]]
        assert kept["reason"] == reason and kept["detail"]
        assert kept["audio"] == row["audio"] and kept["frames"] == row["frames"] and kept["text"] == row["text"]


def test_manifest_records_inputs_hash_and_the_synthetic_label(prepared):
    manifest = json.loads((prepared["output"] / "manifest.json").read_text())
    assert [item["rows"] for item in manifest["inputs"]] == [40, 57]
    assert manifest["config_hash"] == CONFIG.fingerprint("features", "labels")
    assert manifest["synthetic"] is True and (prepared["output"] / "_SYNTHETIC.md").is_file()


def test_ray_output_equals_the_single_process_functions(prepared, ray_cluster):
    """Shard rows, collated as training collates them, equal Serve's featurize_batch."""
    collate = FeatureCollate(CONFIG.features)
    got, ids = {}, []
    for batch in load_feature_dataset(prepared["output"]).iter_batches(batch_size=32, batch_format="numpy"):
        tensors = collate(batch)
        for i, sample_id in enumerate(batch["sample_id"]):
            got[str(sample_id)] = {key: value[i].numpy() for key, value in tensors.items()}
    assert sorted(got) == sorted(r["sample_id"] for r in prepared["good"])
    expected = featurize_batch(prepared["good"], CONFIG.features)
    for i, source in enumerate(prepared["good"]):
        row = got[source["sample_id"]]
        for key, values in expected.items():
            np.testing.assert_array_equal(row[key], values[i], err_msg=f"{key} {source['sample_id']}")
        for head in HEADS:
            assert row[head] == CONFIG.labels.encode(head, source[head])


def test_absent_modalities_cost_nothing_in_the_shards(prepared):
    """No zero tensors stored: a row without audio has a null audio, frames are uint8."""
    files = [prepared["output"] / name for name in json.loads((prepared["output"] / "manifest.json").read_text())["outputs"]]
    table = pq.read_table(files)
    assert str(table.schema.field("frames").type) == "list<element: uint8>"
    by_id = {row["sample_id"]: row for row in table.select(["sample_id", "tokens", "audio", "frames"]).to_pylist()}
    for source in prepared["good"]:
        row = by_id[source["sample_id"]]
        assert (row["audio"] is None) == (source["audio"] is None)
        assert (row["frames"] is None) == (source["frames"] is None)
        assert (row["tokens"] is None) == (not (source["text"] or "").strip())
    assert "input_ids" not in table.schema.names and "audio_mask" not in table.schema.names


def test_feature_batches_feed_the_model(prepared, ray_cluster):
    dataset = load_feature_dataset(prepared["output"], split="train")
    batch = next(iter(dataset.iter_torch_batches(batch_size=8, collate_fn=FeatureCollate(CONFIG.features))))
    assert set(batch) >= {"input_ids", "audio", "frames", "present", *HEADS}
    loss, _ = joint_loss(build_model(CONFIG)(batch), batch)
    assert np.isfinite(loss.item())
    splits = {r["split"] for r in load_feature_dataset(prepared["output"], split="val").take_all()}
    assert splits == {"val"}


def test_a_non_parquet_file_is_named(tmp_path, corpus_dir):
    source = tmp_path / "in"
    source.mkdir()
    (source / "notes.csv").write_text("a,b\n")
    with pytest.raises(DataInputError, match="notes.csv"):
        prepare(source, tmp_path / "out", CONFIG)


def test_a_corrupt_parquet_file_is_named(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    (source / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataInputError, match="broken.parquet"):
        prepare(source, tmp_path / "out", CONFIG)


def test_missing_contract_columns_are_named(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    pq.write_table(pa.table({"sample_id": ["x"], "text": ["hi"]}), source / "thin.parquet")
    with pytest.raises(DataInputError, match="thin.parquet.*missing columns"):
        prepare(source, tmp_path / "out", CONFIG)


def test_refuses_a_non_empty_output(tmp_path, corpus_dir):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("")
    with pytest.raises(FileExistsError, match="not empty"):
        prepare(corpus_dir, tmp_path / "out", CONFIG)


def test_a_batch_of_only_bad_rows_is_all_quarantined(corpus_rows, png_bomb):
    from mmei.pipelines.prepare import ShardFeaturizer

    bad = list(planted(corpus_rows, png_bomb(6000, 6000)).values())
    table = pa.Table.from_pylist(bad, schema=SHARD_SCHEMA)
    mixed = ShardFeaturizer(CONFIG.to_dict())(table)
    assert mixed.num_rows == len(bad) and mixed.column("reason").null_count == 0
