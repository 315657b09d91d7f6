"""Finding media files beside labels: shared by the MELD and plain-folder importers."""
from __future__ import annotations

from pathlib import Path

AUDIO_SUFFIXES = (".wav", ".flac")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class MediaIndex:
    """Every file under a folder, by stem, found once: no repeated directory walks."""

    def __init__(self, folder: Path):
        self.by_stem: dict[str, list[Path]] = {}
        self.frame_dirs: dict[str, Path] = {}
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                self.by_stem.setdefault(path.stem, []).append(path)
            elif path.is_dir():
                self.frame_dirs.setdefault(path.name, path)

    def audio(self, key: str) -> bytes | None:
        for path in self.by_stem.get(key, []):
            if path.suffix.lower() in AUDIO_SUFFIXES:
                return path.read_bytes()
        return None

    def frames(self, key: str) -> list[bytes] | None:
        """`KEY.png`, numbered `KEY_001.png` …, or a folder `KEY/` of images, in name order."""
        paths = [p for p in self.by_stem.get(key, []) if p.suffix.lower() in IMAGE_SUFFIXES]
        if not paths and key in self.frame_dirs:
            paths = sorted(p for p in self.frame_dirs[key].iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            paths = sorted(p for stem, files in self.by_stem.items() if stem.startswith(f"{key}_")
                           and stem[len(key) + 1:].isdigit() for p in files if p.suffix.lower() in IMAGE_SUFFIXES)
        return [p.read_bytes() for p in paths] or None

    def has_video_only(self, key: str) -> bool:
        return any(p.suffix.lower() in (".mp4", ".avi", ".mkv") for p in self.by_stem.get(key, []))
