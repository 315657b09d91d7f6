"""Checkpoints carry no code: a replaced DeepSpeed file is refused before its payload runs."""
import os
import stat

import pytest
import torch

from mmei.pipelines.export import DS_TAG, consolidated_state_dict
from mmei.pipelines.safe_checkpoints import check_not_world_writable
from mmei.platform.errors import UserInputError


class Payload:
    """What an attacker puts in a .pt file: unpickling it writes a marker file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_checkpoint_payload_is_refused_by_export_and_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    shards = tmp_path / "checkpoint" / DS_TAG
    shards.mkdir(parents=True)
    for name in ("mp_rank_00_model_states.pt", "zero_pp_rank_0_mp_rank_00_optim_states.pt"):
        torch.save({"module": Payload(str(marker)), "optimizer_state_dict": Payload(str(marker))}, shards / name)
    with pytest.raises(RuntimeError, match="(?i)weights.only|unsupported global"):
        consolidated_state_dict(tmp_path / "checkpoint")
    assert not marker.exists()


def test_a_sweep_folder_anyone_may_write_is_not_resumed(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    state = sweep / "tuner.pkl"
    state.write_bytes(b"not read")
    check_not_world_writable(sweep)  # private: fine
    state.chmod(state.stat().st_mode | stat.S_IWOTH)
    with pytest.raises(UserInputError, match="tuner.pkl.*anyone may write|anyone may write.*tuner.pkl"):
        check_not_world_writable(sweep)
    os.chmod(state, 0o600)
