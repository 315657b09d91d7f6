"""A features pickle cannot run code: the payload a hostile MMSA or MIntRec file names
is refused, naming the file and the global, and nothing runs."""
import os
import pickle

import numpy as np
import pytest

from mmei.pipelines.sources.importers import import_dataset
from mmei.pipelines.sources.safe_pickle import load_data_pickle
from mmei.pipelines.sources.shards import ImportFormatError


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_arrays_dicts_lists_and_object_arrays_load_at_every_protocol(tmp_path, protocol):
    data = {"train": {"audio": np.ones((2, 3, 4), np.float32), "id": np.array(["a", "b"], dtype=object),
                      "raw_text": ["hi", "yo"], "regression_labels": np.array([0.5, -1.0]), "n": np.int64(3)}}
    (tmp_path / "f.pkl").write_bytes(pickle.dumps(data, protocol=protocol))
    loaded = load_data_pickle(tmp_path / "f.pkl")
    assert loaded["train"]["audio"].shape == (2, 3, 4) and list(loaded["train"]["id"]) == ["a", "b"]
    assert loaded["train"]["n"] == 3 and loaded["train"]["raw_text"] == ["hi", "yo"]


@pytest.mark.parametrize("fmt, name", [("mmsa", "aligned_50.pkl"), ("mintrec", "audio_feats.pkl")])
def test_a_payload_in_a_features_file_is_refused_and_never_runs(tmp_path, fmt, name):
    marker = tmp_path / "ran"
    source = tmp_path / "data"
    source.mkdir()
    (source / name).write_bytes(pickle.dumps({"train": Payload(marker)}))
    if fmt == "mintrec":
        (source / "train.tsv").write_text("season\tepisode\tclip\ttext\tlabel\nS1\tE1\t1\thi\tThank\n")
    target = source / name if fmt == "mmsa" else source
    with pytest.raises(ImportFormatError, match=rf"{name}: .*refused global (posix|os)\.system"):
        import_dataset(fmt, target, tmp_path / "out")
    assert not marker.exists() and not (tmp_path / "out").exists()
