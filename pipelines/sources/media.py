"""Finding media files beside labels: shared by the MELD and plain-folder importers.

One walk of the folder builds every index, so a lookup costs the same whatever the
folder's size and an import runs in time linear in the number of files:
- `KEY.wav` / `KEY.flac` (audio), `KEY.png` / `.jpg` (one frame), `KEY.txt` (text);
- numbered frames `KEY_001.png`, `KEY_002.png` …;
- a folder `KEY/` that directly holds images (any other folder is only a container).
Two files of the same kind for one key (say `a/x.wav` and `b/x.wav`) are ambiguous: an
error naming both, never a silent pick.
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from mmei.pipelines.sources.confine import link_rejection, outside_root
from mmei.pipelines.sources.shards import ImportFormatError

AUDIO_SUFFIXES = (".wav", ".flac")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
TEXT_SUFFIXES = (".txt",)
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv")


def kind_of(suffix: str) -> str | None:
    suffix = suffix.lower()
    for kind, suffixes in (("audio", AUDIO_SUFFIXES), ("image", IMAGE_SUFFIXES), ("text", TEXT_SUFFIXES),
                           ("video", VIDEO_SUFFIXES)):
        if suffix in suffixes:
            return kind
    return None


class MediaIndex:
    def __init__(self, folder: Path, allow_outside_root: bool = False):
        self.folder = folder
        self.rejected: list[dict] = []  # links that leave the folder (confine.py)
        self.by_key: dict[tuple[str, str], list[Path]] = defaultdict(list)  # (kind, stem) → files
        self.numbered: dict[str, list[tuple[int, Path]]] = defaultdict(list)  # KEY → [(n, KEY_n.png)]
        self.frame_dirs: dict[str, list[Path]] = {}  # KEY → images directly inside KEY/
        self.files = 0
        for root, dirs, names in os.walk(folder):
            dirs.sort()
            images = []
            for name in sorted(names):
                stem, suffix = os.path.splitext(name)
                kind = kind_of(suffix)
                if kind is None:
                    continue
                path = Path(root) / name
                self.files += 1
                if not allow_outside_root and outside_root(path, folder):
                    self.rejected.append(link_rejection(path, folder))
                    continue
                self.by_key[(kind, stem)].append(path)
                if kind == "image":
                    images.append(path)
                    base, _, number = stem.rpartition("_")
                    if base and number.isdigit():
                        self.numbered[base].append((int(number), path))
            if images and Path(root) != folder:
                self.frame_dirs.setdefault(Path(root).name, images)

    def one(self, kind: str, key: str) -> Path | None:
        paths = self.by_key.get((kind, key), [])
        if len(paths) > 1:
            raise ImportFormatError(f"{self.folder}: {kind} for {key!r} is ambiguous: {paths[0]} and {paths[1]}")
        return paths[0] if paths else None

    def audio(self, key: str) -> bytes | None:
        path = self.one("audio", key)
        return path.read_bytes() if path else None

    def text(self, key: str) -> str | None:
        path = self.one("text", key)
        return (path.read_text(encoding="utf-8").strip() or None) if path else None

    def frame_paths(self, key: str) -> list[Path]:
        """`KEY.png`, else numbered `KEY_001.png` …, else the images in a folder `KEY/`, in order."""
        single = self.one("image", key)
        if single:
            return [single]
        if key in self.numbered:
            return [path for _, path in sorted(self.numbered[key])]
        return list(self.frame_dirs.get(key, []))

    def frames(self, key: str) -> list[bytes] | None:
        return [path.read_bytes() for path in self.frame_paths(key)] or None

    def has_video_only(self, key: str) -> bool:
        return bool(self.by_key.get(("video", key)))

    def keys(self) -> set[str]:
        """Every sample key the media name: text, audio, single or numbered frames, frame folders."""
        keys = {stem for kind, stem in self.by_key if kind in ("text", "audio")}
        keys |= {stem for kind, stem in self.by_key if kind == "image" and stem.rpartition("_")[0] not in self.numbered}
        return keys | set(self.numbered) | set(self.frame_dirs)
