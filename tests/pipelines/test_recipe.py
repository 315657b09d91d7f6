"""The fine-tuning recipe, checked on the optimizer and scheduler it builds."""
import pytest
import torch

from mmei.pipelines.recipe import (WarmupLinearDecay, layer_depth, make_optimizer, make_scheduler,
                                   parameter_groups, pretrained_modules)
from mmei.platform.config import load_config
from mmei.platform.models.build import build_model


def built_optimizer(*overrides):
    config = load_config("tiny", list(overrides))
    model = build_model(config, pretrained=False)
    return model, make_optimizer(config.train, on_cuda=False)(parameter_groups(model, config.train)), config


def group_of(optimizer) -> dict[int, dict]:
    return {id(p): group for group in optimizer.param_groups for p in group["params"]}


def test_pretrained_bert_learns_at_the_encoder_rate_and_the_rest_at_the_head_rate():
    model, optimizer, config = built_optimizer("train.lr=0.001", "train.encoder_lr=0.00002")
    groups = group_of(optimizer)
    bert = model.encoders["text"].bert
    assert list(pretrained_modules(model)) == ["encoders.text.bert"]
    for name, parameter in bert.named_parameters():
        if parameter.requires_grad:
            assert groups[id(parameter)]["lr"] == pytest.approx(2e-5), name
    for name, parameter in model.named_parameters():
        if not name.startswith("encoders.text.bert.") and parameter.requires_grad:
            assert groups[id(parameter)]["lr"] == pytest.approx(1e-3), name
    # the projection on top of BERT is new: it learns at the head rate
    assert groups[id(model.encoders["text"].project.weight)]["lr"] == pytest.approx(1e-3)


def test_no_weight_decay_on_biases_and_norms():
    model, optimizer, config = built_optimizer("train.weight_decay=0.05")
    groups = group_of(optimizer)
    checked = 0
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        is_norm_or_bias = name.endswith("bias") or "LayerNorm" in name or ".norm" in name or "norm1" in name \
            or "norm2" in name
        if is_norm_or_bias:
            assert groups[id(parameter)]["weight_decay"] == 0.0, name
            checked += 1
        elif parameter.ndim >= 2:
            assert groups[id(parameter)]["weight_decay"] == 0.05, name
    assert checked > 20
    assert {g["name"] for g in optimizer.param_groups} >= {"encoder", "encoder_no_decay", "head", "head_no_decay"}


def test_frozen_parameters_are_in_no_group():
    model, optimizer, _ = built_optimizer("model.text_freeze_embeddings=true")
    grouped = set(group_of(optimizer))
    frozen = model.encoders["text"].bert.embeddings.word_embeddings.weight
    assert not frozen.requires_grad and id(frozen) not in grouped
    assert len(grouped) == sum(1 for p in model.parameters() if p.requires_grad)


def test_layer_wise_decay_slows_lower_bert_layers():
    model, optimizer, _ = built_optimizer("train.encoder_lr=0.0001", "train.layer_decay=0.5", "model.text_layers=2")
    groups = group_of(optimizer)
    bert = model.encoders["text"].bert
    top = bert.encoder.layer[1].attention.self.query.weight
    lower = bert.encoder.layer[0].attention.self.query.weight
    embeddings = bert.embeddings.position_embeddings.weight
    assert groups[id(top)]["lr"] == pytest.approx(1e-4)
    assert groups[id(lower)]["lr"] == pytest.approx(5e-5)
    assert groups[id(embeddings)]["lr"] == pytest.approx(2.5e-5)


def test_layer_depth_reads_bert_wav2vec2_and_vit_names():
    assert layer_depth("embeddings.word_embeddings.weight", 6) == 0
    assert layer_depth("encoder.layer.0.attention.self.query.weight", 6) == 1
    assert layer_depth("encoder.layers.5.attention.k_proj.weight", 6) == 6  # wav2vec2
    assert layer_depth("feature_extractor.conv_layers.0.conv.weight", 6) == 0  # wav2vec2's CNN
    assert layer_depth("layernorm.weight", 6) == 7  # ViT's final norm sits above every layer


def test_warmup_is_a_share_of_all_steps_then_linear_decay():
    model, optimizer, config = built_optimizer("train.lr=0.001", "train.encoder_lr=0.0001", "train.warmup_ratio=0.1")
    scheduler = make_scheduler(config.train, total_steps=100)(optimizer)
    head = next(g for g in optimizer.param_groups if g["name"] == "head")
    encoder = next(g for g in optimizer.param_groups if g["name"] == "encoder")
    seen = []
    for _ in range(100):
        seen.append((head["lr"], encoder["lr"]))
        optimizer.step()
        scheduler.step()
    peak = max(range(100), key=lambda i: seen[i][0])
    assert peak == 10  # 10% of 100 steps
    assert seen[peak] == pytest.approx((1e-3, 1e-4))
    assert all(seen[i][0] < seen[i + 1][0] for i in range(peak))
    assert all(seen[i][0] > seen[i + 1][0] for i in range(peak, 99))
    assert seen[0][0] == pytest.approx(1e-3 / 11) and seen[-1][0] == pytest.approx(1e-3 / 90)  # first and last steps move
    # both groups follow one schedule: their ratio never changes
    assert all(h / e == pytest.approx(10.0) for h, e in seen)


def test_schedule_survives_a_state_dict_round_trip():
    """DeepSpeed saves the scheduler in each checkpoint; a resume must continue it."""
    _, optimizer, config = built_optimizer()
    scheduler = make_scheduler(config.train, total_steps=40)(optimizer)
    for _ in range(7):
        optimizer.step()
        scheduler.step()
    _, fresh_optimizer, _ = built_optimizer()
    fresh = make_scheduler(config.train, total_steps=40)(fresh_optimizer)
    fresh.load_state_dict(scheduler.state_dict())
    assert fresh.get_last_lr() == scheduler.get_last_lr()
    assert WarmupLinearDecay(40, 4)(7) == pytest.approx(33 / 36)


def test_no_deepspeed_optimizer_is_configured():
    """The client optimizer is torch's AdamW: nothing for DeepSpeed to JIT-compile."""
    from mmei.pipelines.distributed import deepspeed_config

    ds = deepspeed_config(load_config("base").train)
    assert "optimizer" not in ds and "scheduler" not in ds
    _, optimizer, _ = built_optimizer()
    assert type(optimizer) is torch.optim.AdamW
