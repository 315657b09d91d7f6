import torch

from mmei.platform.models.modality_dropout import drop_modalities


def test_never_drops_every_modality_and_never_invents_one():
    generator = torch.Generator().manual_seed(0)
    present = torch.rand(2000, 3, generator=generator) > 0.3
    dropped = drop_modalities(present, 0.9, generator)
    assert not (dropped & ~present).any()
    assert (dropped.any(dim=1) == present.any(dim=1)).all()


def test_rate_is_respected_roughly():
    generator = torch.Generator().manual_seed(0)
    present = torch.ones(20000, 3, dtype=torch.bool)
    kept = drop_modalities(present, 0.2, generator).float().mean().item()
    assert 0.78 < kept < 0.84  # 0.8, plus the rescued rows (0.2^3 of them)


def test_zero_rate_is_identity():
    present = torch.tensor([[True, False, True]])
    assert drop_modalities(present, 0.0) is present
