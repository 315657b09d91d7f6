"""The paper-faithful encoders (Wav2Vec2 for speech, ViT for faces) from transformers.

No such weights ship in a package we can reach offline, so these build tiny randomly
initialised models of the real classes from config, and load one back from a local
folder, to exercise the path end to end.
"""
import pytest
import torch
from transformers import ViTConfig, ViTModel

from mmei.platform.config import load_config
from mmei.platform.features import featurize_batch, to_tensors
from mmei.platform.loss import joint_loss
from mmei.platform.models.build import build_model

TINY_W2V = ("model.audio_hf_config={hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, "
            "intermediate_size: 64, conv_dim: [16, 16], conv_stride: [5, 4], conv_kernel: [10, 8], "
            "num_conv_pos_embeddings: 16, num_conv_pos_embedding_groups: 4}")
TINY_VIT = ("model.visual_hf_config={hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, "
            "intermediate_size: 64, patch_size: 8}")


def hf_config(*extra):
    return load_config("tiny", ["model.audio_encoder=wav2vec2", "features.audio_input=waveform",
                                "model.visual_encoder=vit", TINY_W2V, TINY_VIT, *extra])


def test_wav2vec2_and_vit_train_inside_mmei(corpus_rows):
    config = hf_config()
    rows = [r for r in corpus_rows if r["audio"] and r["frames"]][:4]
    arrays = featurize_batch(rows, config.features)
    assert arrays["audio"].shape == (4, config.features.audio_max_samples)
    batch = to_tensors(arrays)
    for head, n in config.labels.sizes().items():
        batch[head] = torch.zeros(4, dtype=torch.long) % n
    model = build_model(config)
    assert type(model.encoders["audio"].backbone).__name__ == "Wav2Vec2Model"
    assert type(model.encoders["visual"].frame.backbone).__name__ == "ViTModel"
    loss, _ = joint_loss(model(batch), batch)
    loss.backward()
    assert torch.isfinite(loss)


def test_vit_loads_from_a_local_folder(tmp_path):
    torch.manual_seed(1)
    saved = ViTModel(ViTConfig(image_size=32, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=64, patch_size=8), add_pooling_layer=False)
    saved.save_pretrained(tmp_path)
    model = build_model(load_config("tiny", ["model.visual_encoder=vit", f"model.visual_model_path={tmp_path}"]))
    loaded = model.encoders["visual"].frame.backbone
    for key, tensor in saved.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor), key


def test_mismatched_audio_settings_are_refused():
    with pytest.raises(ValueError, match="audio_input=waveform"):
        build_model(load_config("tiny", ["model.audio_encoder=wav2vec2", TINY_W2V]))
