"""The same budget for every compared model: trainable parameters per preset, and
`--tuned` sweeps that must agree (files in the layout `mmei tune` writes)."""
import json

import pytest
import yaml


def write_sweep(folder, kind, lr, **budget):
    """A finished sweep's files as `mmei tune --model KIND --output folder/KIND` leaves them."""
    from mmei.platform.config import load_config

    best = folder / kind / "best"
    best.mkdir(parents=True)
    best.joinpath("config.yaml").write_text(yaml.safe_dump(load_config("tiny", [f"train.lr={lr}"]).to_dict()))
    meta = {"samples": 8, "epochs": 2, "search": "random", "scheduler": "asha", "space": {"train.lr": {"loguniform": [1e-4, 1e-2]}}}
    (folder / kind / "sweep_meta.json").write_text(json.dumps({**meta, **budget}))


def test_tuned_is_all_or_none_and_the_sweeps_must_share_their_budget(tmp_path):
    from mmei.pipelines.compare_budget import check_tuned, with_model
    from mmei.platform.config import load_config
    from mmei.platform.errors import UserInputError

    write_sweep(tmp_path, "mmei", 0.002)
    with pytest.raises(UserInputError, match="no finished sweep for late_fusion"):
        check_tuned(tmp_path, ["mmei", "late_fusion"])
    write_sweep(tmp_path, "late_fusion", 0.004, samples=4, search="optuna")
    with pytest.raises(UserInputError, match=r"samples: mmei 8, late_fusion 4; search: mmei 'random', late_fusion 'optuna'"):
        check_tuned(tmp_path, ["mmei", "late_fusion"])
    write_sweep(tmp_path, "text_only", 0.004)
    check_tuned(tmp_path, ["mmei", "text_only"])  # same budget: accepted
    tuned = with_model(load_config("tiny"), "text_only", seed=2, tuned=tmp_path)
    assert (tuned.model.type, tuned.train.lr, tuned.train.seed) == ("text_only", 0.004, 2)


@pytest.mark.parametrize("preset", ["tiny", "mintrec", "mmsa", "text", "base"])
def test_every_preset_gives_each_baseline_mmeis_trainable_budget(preset):
    """Trainable parameters, so tiny's frozen 11.7M-weight embedding table cannot make any
    baseline pass. On base, text_only lacks the audio and visual encoders and cross-modal
    layers that hold 39% of MMEI's trainable weights: width alone cannot make that up, so
    base gives it self-attention layers too (model.text_only_layers); without them it is
    refused, naming the knobs."""
    from mmei.pipelines.compare_budget import parameter_counts
    from mmei.platform.config import load_config
    from mmei.platform.errors import UserInputError
    from mmei.platform.models.build import MODEL_TYPES

    config = load_config(preset)
    counts = parameter_counts(config, list(MODEL_TYPES))
    assert all(abs(c["trainable"] / counts["mmei"]["trainable"] - 1) <= 0.10 for c in counts.values())
    if preset == "tiny":
        assert counts["mmei"]["total"] - counts["mmei"]["trainable"] > 10_000_000  # the frozen table, not counted
    if preset == "base":
        shallow = load_config(preset, ["model.text_only_layers=0"])  # width 512 alone: -38%
        with pytest.raises(UserInputError, match=r"text_only .*\(-38%\).*model.text_only_layers.*--models"):
            parameter_counts(shallow, ["mmei", "text_only"])
