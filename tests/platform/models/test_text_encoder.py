"""The text encoder really holds the pretrained MiniLM weights: no silent random init."""
import pytest
import torch
from safetensors.torch import load_file

from mmei.platform.config import load_config
from mmei.platform.models.text_encoder import TextEncoder
from mmei.platform.text_weights import default_text_model_dir


@pytest.mark.parametrize("layers", [2, 0])
def test_loaded_weights_equal_the_shipped_safetensors(layers):
    config = load_config("tiny", [f"model.text_layers={layers}"])
    encoder = TextEncoder(config.model)
    shipped = load_file(str(default_text_model_dir() / "model.safetensors"))
    loaded = encoder.bert.state_dict()
    assert len(loaded) > 10
    for key, tensor in loaded.items():
        source = shipped.get(key, shipped.get(f"bert.{key}"))
        if source is None and key.endswith("position_ids"):
            continue
        assert source is not None, f"{key} is not in the shipped file"
        assert torch.equal(tensor, source), key
    expected_layers = layers or 6
    assert encoder.bert.config.num_hidden_layers == expected_layers


def test_random_init_differs_from_pretrained():
    config = load_config("tiny")
    pretrained = TextEncoder(config.model, pretrained=True).bert.embeddings.word_embeddings.weight
    scratch = TextEncoder(config.model, pretrained=False).bert.embeddings.word_embeddings.weight
    assert not torch.equal(pretrained, scratch)


def test_a_checkpoint_missing_weights_is_refused(tmp_path):
    import json
    import shutil

    from safetensors.torch import save_file

    source = default_text_model_dir()
    for name in ("config.json", "vocab.txt", "tokenizer_config.json", "tokenizer.json", "special_tokens_map.json"):
        shutil.copy2(source / name, tmp_path / name)
    weights = load_file(str(source / "model.safetensors"))
    save_file({k: v for k, v in weights.items() if "layer.0.output" not in k}, str(tmp_path / "model.safetensors"))
    config = load_config("tiny", [f"model.text_model_path={tmp_path}"])
    with pytest.raises(RuntimeError, match="missing"):
        TextEncoder(config.model)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "bert"


def test_a_sample_without_text_never_reaches_bert_as_a_fully_masked_row():
    """On CUDA in bf16, BERT's attention over an all-padding row gave non-finite gradients
    to every BERT weight (found on an H100), so no step was ever taken. Every row BERT
    sees must have a key; the returned mask still says the text is absent."""
    encoder = TextEncoder(load_config("tiny").model, pretrained=False)
    seen = {}
    encoder.bert.register_forward_pre_hook(lambda _, args, kwargs: seen.update(kwargs), with_kwargs=True)
    mask = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]])
    _, valid = encoder({"input_ids": torch.tensor([[101, 7, 0, 0], [0, 0, 0, 0]]), "attention_mask": mask})
    assert (seen["attention_mask"].sum(dim=1) > 0).all()
    assert torch.equal(seen["attention_mask"][0], mask[0])  # a present text is untouched
    assert torch.equal(valid, mask.bool())  # downstream still sees no text in row 1
