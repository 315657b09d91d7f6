"""The configuration reference (docs/configuration.md) is generated from the config classes and current."""
from pathlib import Path

from mmei.cluster.config_reference import END, START, field_comments, render
from mmei.platform.config import TrainConfig

PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_configuration_page_holds_the_current_generated_reference():
    text = PAGE.read_text()
    block = START + text.split(START, 1)[1].split(END, 1)[0] + END
    assert block == render(), "stale: run python -m mmei.cluster.config_reference --write docs/configuration.md"


def test_every_key_has_a_meaning():
    missing = [line for line in render().splitlines() if line.startswith("| `") and line.endswith("|  |")]
    assert missing == []


def test_comments_come_from_the_line_or_the_block_above():
    comments = field_comments(TrainConfig)
    assert comments["zero_stage"] == "DeepSpeed ZeRO stage: 1, 2 or 3"
    assert comments["materialize_data"].startswith("Read the feature shards once")
    assert "train.placement_strategy" in render()
