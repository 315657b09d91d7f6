"""Dataset pickles (MMSA, MIntRec features) loaded without running code from them.

`pickle.load` calls whatever a pickle names: a features file from a third party can
run a payload on the machine that imports it, or on the cluster under `mmei submit`.
These files hold only arrays, dicts, lists, strings and numbers, so the unpickler here
allows the handful of globals NumPy needs to rebuild arrays and refuses any other,
naming the file and the global.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from mmei.pipelines.sources.shards import ImportFormatError

ALLOWED = {
    # NumPy arrays, dtypes and scalars (NumPy 1.x and 2.x module names)
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # bytes in protocol-2 pickles
    ("collections", "OrderedDict"),
}


class DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused global {module}.{name}: a features file holds only arrays, dicts, "
                                     "lists, strings and numbers")


def load_data_pickle(path: Path) -> Any:
    """The pickle's data, or an ImportFormatError naming the file (and any refused global)."""
    try:
        with path.open("rb") as handle:
            return DataOnlyUnpickler(handle).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise ImportFormatError(f"{path}: not a readable features pickle ({error})") from None
