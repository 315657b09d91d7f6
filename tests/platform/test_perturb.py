import torch

from mmei.platform.perturb import add_noise, drop_modalities, drop_tokens


def batch():
    return {"present": torch.ones(4, 3, dtype=torch.bool), "audio": torch.zeros(4, 10, 8),
            "frames": torch.zeros(4, 2, 3, 8, 8), "attention_mask": torch.ones(4, 12, dtype=torch.long)}


def test_drop_marks_modalities_absent_and_leaves_the_input_alone():
    original = batch()
    dropped = drop_modalities(original, ("audio", "visual"))
    assert dropped["present"].tolist() == [[True, False, False]] * 4 and original["present"].all()


def test_noise_is_reproducible_and_scaled():
    a, b = add_noise(batch(), 0.5, seed=1), add_noise(batch(), 0.5, seed=1)
    assert torch.equal(a["audio"], b["audio"]) and 0.4 < a["audio"].std() < 0.6
    assert add_noise(batch(), 0.0, seed=1)["audio"].abs().sum() == 0


def test_token_dropout_keeps_cls_and_hits_the_rate():
    mask = drop_tokens({**batch(), "attention_mask": torch.ones(2000, 12, dtype=torch.long)}, 0.3, seed=0)["attention_mask"]
    assert mask[:, 0].all()
    assert 0.27 < 1 - mask[:, 1:].float().mean() < 0.33
    assert drop_tokens(batch(), 1.0, seed=0)["attention_mask"][:, 1:].sum() == 0
