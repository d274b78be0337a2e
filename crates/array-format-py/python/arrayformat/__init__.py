"""arrayformat: many chunked, compressed n-dimensional arrays in one file, on
local disk or any object store.

>>> import numpy as np, arrayformat as af
>>> with af.open("example.af", mode="w") as f:               # doctest: +SKIP
...     t = f.create_array("t", shape=(4, 3), dtype="f4", chunks=(2, 3))
...     t[0] = np.arange(3)
>>> af.open("example.af")["t"][0]                              # doctest: +SKIP
array([0., 1., 2.], dtype=float32)

``import arrayformat`` needs only numpy; the xarray backend and the Dask
helpers (:mod:`arrayformat.dask`) import xarray and Dask when first used.
"""

from __future__ import annotations

from typing import Any

from ._array import Array
from ._errors import (
    ArrayExistsError,
    ArrayFormatError,
    ArrayNotFoundError,
    BoundsError,
    CodecError,
    CommitUnconfirmedError,
    ConflictError,
    CorruptedError,
    DTypeError,
    FileAlreadyExistsError,
    FileMissingError,
    InternalError,
    InvalidOperationError,
    InvalidValueError,
    PartError,
    ReadOnlyError,
    StorageError,
    UnsupportedVersionError,
    VanishedError,
    VersionNotFoundError,
)
from ._file import Damage, File, Reference, VacuumReport, VerifyReport, open  # noqa: A004
from ._native import FORMAT_VERSION, __version__

__all__ = [
    "FORMAT_VERSION",
    "Array",
    "ArrayExistsError",
    "ArrayFormatError",
    "ArrayNotFoundError",
    "BoundsError",
    "CodecError",
    "CommitUnconfirmedError",
    "ConflictError",
    "CorruptedError",
    "DTypeError",
    "Damage",
    "File",
    "FileAlreadyExistsError",
    "FileMissingError",
    "InternalError",
    "InvalidOperationError",
    "InvalidValueError",
    "PartError",
    "ReadOnlyError",
    "Reference",
    "StorageError",
    "UnsupportedVersionError",
    "VacuumReport",
    "VanishedError",
    "VerifyReport",
    "VersionNotFoundError",
    "__version__",
    "open",
]


def __getattr__(name: str) -> Any:
    # Submodules that import xarray or Dask load on first use.
    if name in ("dask", "xarray_backend"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    if name == "to_arrayformat":
        from .xarray_backend import to_arrayformat

        return to_arrayformat
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
