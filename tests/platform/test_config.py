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


@pytest.mark.parametrize("text, value", [("2e-5", 2e-5), ("1e3", 1000.0), ("5e-05", 5e-5), ("2.0e-5", 2e-5),
                                         ("-1.5E+2", -150.0), (".5", 0.5), ("3", 3.0)])
def test_a_float_takes_the_notation_recipes_write(text, value):
    """PyYAML reads `2e-5` as a string (YAML 1.1 wants `2.0e-5`); a float field takes it."""
    config = load_config("tiny", [f"train.encoder_lr={text}"])
    assert config.train.encoder_lr == value and isinstance(config.train.encoder_lr, float)


@pytest.mark.parametrize("override, message", [
    ("train.encoder_lr=2e", "train.encoder_lr must be float"),
    ("train.encoder_lr=fast", "train.encoder_lr must be float"),
    ("model.hidden_size=1e3", "model.hidden_size must be int"),
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
