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
    assert report["prepare_overrides"][-4:] == ["features.audio_input=features", "features.audio_feature_dim=8",
                                                "features.visual_input=features", "features.visual_feature_dim=6"]
    assert report["feature_steps"]["audio_features"]["max"] == 7
    config = load_config("mintrec", [*report["prepare_overrides"], "features.max_feature_steps=5"])
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


def good_mmsa_split(n: int = 2) -> dict:
    return {"raw_text": [f"u{i}" for i in range(n)], "audio": np.zeros((n, 3, 2), np.float32),
            "vision": np.zeros((n, 3, 2), np.float32), "id": np.array([f"v{i}" for i in range(n)]),
            "regression_labels": np.zeros(n, np.float32)}


MALFORMED_MMSA = {
    "split not a dict": ({"train": [1, 2, 3]}, "split 'train' is a list"),
    "labels a scalar": ({"train": {**good_mmsa_split(), "regression_labels": 3.0}}, "key 'regression_labels'"),
    "ragged audio": ({"train": {**good_mmsa_split(), "audio": [[[1.0, 2.0], [3.0]], [[1.0, 2.0]]]}},
                     "row 0, key 'audio'"),
    "text audio not numbers": ({"train": {**good_mmsa_split(), "vision": [[["a", "b"]], [["c", "d"]]]}},
                               "row 0, key 'vision'"),
    "empty label": ({"train": {**good_mmsa_split(), "regression_labels": [[], []]}}, "row 0, key 'regression_labels'"),
    "fewer texts": ({"train": {**good_mmsa_split(), "raw_text": ["only one"]}}, "1 texts for 2 ids"),
    "lengths not numbers": ({"train": {**good_mmsa_split(), "audio_lengths": ["x", "y"]}}, "row 0, key 'audio'"),
}


@pytest.mark.parametrize("case", MALFORMED_MMSA)
def test_every_malformed_mmsa_structure_names_the_file_and_key(tmp_path, case):
    data, message = MALFORMED_MMSA[case]
    (tmp_path / "aligned.pkl").write_bytes(pickle.dumps(data))
    with pytest.raises(ImportFormatError, match="aligned.pkl") as error:
        import_dataset("mmsa", tmp_path / "aligned.pkl", tmp_path / "out")
    assert message in str(error.value)


def test_a_mintrec_feature_that_is_not_an_array_names_the_file_and_key(tmp_path):
    (tmp_path / "train.tsv").write_text("season\tepisode\tclip\ttext\tlabel\nS1\tE1\t3\thi\tThank\n")
    (tmp_path / "audio_feats.pkl").write_bytes(pickle.dumps({"S1_E1_3": "not features"}))
    with pytest.raises(ImportFormatError, match="audio_feats.pkl: key 'S1_E1_3'"):
        import_dataset("mintrec", tmp_path, tmp_path / "out")


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


# ---------------------------------------------------------------- the public datasets' real layouts
MELD_HEADER = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"


def test_meld_raw_layout_keeps_each_splits_own_media(tmp_path):
    """MELD.Raw: every split folder reuses dia0_utt0; each split must get its own files."""
    source = tmp_path / "MELD.Raw"
    for csv_name, folder, tone, text in (("train_sent_emo.csv", "train_splits", 0.1, "Oh, my God!"),
                                         ("dev_sent_emo.csv", "dev_splits_complete", 0.2, "I don't know."),
                                         ("test_sent_emo.csv", "output_repeated_splits_test", 0.3, "Why?")):
        (source / folder).mkdir(parents=True)
        (source / folder / "dia0_utt0.wav").write_bytes(wav(tone))
        (source / folder / "dia0_utt0_001.png").write_bytes(png((int(tone * 500), 0, 0)))
        (source / folder / "dia0_utt1.mp4").write_bytes(b"video only")
        (source / csv_name).write_bytes((MELD_HEADER + f'1,"{text}",Chandler,surprise,positive,0,0,8,21,'
                                         '"00:16:16,059","00:16:21,731"\n2,"Fine, sure.",Joey,neutral,neutral,0,1,8,21,'
                                         '"00:16:22,000","00:16:23,000"\n').encode("cp1252"))
    report = import_dataset("meld", source, tmp_path / "out")
    rows = rows_of(tmp_path / "out")
    assert set(rows) == {f"{s}-dia0_utt{u}" for s in ("train", "val", "test") for u in (0, 1)}
    audio = {split: rows[f"{split}-dia0_utt0"]["audio"] for split in ("train", "val", "test")}
    assert audio == {"train": wav(0.1), "val": wav(0.2), "test": wav(0.3)}  # no split sees another's clip
    assert all(len(rows[f"{split}-dia0_utt0"]["frames"]) == 1 for split in ("train", "val", "test"))
    assert rows["val-dia0_utt1"]["text"] == "Fine, sure." and rows["val-dia0_utt1"]["audio"] is None
    assert report["video_only_without_extracted_media"] == 3
    assert report["media_folders"] == {"train": "train_splits", "val": "dev_splits_complete",
                                       "test": "output_repeated_splits_test"}


def test_meld_ambiguous_media_within_a_split_names_both_files(tmp_path):
    source = tmp_path / "meld"
    (source / "train" / "a").mkdir(parents=True)
    (source / "train" / "b").mkdir()
    (source / "train" / "a" / "dia0_utt0.wav").write_bytes(wav())
    (source / "train" / "b" / "dia0_utt0.wav").write_bytes(wav(0.3))
    (source / "train_sent_emo.csv").write_text(MELD_HEADER + "1,Hi,Ross,joy,positive,0,0,1,1,a,b\n")
    with pytest.raises(ImportFormatError, match=r"ambiguous: .*a/dia0_utt0.wav and .*b/dia0_utt0.wav"):
        import_dataset("meld", source, tmp_path / "out")


def test_mintrec_real_shapes_and_a_text_that_starts_with_a_quote(tmp_path, ray_cluster):
    """Video (T<=225, 1, 256) and audio (~480, 768), as released: never quarantined for
    length, subsampled alike. A TSV text starting with '"' stays one text (upstream reads
    with no quote handling)."""
    source = tmp_path / "MIntRec"
    source.mkdir()
    (source / "train.tsv").write_text("season\tepisode\tclip\ttext\tlabel\n"
                                      'S04\tE01\t1\t"Thank you," she said\tThank\n'
                                      "S04\tE01\t2\tcould you help me move\tAsk for help\n")
    (source / "dev.tsv").write_text("season\tepisode\tclip\ttext\tlabel\nS05\tE02\t7\tthat was rude\tCriticize\n")
    rng = np.random.default_rng(0)
    video = {"S04_E01_1": rng.normal(size=(225, 1, 256)).astype(np.float32),
             "S04_E01_2": rng.normal(size=(40, 1, 256)).astype(np.float32),
             "S05_E02_7": rng.normal(size=(180, 1, 256)).astype(np.float32)}
    audio = {key: rng.normal(size=(477, 768)).astype(np.float32) for key in video}
    for key in video:  # column 0 of each: a ramp over that stream's own time, 0 → 1
        video[key][:, 0, 0] = np.linspace(0, 1, len(video[key]))
        audio[key][:, 0] = np.linspace(0, 1, len(audio[key]))
    (source / "video_feats.pkl").write_bytes(pickle.dumps(video))
    (source / "audio_feats.pkl").write_bytes(pickle.dumps(audio))
    report = import_dataset("mintrec", source, tmp_path / "shards")
    rows = rows_of(tmp_path / "shards")
    assert rows["S04_E01_1"]["text"] == '"Thank you," she said' and rows["S04_E01_1"]["intent"] == "Thank"
    assert rows["S04_E01_2"]["intent"] == "Ask for help" and len(rows) == 3
    assert len(rows["S04_E01_1"]["visual_features"]) == 225 and len(rows["S04_E01_1"]["visual_features"][0]) == 256
    assert report["feature_steps"]["visual_features"]["max"] == 225
    assert "features.max_feature_steps=256" in report["prepare_overrides"]  # 477 audio steps, capped
    config = load_config("mintrec", [*report["prepare_overrides"], "features.max_feature_steps=32"])
    manifest = prepare(tmp_path / "shards", tmp_path / "features", config, echo=lambda _: None)
    assert (manifest["rows_out"], manifest["rows_quarantined"]) == (3, 0)
    from mmei.pipelines.feature_dataset import FeatureCollate, load_feature_dataset

    batch = FeatureCollate(config.features)(load_feature_dataset(tmp_path / "features").take_batch(3, batch_format="numpy"))
    assert batch["audio"].shape == (3, 32, 768) and batch["frames"].shape == (3, 32, 256)
    assert batch["frame_mask"].all() and batch["audio_mask"].all()  # 40 to 477 steps, all kept as 32
    # subsampled alike: the kept audio and video steps sit at the same relative times
    np.testing.assert_allclose(batch["audio"][:, :, 0].numpy(), batch["frames"][:, :, 0].numpy(), atol=1 / 40)


def test_mosei_minus_infinity_is_zeroed_and_counted_and_the_score_kept(tmp_path, ray_cluster):
    """CMU-MOSEI's audio holds -inf: MMSA's loader sets it to 0, so must we (not quarantine)."""
    rng = np.random.default_rng(1)

    def split(ids, scores):
        n = len(ids)
        audio = rng.normal(size=(n, 6, 74)).astype(np.float32)
        audio[0, 2, :5] = -np.inf
        return {"raw_text": [f"utterance {i}" for i in ids], "audio": audio,
                "vision": rng.normal(size=(n, 8, 35)).astype(np.float32), "id": np.array(ids),
                "regression_labels": np.array(scores, dtype=np.float32), "classification_labels": np.zeros(n)}

    data = {"train": split(["v1$_$0", "v1$_$1", "v1$_$2", "v1$_$3"], [-2.4, -0.4, 0.6, 3.0]),
            "valid": split(["v2$_$0", "v2$_$1"], [0.0, -0.6]), "test": split(["v3$_$0", "v3$_$1"], [1.2, -1.0])}
    (tmp_path / "unaligned_50.pkl").write_bytes(pickle.dumps(data))
    report = import_dataset("mmsa", tmp_path / "unaligned_50.pkl", tmp_path / "shards")
    rows = rows_of(tmp_path / "shards")
    assert report["nonfinite_values_zeroed"] == {"audio": 15, "vision": 0}  # 5 per split's first row
    assert rows["v1$_$0"]["audio_features"][2][:5] == [0.0] * 5
    # MMSA's Acc-3 bins: round(clip(score, -1, 1))
    assert [rows[i]["sentiment"] for i in ("v1$_$0", "v1$_$1", "v1$_$2", "v2$_$0", "v2$_$1")] == [
        "negative", "neutral", "positive", "neutral", "negative"]
    assert rows["v1$_$3"]["score"] == pytest.approx(3.0)
    config = load_config("mmsa", report["prepare_overrides"])
    manifest = prepare(tmp_path / "shards", tmp_path / "features", config, echo=lambda _: None)
    assert (manifest["rows_out"], manifest["rows_quarantined"]) == (8, 0)
    from mmei.pipelines.feature_dataset import FeatureCollate, load_feature_dataset

    batch = FeatureCollate(config.features)(load_feature_dataset(tmp_path / "features", "test").take_batch(
        2, batch_format="numpy"))
    assert sorted(batch["score"].tolist()) == pytest.approx([-1.0, 1.2])


def test_folder_in_split_subfolders_imports_no_folder_as_a_sample(tmp_path):
    """The real-text layout: ID.txt files under train/ and test/, one labels.csv."""
    source = tmp_path / "texts"
    for split in ("train", "test"):
        (source / split).mkdir(parents=True)
    (source / "labels.csv").write_text("sample_id,split,sentiment\n" + "".join(
        f"{i},{'train' if i < 6 else 'test'},{'positive' if i % 2 else 'negative'}\n" for i in range(8)))
    for i in range(8):
        (source / ("train" if i < 6 else "test") / f"{i}.txt").write_text(f"text number {i}")
    report = import_dataset("folder", source, tmp_path / "out")
    rows = rows_of(tmp_path / "out")
    assert sorted(rows) == [str(i) for i in range(8)] and report["media_without_labels_row"] == 0
    assert rows["7"]["text"] == "text number 7" and rows["7"]["split"] == "test"


@pytest.mark.parametrize("fmt", ["folder", "ravdess", "fer2013"])
def test_a_symlink_leaving_the_dataset_is_kept_aside_by_name_never_read(tmp_path, fmt):
    (tmp_path / "token").write_bytes(b"service-account-token")
    root = tmp_path / "data"
    inner = {"folder": root, "ravdess": root / "Actor_01", "fer2013": root / "train" / "happy"}[fmt]
    inner.mkdir(parents=True)
    real, link = {"folder": ("a.wav", "b.wav"), "ravdess": ("03-01-01-01-01-01-01.wav", "03-01-05-01-01-01-01.wav"),
                  "fer2013": ("a.png", "b.png")}[fmt]
    (inner / real).write_bytes(png() if fmt == "fer2013" else wav())
    (inner / link).symlink_to(tmp_path / "token")
    if fmt == "folder":
        (root / "labels.csv").write_text("sample_id,emotion\na,joy\n")
    if fmt == "fer2013":  # the folders layout has its own test split
        (root / "test" / "sad").mkdir(parents=True)
        (root / "test" / "sad" / "c.png").write_bytes(png())
    report = import_dataset(fmt, root, tmp_path / "out")
    assert report["rows"] == (2 if fmt == "fer2013" else 1) and report["files_rejected"] == {"link_outside_root": 1}
    (kept,) = pq.read_table(tmp_path / "out" / "_quarantine" / "import-rejected.parquet").to_pylist()
    assert kept["file"].endswith(link) and kept["content"] == b"" and str(tmp_path / "token") in kept["detail"]
