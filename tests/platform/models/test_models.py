"""Every model type: forward/backward under every modality mix, fusion weights, learning."""
import pytest
import torch

from mmei.platform.config import load_config
from mmei.platform.labels import HEADS
from mmei.platform.loss import joint_loss
from mmei.platform.models.build import MODEL_TYPES, build_model

from .conftest import PRESENCE


def with_presence(batch, presence):
    return {**batch, "present": torch.tensor([presence] * batch["present"].shape[0])}


DEEP_TEXT_ONLY = "text_only+text_only_layers"  # text_only with its depth knob (base and paper set it)


@pytest.fixture(scope="module", params=[*MODEL_TYPES, DEEP_TEXT_ONLY])
def model(request):
    torch.manual_seed(0)
    if request.param == DEEP_TEXT_ONLY:  # rows without text: the stack's null key keeps them finite
        return build_model(load_config("tiny", ["model.type=text_only", "model.text_only_layers=2"]))
    return build_model(load_config("tiny", [f"model.type={request.param}"]))


@pytest.mark.parametrize("presence", PRESENCE, ids=lambda p: "+".join(m for m, on in zip("TAV", p) if on))
def test_forward_and_backward_under_every_modality_mix(model, full_batch, presence):
    model.train()
    model.zero_grad()
    output = model(with_presence(full_batch, presence))
    for head in HEADS:
        assert output.logits[head].shape[0] == 8 and torch.isfinite(output.logits[head]).all()
    loss, parts = joint_loss(output, full_batch)
    loss.backward()
    assert torch.isfinite(loss) and set(parts) == set(HEADS)
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("presence", PRESENCE, ids=lambda p: "+".join(m for m, on in zip("TAV", p) if on))
def test_fusion_weights_sum_to_one_over_present_and_zero_for_missing(model, full_batch, presence):
    model.eval()
    with torch.no_grad():
        weights = model(with_presence(full_batch, presence)).fusion_weights
    used = torch.tensor(presence)
    if getattr(model, "modalities", None) == ("text",):  # text_only ignores the others
        used = torch.tensor([presence[0], False, False])
    assert (weights[:, ~used] == 0).all()
    expected = 1.0 if used.any() else 0.0
    torch.testing.assert_close(weights.sum(dim=1), torch.full((8,), expected))


def test_mmei_weights_are_learned_per_sample(full_batch):
    torch.manual_seed(0)
    model = build_model(load_config("tiny")).eval()
    with torch.no_grad():
        weights = model(full_batch).fusion_weights
    assert weights.std(dim=0).max() > 0  # not a constant split


@pytest.mark.parametrize("kind", MODEL_TYPES)
def test_each_model_overfits_a_tiny_batch(kind, full_batch):
    torch.manual_seed(0)
    model = build_model(load_config("tiny", [f"model.type={kind}", "model.dropout=0", "model.modality_dropout=0"]))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    model.train()
    losses = []
    for _ in range(25):
        optimizer.zero_grad()
        loss, _ = joint_loss(model(full_batch), full_batch)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses


def test_unknown_model_type_is_refused():
    config = load_config("tiny")
    config.model.type = "resnet"
    with pytest.raises(ValueError, match="resnet"):
        build_model(config)


def truly_absent(rows, present):
    """The same rows featurized with the modalities in `present` really removed: all-False
    masks and zero tensors from featurization, not flipped presence bits."""
    keep = dict(zip(("text", "audio", "frames"), present))
    return [{**row, **{key: None for key, on in keep.items() if not on}} for row in rows]


@pytest.mark.parametrize("presence", PRESENCE, ids=lambda p: "+".join(m for m, on in zip("TAV", p) if on))
def test_real_missing_modalities_train_every_model_type(corpus_rows, presence):
    from .conftest import labelled_batch

    rows = truly_absent([r for r in corpus_rows if r["text"] and r["audio"] and r["frames"]][:4], presence)
    batch = labelled_batch(rows, load_config("tiny").features)
    assert batch["present"][0].tolist() == list(presence)
    for kind in MODEL_TYPES:
        torch.manual_seed(0)
        model = build_model(load_config("tiny", [f"model.type={kind}"]), pretrained=False).train()
        loss, _ = joint_loss(model(batch), batch)
        loss.backward()
        assert torch.isfinite(loss), kind
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None), kind


@pytest.mark.parametrize("kind", MODEL_TYPES)
def test_bf16_forward_and_backward_give_finite_gradients(corpus_rows, kind):
    """DeepSpeed's bf16 runs weights and inputs in bfloat16: a sample without text once
    gave every BERT weight a non-finite gradient that way."""
    from .conftest import labelled_batch

    rows = [r for r in corpus_rows if r["text"] and r["audio"] and r["frames"]][:4]
    rows = truly_absent(rows[:2], (False, True, True)) + rows[2:]  # two without text
    batch = labelled_batch(rows, load_config("tiny").features)
    batch = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in batch.items()}
    torch.manual_seed(0)
    model = build_model(load_config("tiny", [f"model.type={kind}"]), pretrained=False).to(torch.bfloat16).train()
    loss, _ = joint_loss(model(batch), batch)
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g.float()).all() for g in grads)


def test_mult_has_six_directional_transformers_and_ignores_an_absent_source(full_batch):
    torch.manual_seed(0)
    model = build_model(load_config("tiny", ["model.type=mult", "model.mult_cross_layers=2"]), pretrained=False).eval()
    assert sorted(model.cross) == sorted(["text_to_audio", "text_to_visual", "audio_to_text", "audio_to_visual",
                                          "visual_to_text", "visual_to_audio"])
    assert all(len(layers) == 2 for layers in model.cross.values())
    without_audio = with_presence(full_batch, (True, False, True))
    scrambled = {**without_audio, **{k: torch.randn_like(v) for k, v in without_audio.items()
                                      if k.startswith("audio") and v.is_floating_point()}}
    assert any(k.startswith("audio") and v.is_floating_point() for k, v in without_audio.items())
    with torch.no_grad():
        kept, changed = model(without_audio), model(scrambled)
        for head in HEADS:  # an absent modality is never read, as a source or as a target
            assert torch.allclose(kept.logits[head], changed.logits[head], atol=1e-5), head
        with_audio = model(with_presence(scrambled, (True, True, True)))
    assert not torch.allclose(with_audio.logits["emotion"], kept.logits["emotion"], atol=1e-5)
