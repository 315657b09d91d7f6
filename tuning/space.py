"""Search spaces from YAML: config keys → Ray Tune domains.

Declared in files, not code, so a sweep over other knobs is a new YAML file. Every key
must be a real config key; each sampled point is applied through the typed config, so
a bad value fails the same way a bad `key=value` override does.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from ray import tune

from mmei.platform.config import Config, ConfigError, with_values

DEFAULT_SPACE = Path(__file__).resolve().parent / "fusion_space.yaml"
DOMAINS = {"choice": lambda v: tune.choice(v), "uniform": lambda v: tune.uniform(*v),
           "loguniform": lambda v: tune.loguniform(*v), "randint": lambda v: tune.randint(*v)}


def declared_space(path: Path | None) -> dict[str, Any]:
    """The space as its YAML declares it (what sweeps record, to tell two budgets apart)."""
    path = path or DEFAULT_SPACE
    try:
        return yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"search space {path}: {error}") from None


def load_space(path: Path | None, config: Config) -> dict[str, Any]:
    path = path or DEFAULT_SPACE
    declared = declared_space(path)
    space = {}
    for key, spec in declared.items():
        if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in DOMAINS:
            raise ConfigError(f"search space {path}: {key} must be one of {sorted(DOMAINS)} with a list, got {spec}")
        kind, values = next(iter(spec.items()))
        for value in values:  # the key exists and every value fits its type
            with_values(config, {key: value})
        space[key] = DOMAINS[kind](values)
    return space
