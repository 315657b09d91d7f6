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


def test_wav2vec2_is_safe_for_zero_layerdrop_frozen_convs_and_lengths_from_samples():
    from transformers import Wav2Vec2Model

    from mmei.platform.models.audio_encoder import conv_output_lengths

    config = hf_config(TINY_W2V.replace("{hidden_size", "{layerdrop: 0.3, hidden_size"))
    encoder = build_model(config).encoders["audio"]
    backbone = encoder.backbone
    assert backbone.config.layerdrop == 0.0  # ranks skipping different layers hang ZeRO-3
    assert not any(p.requires_grad for p in backbone.feature_extractor.parameters())
    assert any(p.requires_grad for p in backbone.encoder.parameters())
    lengths = torch.tensor([0, 399, 400, 16000, 32000])
    expected = Wav2Vec2Model._get_feat_extract_output_lengths(backbone, lengths)  # transformers' own arithmetic
    assert torch.equal(conv_output_lengths(lengths, list(backbone.config.conv_kernel),
                                           list(backbone.config.conv_stride)), expected.clamp_min(0))


def test_wav2vec2_marks_an_absent_clip_invalid_and_stays_finite():
    config = hf_config()
    encoder = build_model(config).encoders["audio"].train()
    samples = config.features.audio_max_samples
    audio = torch.randn(3, samples)
    mask = torch.zeros(3, samples, dtype=torch.bool)
    mask[0] = True
    mask[1, : samples // 2] = True  # half a clip; row 2 has no clip at all
    audio[2] = 0
    tokens, valid = encoder({"audio": audio, "audio_mask": mask})
    assert valid[0].all() and 0 < valid[1].sum() < valid[0].sum() and not valid[2].any()
    tokens.sum().backward()
    assert torch.isfinite(tokens).all()
    assert all(torch.isfinite(p.grad).all() for p in encoder.parameters() if p.grad is not None)


def test_vit_takes_any_image_size_only_present_frames_and_its_processor_normalisation(tmp_path):
    saved = ViTModel(ViTConfig(image_size=32, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=64, patch_size=8), add_pooling_layer=False)
    saved.save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text('{"image_mean": [0.485, 0.456, 0.406], '
                                                      '"image_std": [0.229, 0.224, 0.225]}')
    config = load_config("tiny", ["model.visual_encoder=vit", f"model.visual_model_path={tmp_path}",
                                  "features.image_size=48"])  # trained at 32 px, fed 48 px
    encoder = build_model(config).encoders["visual"]
    assert torch.allclose(encoder.frame.std.flatten(), torch.tensor([0.229, 0.224, 0.225]))
    seen = []
    encoder.frame.backbone.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs["pixel_values"].shape),
                                                     with_kwargs=True)
    frames = torch.rand(2, 4, 3, 48, 48) * 2 - 1
    mask = torch.tensor([[True, True, False, False], [False, False, False, False]])
    tokens, valid = encoder({"frames": frames, "frame_mask": mask})
    assert seen == [torch.Size([2, 3, 48, 48])]  # the two present frames, nothing else
    assert tokens.shape == (2, 4, config.model.hidden_size) and torch.isfinite(tokens).all()
    seen.clear()
    encoder({"frames": frames, "frame_mask": torch.zeros(2, 4, dtype=torch.bool)})
    assert seen == [torch.Size([1, 3, 48, 48])]  # none present: one still runs (ZeRO-3 gathers in forward)


def test_paper_preset_builds_bert_wav2vec2_and_vit():
    config = load_config("paper", [TINY_W2V, TINY_VIT, "features.image_size=32", "features.audio_max_seconds=0.5",
                                   "model.hidden_size=32", "model.cross_layers=1", "model.text_layers=1"])
    model = build_model(config)
    assert type(model.encoders["text"].bert).__name__ == "BertModel"
    assert type(model.encoders["audio"].backbone).__name__ == "Wav2Vec2Model"
    assert type(model.encoders["visual"].frame.backbone).__name__ == "ViTModel"
    assert config.train.use_gpu and config.train.dtype == "bf16" and config.train.cpus_per_worker >= 1
