"""The Ray Train and DeepSpeed settings generated for each preset (no GPU needed)."""
from mmei.pipelines.distributed import deepspeed_config, scaling_config, steps_per_epoch
from mmei.platform.config import load_config


def test_base_preset_asks_for_one_gpu_per_worker_and_bf16():
    train = load_config("base").train
    scaling = scaling_config(train)
    assert scaling.use_gpu and scaling.num_workers == 8
    assert scaling.resources_per_worker == {"CPU": train.cpus_per_worker, "GPU": 1.0}
    ds = deepspeed_config(train)
    assert ds["bf16"] == {"enabled": True}
    assert ds["zero_optimization"] == {"stage": 2} and ds["gradient_accumulation_steps"] == train.grad_accum == 1
    assert ds["gradient_clipping"] == 1.0


def test_tiny_preset_trains_fp32_on_fractional_cpus():
    train = load_config("tiny").train
    ds = deepspeed_config(train)
    assert not scaling_config(train).use_gpu and scaling_config(train).resources_per_worker == {"CPU": 0.5}
    assert ds["bf16"] == {"enabled": False}
    assert ds["train_micro_batch_size_per_gpu"] == 16


def test_steps_per_epoch_counts_each_worker_share():
    train = load_config("tiny", ["train.batch_size=10", "train.grad_accum=2"]).train
    assert steps_per_epoch(train, 200) == 5  # 100 rows per worker → 10 micro-batches → 5 steps
