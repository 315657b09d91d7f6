"""The SYNTHETIC corpus: contract schema, labels and missing rates as configured, its story."""
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from mmei.pipelines.sources.synthetic import (EMOTION_PHRASES, INTENT_PHRASES, SARCASTIC_EMOTIONS,
                                              expected_emotion_distribution, make_sample, write_corpus)
from mmei.platform.config import load_config
from mmei.platform.features import decode_audio, decode_image
from mmei.platform.schema import MODALITY_SCHEMA, SYNTHETIC_KEY


def generate(tmp_path, *overrides):
    config = load_config("tiny", list(overrides))
    write_corpus(tmp_path, config.corpus, config.labels, config.features, progress=lambda _: None)
    return config, pq.read_table(sorted(tmp_path.glob("*.parquet")))


def test_reads_back_in_the_documented_schema_and_says_synthetic(corpus_dir):
    files = sorted(corpus_dir.glob("*.parquet"))
    assert [f.name for f in files] == ["synthetic-part-00000.parquet", "synthetic-part-00001.parquet",
                                       "synthetic-part-00002.parquet"]
    table = pq.read_table(files)
    for field in MODALITY_SCHEMA:
        assert table.schema.field(field.name).type == field.type, field.name
    for f in files:
        assert pq.read_schema(f).metadata[SYNTHETIC_KEY] == b"true"
    summary = json.loads((corpus_dir / "_summary.json").read_text())
    assert summary["synthetic"] is True and summary["rows"] == 240 == table.num_rows
    assert "SYNTHETIC" in (corpus_dir / "_SYNTHETIC.md").read_text()
    assert summary["splits"] == {"test": 24, "train": 192, "val": 24}


def test_media_decodes(corpus_rows):
    row = next(r for r in corpus_rows if r["audio"] and r["frames"])
    assert 0.7 <= decode_audio(row["audio"], 16000).size / 16000 <= 1.7
    assert decode_image(row["frames"][0]).size == (48, 48)


def test_label_distribution_and_missing_rate_match_the_config(tmp_path):
    config, table = generate(tmp_path, "corpus.samples=1500", "corpus.missing_rate=0.3", "corpus.shard_rows=1500")
    n = table.num_rows
    for column in ("text", "audio", "frames"):
        # each modality is dropped with p, minus the rows where all three went and this one came back
        expected = 0.3 - 0.3 ** 3 / 3
        assert table.column(column).null_count / n == pytest.approx(expected, abs=4 * np.sqrt(0.25 / n))
    counts = {e: 0 for e in config.labels.emotion}
    for emotion in table.column("emotion").to_pylist():
        counts[emotion] += 1
    for emotion, p in expected_emotion_distribution(config.corpus).items():
        assert counts[emotion] / n == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n)), emotion
    scenarios = table.column("scenario").to_pylist()
    assert scenarios.count("sarcasm") / n == pytest.approx(0.1, abs=0.035)
    assert scenarios.count("neutral_text") / n == pytest.approx(0.2, abs=0.045)


def test_label_noise_setting_is_applied(tmp_path):
    _, table = generate(tmp_path, "corpus.samples=600", "corpus.label_noise=1.0", "corpus.shard_rows=600")
    pairs = list(zip(table.column("emotion").to_pylist(), table.column("sentiment").to_pylist()))
    consistent = sum(1 for e, s in pairs if (e, s) in {("joy", "positive"), ("neutral", "neutral")}
                     or (e in ("anger", "disgust", "fear", "sadness") and s == "negative"))
    assert consistent / len(pairs) < 0.6  # with no noise every such pair is consistent


def test_the_story_holds_in_the_rows(corpus_rows):
    for row in corpus_rows:
        if row["text"] is None:
            continue
        if row["scenario"] == "sarcasm":
            assert row["emotion"] in SARCASTIC_EMOTIONS and row["sentiment"] == "negative"
            assert any(row["text"].lower().startswith(p.lower()) for p in EMOTION_PHRASES["joy"])
        if row["scenario"] == "neutral_text":
            assert any(row["text"].lower().startswith(p.lower()) for p in EMOTION_PHRASES["neutral"])
        if row["scenario"] == "aligned":
            assert any(row["text"].lower().startswith(p.lower()) for p in EMOTION_PHRASES[row["emotion"]])
    with_intent = [r for r in corpus_rows if r["text"] and any(
        p.lower() in r["text"].lower() for p in INTENT_PHRASES[r["intent"]])]
    assert len(with_intent) > 0.7 * sum(1 for r in corpus_rows if r["text"])


def test_samples_are_deterministic_whatever_the_sharding():
    config = load_config("tiny")
    a = make_sample(17, "train", config.corpus, config.labels, 16000)
    b = make_sample(17, "train", config.corpus, config.labels, 16000)
    assert a == b
    other = load_config("tiny", ["corpus.seed=1"]).corpus
    assert make_sample(17, "train", other, config.labels, 16000)["audio"] != a["audio"]


def test_refuses_to_mix_into_an_existing_corpus(corpus_dir):
    config = load_config("tiny")
    with pytest.raises(FileExistsError, match="already holds"):
        write_corpus(corpus_dir, config.corpus, config.labels, config.features)
