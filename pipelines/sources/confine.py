"""Importers read only their dataset: no path or link may lead outside its root.

A table row naming `../secret.txt` or `/etc/passwd`, or a symlink in a dataset folder
pointing at a pod's service-account token, would put that file's bytes into the
shards. Such media are refused and kept aside with a reason (never their bytes);
`--allow-outside-root` is the explicit opt-in for media kept elsewhere on purpose.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def outside_root(path: Path, root: Path) -> bool:
    """Whether `path`, with every link followed, lies outside `root`."""
    real, base = os.path.realpath(path), os.path.realpath(root)
    return os.path.commonpath([real, base]) != base


def link_rejection(path: Path, root: Path) -> dict[str, Any]:
    """The quarantine entry of a file whose link leaves the root: named, its bytes never read."""
    return {"file": str(path.relative_to(root)), "reason": "link_outside_root",
            "detail": f"links to {os.path.realpath(path)}", "content": b""}
