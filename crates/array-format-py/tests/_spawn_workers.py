"""Functions run in 'spawn' child processes by ``test_pickle.py`` (a
module of their own, so that the child imports only this)."""

from __future__ import annotations

from typing import Any

import numpy as np


def read_array(array: Any) -> tuple[np.ndarray, int, bool]:
    """An unpickled ``Array``: its data, the layer and read-only-ness of
    the file it opened."""
    return np.asarray(array), array.file.layer, array.file.read_only


def read_file(file: Any) -> dict[str, np.ndarray]:
    """An unpickled ``File``: every array's data."""
    return {name: file[name][...] for name in file}


#: A file a test opens before it forks, so that the child inherits the handle.
INHERITED: Any = None


def read_inherited(name: str) -> np.ndarray:
    """Array ``name`` of the handle the parent opened before the fork."""
    return np.asarray(INHERITED[name])


def try_open(path: str) -> str:
    """The class of the exception ``open`` raises, or ``"ok"``."""
    import arrayformat as af

    try:
        af.open(path).close()
    except Exception as e:  # noqa: BLE001 - reported to the parent
        return type(e).__name__
    return "ok"
