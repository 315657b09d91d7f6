import pytest

from mmei.platform.config import ConfigError, load_config


def test_presets_load_with_their_names():
    tiny, base = load_config("tiny"), load_config("base")
    assert tiny.name == "tiny" and base.name == "base"
    assert base.model.hidden_size > tiny.model.hidden_size


def test_overrides_are_typed():
    config = load_config("tiny", ["model.hidden_size=128", "model.dropout=0", "corpus.splits.train=0.7",
                                  "corpus.splits.val=0.2", "model.text_trainable=false", "model.text_model_path=/x"])
    assert config.model.hidden_size == 128 and isinstance(config.model.dropout, float)
    assert config.corpus.splits == {"train": 0.7, "val": 0.2, "test": 0.1}
    assert config.model.text_trainable is False and config.model.text_model_path == "/x"


@pytest.mark.parametrize("override, message", [
    ("model.hiden_size=3", "hiden_size"),
    ("model.hidden_size=big", "model.hidden_size must be int"),
    ("model.type=transformer", "model.type must be one of"),
    ("model.hidden_size=63", "must divide"),
    ("corpus.missing_rate=2", "corpus.missing_rate"),
    ("no_equals_sign", "key=value"),
    ("model.text_trainable=3", "true or false"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("tiny", [override])


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="tiny"):
        load_config("huge")


def test_yaml_file_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("model:\n  hidden_size: 32\n  num_heads: 2\n")
    config = load_config(str(path))
    assert config.name == "mine" and config.model.hidden_size == 32


def test_fingerprint_changes_with_the_config():
    assert load_config("tiny").fingerprint("features") == load_config("tiny").fingerprint("features")
    assert load_config("tiny").fingerprint("features") != load_config("tiny", ["features.n_mels=16"]).fingerprint("features")


def test_string_fields_keep_the_raw_override_text():
    config = load_config("tiny", ["train.inject_failure_at=1:0", "model.text_model_path=/models/bert-1.0",
                                  "features.tokenizer_path=null"])
    assert config.train.inject_failure_at == "1:0" and config.model.text_model_path == "/models/bert-1.0"
    assert config.features.tokenizer_path is None
