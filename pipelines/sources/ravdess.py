"""RAVDESS speech and song (Livingstone & Russo 2018) → modality shards, labelled from file names.

The release is `Actor_NN/` folders of `MM-VV-EE-II-SS-RR-AA.wav`: modality (03 audio
only), vocal channel (01 speech, 02 song), emotion (01 neutral, 02 calm, 03 happy,
04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised), intensity (01 normal,
02 strong), statement (01 "Kids are talking by the door", 02 "Dogs are sitting by the
door"), repetition and actor (odd male, even female). Any folder layout works: every
audio file under the root whose name parses is a sample, so a re-encoded copy
(FLAC at 16 kHz, one folder) imports the same way.

- **Split**: speaker-independent by actor, the split the dataset's users report:
  actors 01-18 train, 19-20 val, 21-24 test. No actor's voice is in two splits. A
  subset without actors 19-20 (such as `../shared/data`'s four actors) takes its
  highest-numbered train actor as val instead, and says so in `_import.json`.
- **Text**: the statement, which is the same for every emotion: it carries no emotion
  by design, so a fused model must learn to ignore it (a real test of fusion).
  `with_text=False` imports the voice alone.
- **Odd files**: the clips' rates, channels and codecs are kept as they are; `mmei data
  prepare` decodes, downmixes and resamples them, or quarantines what it cannot
  decode. An audio file whose name does not parse, a video-modality code (01, 02:
  RAVDESS's .mp4 files, not decoded here) or an unknown emotion code is rejected here
  with a reason and kept aside, never dropped: files in = rows + rejected.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator

from mmei.pipelines.sources.confine import link_rejection, outside_root
from mmei.pipelines.sources.media import AUDIO_SUFFIXES
from mmei.pipelines.sources.shards import ImportFormatError

EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
            "07": "disgust", "08": "surprised"}
LABEL_SPACE = list(EMOTIONS.values())  # the order of the codes
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
AUDIO_ONLY, SPEECH, SONG = "03", "01", "02"


def actor_split(actor: int, val_actors: tuple[int, ...] = (19, 20)) -> str:
    """Speaker-independent: 01-18 train, 19-20 val, 21-24 test."""
    return "val" if actor in val_actors else "test" if actor >= 21 else "train"


def choose_val_actors(actors: set[int]) -> tuple[int, ...]:
    """19 and 20 when present; else the highest train actor, so val stays speaker-independent."""
    present = tuple(actor for actor in (19, 20) if actor in actors)
    train = sorted(actor for actor in actors if actor <= 18)
    return present or (tuple(train[-1:]) if len(train) > 1 else ())


def parse_name(stem: str) -> dict[str, Any] | str:
    """The fields of one file name, or the reason it is not a RAVDESS audio clip."""
    match = NAME.match(stem)
    if not match:
        return "name_not_ravdess"
    modality, channel, emotion, intensity, statement, repetition, actor = match.groups()
    if modality != AUDIO_ONLY:
        return "ravdess_video_modality"
    if channel not in (SPEECH, SONG) or emotion not in EMOTIONS or intensity not in ("01", "02") \
            or statement not in STATEMENTS or not 1 <= int(actor) <= 24:
        return "ravdess_code_out_of_range"
    return {"channel": "speech" if channel == SPEECH else "song", "emotion": EMOTIONS[emotion],
            "intensity": "normal" if intensity == "01" else "strong", "statement": STATEMENTS[statement],
            "repetition": int(repetition), "actor": int(actor)}


class RavdessReader:
    def __init__(self, folder: Path, with_text: bool = True, allow_outside_root: bool = False):
        self.folder = folder
        self.with_text = with_text
        self.files: list[Path] = []
        self.rejected: list[dict[str, Any]] = []
        for root, dirs, names in os.walk(folder):
            dirs.sort()
            for name in sorted(names):
                path = Path(root) / name
                if os.path.splitext(name)[1].lower() not in AUDIO_SUFFIXES + (".mp4",):
                    continue
                if not allow_outside_root and outside_root(path, folder):
                    self.rejected.append(link_rejection(path, folder))
                else:
                    self.files.append(path)
        if not self.files:
            raise ImportFormatError(f"{folder}: no RAVDESS audio (.wav/.flac) files found, e.g. "
                                    "Actor_01/03-01-01-01-01-01-01.wav")
        self.actors: dict[str, list[int]] = {}
        parsed = (parse_name(path.stem) for path in self.files)
        self.val_actors = choose_val_actors({fields["actor"] for fields in parsed if isinstance(fields, dict)})

    def __iter__(self) -> Iterator[dict[str, Any]]:
        seen: dict[str, Path] = {}
        for path in self.files:
            stem = path.stem
            fields = parse_name(stem)
            if isinstance(fields, str):
                self.rejected.append({"file": str(path.relative_to(self.folder)), "reason": fields})
                continue
            if stem in seen:
                raise ImportFormatError(f"{self.folder}: clip {stem} is there twice: {seen[stem]} and {path}")
            seen[stem] = path
            split = actor_split(fields["actor"], self.val_actors)
            self.actors.setdefault(split, [])
            if fields["actor"] not in self.actors[split]:
                self.actors[split].append(fields["actor"])
            yield {"sample_id": f"ravdess-{stem}", "split": split,
                   "text": fields["statement"] if self.with_text else None,
                   "audio": path.read_bytes(), "emotion": fields["emotion"]}

    def notes(self) -> dict[str, Any]:
        val = "19-20" if self.val_actors in ((19,), (20,), (19, 20)) else \
            f"{', '.join(f'{a:02d}' for a in self.val_actors) or 'none'} (19-20 absent)"
        return {"split_from": f"actor (speaker-independent): 01-18 train, val {val}, 21-24 test",
                "actors": {split: sorted(actors) for split, actors in self.actors.items()},
                "text": "the statement (carries no emotion)" if self.with_text else "none",
                "label_space": {"emotion": LABEL_SPACE}}
