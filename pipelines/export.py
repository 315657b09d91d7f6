"""A DeepSpeed checkpoint (any ZeRO stage, sharded or not) → a consolidated fp32 bundle.

DeepSpeed's own zero_to_fp32 reader merges the per-rank shards on one machine,
without Ray or a process group, so export works anywhere the checkpoint can be read.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmei.pipelines.safe_checkpoints import weights_only_loads
from mmei.platform.bundle import save_bundle
from mmei.platform.captured_output import captured_output
from mmei.platform.config import Config
from mmei.platform.models.build import build_model

DS_TAG = "deepspeed"
STATE_FILE = "train_state.json"


def consolidated_state_dict(checkpoint_dir: Path) -> dict[str, Any]:
    """DeepSpeed's reader prints a page of progress per checkpoint: kept off the console,
    and shown only if it fails."""
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    weights_only_loads()  # zero_to_fp32 asks torch.load for full pickles: refused here
    with captured_output() as said:  # this thread's output only: comparison runs export concurrently
        try:
            return get_fp32_state_dict_from_zero_checkpoint(str(checkpoint_dir), tag=DS_TAG)
        except Exception as error:
            raise RuntimeError(f"could not consolidate the DeepSpeed checkpoint {checkpoint_dir}: {error}\n"
                               f"DeepSpeed's output:\n{said.getvalue()[-4000:]}") from error


def bundle_from_checkpoint(checkpoint_dir: Path, config: Config, out: Path, extra: dict[str, Any] | None = None) -> Path:
    """Frozen weights (e.g. BERT's word embeddings) never change in training, and ZeRO-1
    consolidation leaves them out: they come from the same pretrained files training
    started from. Any other missing or unexpected weight is an error."""
    model = build_model(config, pretrained=True)
    frozen = {name for name, parameter in model.named_parameters() if not parameter.requires_grad}
    missing, unexpected = model.load_state_dict(consolidated_state_dict(checkpoint_dir), strict=False)
    missing = [name for name in missing if name not in frozen]
    if missing or unexpected:
        raise RuntimeError(f"checkpoint {checkpoint_dir} does not fit the model: missing {missing[:5]}, "
                           f"unexpected {unexpected[:5]}")
    state_path = checkpoint_dir / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    return save_bundle(model, config, out, extra={"history": state.get("history", []), **(extra or {})})
