"""Each importer on small files laid out as the format's public description says."""
import io
import json
import pickle

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from mmei.pipelines.prepare import prepare
from mmei.pipelines.sources.importers import import_dataset
from mmei.pipelines.sources.shards import ImportFormatError
from mmei.platform.config import load_config
from mmei.platform.features import encode_wav
from mmei.platform.schema import MODALITY_SCHEMA


def png(color=(200, 100, 50)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buffer, format="PNG")
    return buffer.getvalue()


def wav(seconds=0.5) -> bytes:
    return encode_wav(np.sin(np.arange(int(16000 * seconds)) / 10).astype(np.float32) * 0.3, 16000)


def rows_of(out):
    table = pq.read_table(sorted(out.glob("*.parquet")))
    assert table.schema.names == MODALITY_SCHEMA.names
    return {row["sample_id"]: row for row in table.to_pylist()}


def test_mmsa_pickle(tmp_path):
    rng = np.random.default_rng(0)

    def split(ids, scores):
        n = len(ids)
        return {"raw_text": [f"utterance {i}" for i in ids], "audio": rng.normal(size=(n, 5, 4)).astype(np.float32),
                "vision": rng.normal(size=(n, 6, 3)).astype(np.float32), "id": np.array(ids),
                "regression_labels": np.array(scores, dtype=np.float32), "audio_lengths": [5, 2, 3][:n],
                "classification_labels": np.zeros(n)}

    data = {"train": split(["a$_$1", "a$_$2", "a$_$3"], [-1.4, 0.0, 2.2]), "valid": split(["b$_$1"], [0.6]),
            "test": split(["c$_$1", "c$_$2"], [-3.0, 1.0])}
    source = tmp_path / "aligned_50.pkl"
    source.write_bytes(pickle.dumps(data))
    report = import_dataset("mmsa", source, tmp_path / "out")
    rows = rows_of(tmp_path / "out")
    assert report["splits"] == {"train": 3, "val": 1, "test": 2}
    assert [rows[i]["sentiment"] for i in ("a$_$1", "a$_$2", "a$_$3")] == ["negative", "neutral", "positive"]
    assert len(rows["a$_$2"]["audio_features"]) == 2 and len(rows["a$_$1"]["visual_features"]) == 6
    assert rows["a$_$1"]["emotion"] is None and rows["a$_$1"]["text"] == "utterance a$_$1"
    assert report["feature_dims"] == {"audio_features": 4, "visual_features": 3}


def test_mintrec_folder_and_its_features_prepare_on_ray(tmp_path, ray_cluster):
    source = tmp_path / "mintrec"
    source.mkdir()
    (source / "train.tsv").write_text("season\tepisode\tclip\ttext\tlabel\n"
                                      "S04\tE01\t1\tthanks so much for this\tThank\n"
                                      "S04\tE01\t2\tcould you help me move\tAsk for help\n")
    (source / "dev.tsv").write_text("season\tepisode\tclip\ttext\tlabel\nS05\tE02\t7\tthat was rude\tCriticize\n")
    audio = {"S04_E01_1": np.ones((7, 8)), "S05_E02_7": np.zeros((3, 8))}
    video = {"S04_E01_1": np.ones((4, 6)), "S04_E01_2": np.ones((2, 6))}
    (source / "audio_feats.pkl").write_bytes(pickle.dumps(audio))
    (source / "video_feats.pkl").write_bytes(pickle.dumps(video))
    report = import_dataset("mintrec", source, tmp_path / "shards")
    rows = rows_of(tmp_path / "shards")
    assert rows["S04_E01_2"]["intent"] == "Ask for help" and rows["S04_E01_2"]["audio_features"] is None
    assert rows["S05_E02_7"]["split"] == "val" and len(rows["S04_E01_1"]["visual_features"]) == 4
    assert report["prepare_overrides"] == ["features.audio_input=features", "features.audio_feature_dim=8",
                                           "features.visual_input=features", "features.visual_feature_dim=6"]
    config = load_config("mintrec", [*report["prepare_overrides"], "features.audio_feature_steps=5"])
    manifest = prepare(tmp_path / "shards", tmp_path / "features", config, echo=lambda _: None)
    assert (manifest["rows_out"], manifest["rows_quarantined"]) == (3, 0)


def test_meld_csv_with_media_folder(tmp_path):
    source = tmp_path / "meld"
    media = source / "train_splits"
    media.mkdir(parents=True)
    (source / "train_sent_emo.csv").write_bytes(
        "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID\n"
        "1,I can\u2019t believe it!,Joey,surprise,positive,0,0\n"
        "2,Oh no.,Ross,sadness,negative,0,1\n"
        "3,Fine.,Monica,neutral,neutral,1,0\n".encode("cp1252"))
    (media / "dia0_utt0.wav").write_bytes(wav())
    (media / "dia0_utt1_001.png").write_bytes(png())
    (media / "dia0_utt1_002.png").write_bytes(png((10, 10, 10)))
    (media / "dia1_utt0.mp4").write_bytes(b"not decoded")
    report = import_dataset("meld", source, tmp_path / "out")
    rows = rows_of(tmp_path / "out")
    first, second, third = rows["train-dia0_utt0"], rows["train-dia0_utt1"], rows["train-dia1_utt0"]
    assert first["text"] == "I can\u2019t believe it!" and first["audio"] == wav() and first["frames"] is None
    assert second["emotion"] == "sadness" and len(second["frames"]) == 2 and second["audio"] is None
    assert third["audio"] is None and third["frames"] is None and third["text"] == "Fine."
    assert report["video_only_without_extracted_media"] == 1


def test_plain_folder_with_labels_csv(tmp_path):
    source = tmp_path / "plain"
    source.mkdir()
    (source / "labels.csv").write_text("sample_id,split,emotion,sentiment,intent\n"
                                       "s1,train,joy,positive,create\ns2,test,,,\ns3,val,anger,negative,\n")
    (source / "s1.txt").write_text("make me one like this")
    (source / "s1.wav").write_bytes(wav())
    (source / "s1_001.png").write_bytes(png())
    (source / "s1_002.png").write_bytes(png())
    (source / "s2.txt").write_text("hello")
    (source / "s4.wav").write_bytes(wav())  # media without a labels row
    report = import_dataset("folder", source, tmp_path / "out")
    rows = rows_of(tmp_path / "out")
    assert rows["s1"]["intent"] == "create" and len(rows["s1"]["frames"]) == 2 and rows["s1"]["audio"]
    assert rows["s2"]["emotion"] is None and rows["s2"]["split"] == "test"
    assert rows["s3"]["text"] is None and rows["s3"]["audio"] is None  # kept; prepare will quarantine it
    assert rows["s4"]["split"] == "train" and rows["s4"]["audio"] and report["media_without_labels_row"] == 1


@pytest.mark.parametrize("fmt, files, message", [
    ("mintrec", {"train.tsv": "text\tlabel\nhi\tThank\n"}, "header"),
    ("mintrec", {"train.tsv": "season\tepisode\tclip\ttext\tlabel\nS1\tE1\n"}, "train.tsv row 2"),
    ("meld", {"train_sent_emo.csv": "Utterance,Emotion\nhi,joy\n"}, "missing columns"),
    ("meld", {"train_sent_emo.csv": "Utterance,Emotion,Sentiment,Dialogue_ID,Utterance_ID\nhi,joy,positive,x,1\n"},
     "row 2"),
    ("folder", {"labels.csv": "id,emotion\n"}, "sample_id"),
    ("folder", {"labels.csv": "sample_id\na\na\n"}, "row 3: duplicate"),
])
def test_malformed_inputs_name_the_file_and_row(tmp_path, fmt, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ImportFormatError, match=message):
        import_dataset(fmt, tmp_path, tmp_path / "out")


def test_mmsa_that_is_not_a_pickle_is_named(tmp_path):
    (tmp_path / "x.pkl").write_bytes(b"nope")
    with pytest.raises(ImportFormatError, match="x.pkl"):
        import_dataset("mmsa", tmp_path / "x.pkl", tmp_path / "out")


def test_import_report_is_written(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "labels.csv").write_text("sample_id\na\n")
    (tmp_path / "in" / "a.txt").write_text("hi")
    import_dataset("folder", tmp_path / "in", tmp_path / "out")
    assert json.loads((tmp_path / "out" / "_import.json").read_text())["rows"] == 1
