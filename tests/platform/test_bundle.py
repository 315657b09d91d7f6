"""A bundle reproduces the live model and loads with no training code around."""
import json
import subprocess
import sys

import pytest
import torch

from mmei.platform.bundle import BundleError, load_bundle, save_bundle
from mmei.platform.config import load_config
from mmei.platform.models.build import build_model
from mmei.platform.predict import Predictor


@pytest.mark.parametrize("kind", ["mmei", "late_fusion"])
def test_bundle_predicts_like_the_live_model(kind, tmp_path, corpus_rows):
    torch.manual_seed(3)
    config = load_config("tiny", [f"model.type={kind}"])
    model = build_model(config)
    live = Predictor(model, config).predict(corpus_rows[:5])
    save_bundle(model, config, tmp_path / "bundle", extra={"note": "test"})
    reloaded = load_bundle(tmp_path / "bundle").predict(corpus_rows[:5])
    for a, b in zip(live, reloaded):
        for head in ("emotion", "sentiment", "intent"):
            assert a[head]["label"] == b[head]["label"]
            for name, p in a[head]["probabilities"].items():
                assert b[head]["probabilities"][name] == pytest.approx(p, abs=1e-5)
        assert b["fusion_weights"] == pytest.approx(a["fusion_weights"], abs=1e-5)
    meta = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert meta["config"]["model"]["type"] == kind and meta["extra"] == {"note": "test"}


def test_bundle_loads_in_a_process_without_ray_or_training_code(tmp_path, corpus_dir):
    config = load_config("tiny")
    save_bundle(build_model(config), config, tmp_path / "bundle")
    code = (
        "import sys, pyarrow.parquet as pq\n"
        "from mmei.platform.bundle import load_bundle\n"
        f"rows = pq.read_table(sorted(__import__('pathlib').Path({str(corpus_dir)!r}).glob('*.parquet'))[0]).to_pylist()[:3]\n"
        f"out = load_bundle({str(tmp_path / 'bundle')!r}).predict(rows)\n"
        "assert len(out) == 3 and 'emotion' in out[0]\n"
        "banned = [m for m in ('ray', 'deepspeed', 'wandb', 'mmei.pipelines') if m in sys.modules]\n"
        "assert not banned, banned\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr


def test_not_a_bundle_is_a_clear_error(tmp_path):
    with pytest.raises(BundleError, match="bundle.json"):
        load_bundle(tmp_path)
