"""Step-level training numbers: collectives on the engine's own device, steps.jsonl, FLOPs."""
import json

import pytest
import torch

from mmei.pipelines import step_log
from mmei.pipelines.step_log import RunningSums, StepLog, flops_per_sample, peak_flops, read_steps
from mmei.platform.config import load_config
from mmei.platform.models.build import build_model


@pytest.fixture
def collectives(monkeypatch):
    """Every tensor handed to all_reduce, as a process group would receive it."""
    handed = []

    def all_reduce(tensor, op=None):
        handed.append(tensor)
        tensor.mul_(2)  # as if a second rank had the same sums

    monkeypatch.setattr(step_log.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(step_log.dist, "all_reduce", all_reduce)
    return handed


def test_running_sums_live_and_reduce_on_the_engine_device(collectives):
    """NCCL takes CUDA tensors only: a sum kept on the CPU would crash a GPU run at its
    first log. The meta device stands in for a GPU here; a CPU tensor in the collective,
    or a host sync in add(), would fail this test (meta tensors have no values)."""
    device = torch.device("meta")
    sums = RunningSums(device)
    for _ in range(3):
        sums.add(torch.tensor(0.5, device=device), samples=8)  # must not read the value back
    assert len(collectives) == 0
    with pytest.raises(NotImplementedError):  # the one host read, at log time, is all that touches values
        sums.read_global()
    assert [t.device for t in collectives] == [device]


def test_running_sums_read_the_global_mean_once(collectives):
    sums = RunningSums(torch.device("cpu"))
    for loss in (1.0, 2.0, 3.0):
        sums.add(torch.tensor(loss), samples=4)
    read = sums.read_global()
    assert read == {"loss": 2.0, "batches": 6.0, "samples": 24.0}  # two ranks' worth
    assert sums.read_global()["batches"] == 0  # reset after reading


def test_step_log_drops_records_past_the_checkpoint_on_resume(tmp_path):
    path = tmp_path / "steps.jsonl"
    log = StepLog(path, resume_from_step=0)
    for step in (20, 40, 60):
        log.append({"step": step, "loss": 1.0})
    StepLog(path, resume_from_step=40).append({"step": 60, "loss": 0.9})
    assert [(r["step"], r["loss"]) for r in read_steps(path)] == [(20, 1.0), (40, 1.0), (60, 0.9)]
    path.write_text(path.read_text() + '{"step": 80, "lo')  # a line still being written
    assert [r["step"] for r in read_steps(path)] == [20, 40, 60]


def test_flops_per_sample_counts_a_forward_and_leaves_randomness_alone():
    config = load_config("tiny")
    model = build_model(config, pretrained=False)
    batch = {"input_ids": torch.ones(2, 24, dtype=torch.long), "attention_mask": torch.ones(2, 24, dtype=torch.long),
             "audio": torch.zeros(2, 101, 32), "audio_mask": torch.ones(2, 101, dtype=torch.bool),
             "frames": torch.zeros(2, 4, 3, 32, 32), "frame_mask": torch.ones(2, 4, dtype=torch.bool),
             "present": torch.ones(2, 3, dtype=torch.bool)}
    state = torch.random.get_rng_state()
    flops = flops_per_sample(model, batch)
    assert torch.equal(torch.random.get_rng_state(), state)
    text_params = sum(p.numel() for p in model.encoders["text"].bert.encoder.parameters())
    assert flops > 3 * 2 * text_params * 24  # at least BERT's layers over 24 tokens, forward and backward


def test_peak_flops_is_unknown_on_cpu_unless_given():
    assert peak_flops(torch.device("cpu")) is None
    assert peak_flops(torch.device("cpu"), override_tflops=100.0) == 1e14


def test_resume_with_another_config_names_the_keys():
    from mmei.platform.config import resume_differences

    saved = load_config("tiny").to_dict()
    assert resume_differences(saved, load_config("tiny", ["train.max_failures=3", "train.log_every=5"])) == {}
    changed = resume_differences(saved, load_config("tiny", ["train.lr=0.1", "model.hidden_size=32"]))
    assert changed == {"model.hidden_size": (64, 32), "train.lr": (0.0003, 0.1)}
    assert json.dumps(changed)  # printable as is
