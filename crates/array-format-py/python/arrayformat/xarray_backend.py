"""The xarray backend: ``xr.open_dataset(path, engine="arrayformat")``.

Each array of the file becomes a lazily indexed variable: nothing is read
until a value is asked for, and then only the chunks it needs (xarray's
outer indexing maps onto :attr:`Array.oindex`). Dimension names are the
arrays' own (an array without names gets ``dim0``, ``dim1``, ..., renamed
where two arrays disagree on a length); a 1-d array named like its
dimension is that dimension's coordinate; the file's attributes are the
dataset's. CF conventions (``_FillValue``, ``scale_factor``/``add_offset``,
time units and calendars, cftime's included, the ``coordinates``
attribute) are decoded by xarray exactly as for NetCDF files.

``chunks={}`` gives Dask arrays in the arrays' own chunks
(``encoding["preferred_chunks"]``).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable
from typing import Any

import numpy as np
from xarray import Dataset, Variable
from xarray.backends import BackendArray, BackendEntrypoint
from xarray.backends.common import AbstractDataStore
from xarray.backends.store import StoreBackendEntrypoint
from xarray.core import indexing

from ._array import Array
from ._file import File
from ._file import open as _open
from ._xarray_write import to_arrayformat

__all__ = ["ArrayFormatBackendArray", "ArrayFormatBackendEntrypoint", "to_arrayformat"]


class ArrayFormatBackendArray(BackendArray):
    """One array, read lazily through outer indexing."""

    def __init__(self, array: Array) -> None:
        self.array = array
        self.shape = array.shape
        self.dtype = array.dtype

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return np.asarray(
            indexing.explicit_indexing_adapter(
                key, self.shape, indexing.IndexingSupport.OUTER, self._raw_indexing_method
            )
        )

    def _raw_indexing_method(self, key: tuple[Any, ...]) -> np.ndarray:
        # With the dtype: one element of a string array is a str, which
        # alone would become a "<U" array instead of an object one.
        return np.asarray(self.array.oindex[key], dtype=self.dtype)


def _dimension_names(f: File) -> dict[str, tuple[str, ...]]:
    """Each array's dimension names, made consistent: where arrays disagree
    on a dimension's length, the later ones' name gets the length appended
    (``dim0_20``), so that any file opens as one dataset."""
    sizes: dict[str, int] = {}
    out: dict[str, tuple[str, ...]] = {}
    for meta in f._native_handle().arrays():
        dims = []
        for name, size in zip(meta["dims"], meta["shape"]):
            name = str(name)
            if (name in sizes and sizes[name] != size) or name in dims:
                base, candidate, n = f"{name}_{size}", f"{name}_{size}", 1
                while (candidate in sizes and sizes[candidate] != size) or candidate in dims:
                    candidate = f"{base}_{n}"
                    n += 1
                name = candidate
            sizes.setdefault(name, int(size))
            dims.append(name)
        out[meta["name"]] = tuple(dims)
    return out


class ArrayFormatDataStore(AbstractDataStore):
    """The variables and attributes of one file, for xarray's decoding."""

    def __init__(self, file: File, close_file: bool) -> None:
        self.file = file
        self._close_file = close_file

    def get_variables(self) -> dict[str, Variable]:
        dims = _dimension_names(self.file)
        out = {}
        for name in self.file:
            array = self.file[name]
            data = indexing.LazilyIndexedArray(ArrayFormatBackendArray(array))
            encoding = {
                "chunks": array.chunks,
                "preferred_chunks": dict(zip(dims[name], array.chunks)),
                "element_type": array.element_type,
            }
            codec = array.codec
            if codec is not None:
                encoding["codec"] = codec
            out[name] = Variable(dims[name], data, attrs=array.attrs.asdict(), encoding=encoding)
        return out

    def get_attrs(self) -> dict[str, Any]:
        return self.file.attrs.asdict()

    def get_dimensions(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        dims = _dimension_names(self.file)
        for name in self.file:
            sizes.update(zip(dims[name], self.file[name].shape))
        return sizes

    def get_encoding(self) -> dict[str, Any]:
        return {"source": self.file.path, "layer": self.file.layer}

    def close(self) -> None:
        if self._close_file:
            self.file.close()


class ArrayFormatBackendEntrypoint(BackendEntrypoint):
    """``engine="arrayformat"``: opens ``.af`` files (paths, ``file://`` and
    ``s3://``, ``gs://`` or ``az://`` URLs, or an open :class:`arrayformat.File`)."""

    description = "Open array-format (.af) files in xarray"
    url = "https://example.invalid/array-format/docs/PYTHON.md"
    open_dataset_parameters = (
        "filename_or_obj",
        "mask_and_scale",
        "decode_times",
        "concat_characters",
        "decode_coords",
        "drop_variables",
        "use_cftime",
        "decode_timedelta",
        "as_of",
        "storage_options",
    )

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        if isinstance(filename_or_obj, File):
            return True
        if isinstance(filename_or_obj, (str, os.PathLike)):
            return os.fspath(filename_or_obj).endswith(".af")
        return False

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        mask_and_scale: bool = True,
        decode_times: Any = True,
        concat_characters: bool = True,
        decode_coords: Any = True,
        drop_variables: str | Iterable[str] | None = None,
        use_cftime: bool | None = None,
        decode_timedelta: Any = None,
        as_of: int | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> Dataset:
        if isinstance(filename_or_obj, File):
            file, close_file = filename_or_obj, False
        else:
            file = _open(filename_or_obj, "r", as_of=as_of, storage_options=storage_options)
            close_file = True
        store = ArrayFormatDataStore(file, close_file)
        kwargs: dict[str, Any] = {
            "mask_and_scale": mask_and_scale,
            "decode_times": decode_times,
            "concat_characters": concat_characters,
            "decode_coords": decode_coords,
            "drop_variables": drop_variables,
            "use_cftime": use_cftime,
            "decode_timedelta": decode_timedelta,
        }
        accepted = inspect.signature(StoreBackendEntrypoint.open_dataset).parameters
        kwargs = {k: v for k, v in kwargs.items() if k in accepted}
        return StoreBackendEntrypoint().open_dataset(store, **kwargs)
