"""Writing xarray datasets: :func:`to_arrayformat`."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from ._dtypes import for_create, infer
from ._errors import InvalidValueError
from ._file import File

#: Encoding keys a variable may carry; xarray's CF encoder consumes the
#: first group, this writer the second.
CF_KEYS = {
    "dtype",
    "_FillValue",
    "missing_value",
    "units",
    "calendar",
    "scale_factor",
    "add_offset",
}
WRITER_KEYS = {"chunks", "codec"}
#: Keys reading puts into encoding that writing ignores.
IGNORED_KEYS = {
    "preferred_chunks",
    "source",
    "original_shape",
    "element_type",
    "layer",
    "coordinates",
}


def _check_encoding(encoding: Mapping[Hashable, Mapping[str, Any]]) -> None:
    for name, enc in encoding.items():
        unknown = set(enc) - CF_KEYS - WRITER_KEYS - IGNORED_KEYS
        if unknown:
            raise InvalidValueError(
                f"variable {name!r}: unknown encoding {sorted(unknown)}; "
                f"use {sorted(CF_KEYS | WRITER_KEYS)}"
            )


def _element_type(var: Any) -> str:
    dt = var.dtype
    if dt.kind != "O":
        return infer(np.empty(0, dtype=dt))
    from xarray.coding.strings import check_vlen_dtype

    vlen = check_vlen_dtype(dt)
    if vlen is str:
        return "string"
    if vlen is bytes:
        return "binary"
    return infer(np.asarray(var.values))


def _chunks(var: Any) -> tuple[int, ...] | None:
    chunks = var.encoding.get("chunks")
    if chunks is not None:
        return tuple(int(c) for c in chunks)
    if var.chunks:
        return tuple(max(int(c[0]), 1) for c in var.chunks)
    return None


def _fill(var: Any) -> Any:
    fill = var.attrs.get("_FillValue")
    if fill is None or (isinstance(fill, (list, tuple, np.ndarray)) and np.ndim(fill) > 0):
        return None
    return fill


def to_arrayformat(
    ds: Any,
    path: str | os.PathLike[str],
    mode: str = "w",
    *,
    encoding: Mapping[Hashable, Mapping[str, Any]] | None = None,
    compute: bool = True,
    storage_options: Mapping[str, Any] | None = None,
    append_dim: Hashable | None = None,
) -> Any:
    """Writes the dataset ``ds`` to the array-format file at ``path`` and
    commits it as one layer.

    Every variable becomes an array with its dimensions, attributes and
    CF encoding (times as numbers with units and calendar, ``_FillValue``,
    ``scale_factor``/``add_offset``), as xarray encodes NetCDF; the dataset's
    attributes become the file's. ``encoding`` maps variable names to
    ``chunks`` (default: a Dask variable's chunks, else about 1 MiB),
    ``codec`` (``"lz4"``, ``"zstd"``, ``"zstd:LEVEL"``, ``"none"``) and the CF
    keys (``dtype``, ``_FillValue``, ``units``, ``calendar``,
    ``scale_factor``, ``add_offset``).

    ``mode="w"`` replaces any file, ``"w-"`` only creates one, ``"a"`` adds
    the variables to an existing file (or creates it). Dask-backed variables
    are written chunk by chunk by Dask; ``compute=False`` returns the
    delayed write, which commits when computed.
    """
    import xarray as xr
    from xarray import conventions

    if append_dim is not None:
        raise NotImplementedError(
            "appending along a dimension needs resizable arrays, which this version of "
            "array-format does not have yet; write a new file or add variables with mode='a'"
        )
    if mode not in ("w", "w-", "a"):
        raise ValueError(f"mode {mode!r}: use 'w', 'w-' or 'a'")
    if not isinstance(ds, xr.Dataset):
        if isinstance(ds, xr.DataArray):
            ds = ds.to_dataset(
                name=ds.name if ds.name is not None else "__xarray_dataarray_variable__"
            )
        else:
            raise TypeError(f"to_arrayformat writes an xarray Dataset, not {type(ds).__name__}")
    encoding = dict(encoding or {})
    _check_encoding(encoding)
    missing = set(encoding) - set(ds.variables)
    if missing:
        raise InvalidValueError(
            f"encoding for variables not in the dataset: {sorted(map(str, missing))}"
        )

    variables, attrs = conventions.encode_dataset_coordinates(ds)
    for name, enc in encoding.items():
        variables[name].encoding = {**variables[name].encoding, **enc}
    writer = {
        name: {k: v.encoding.pop(k) for k in WRITER_KEYS if k in v.encoding}
        for name, v in variables.items()
    }
    for v in variables.values():
        for k in IGNORED_KEYS:
            v.encoding.pop(k, None)
    variables, attrs = conventions.cf_encoder(variables, attrs)

    file = File(path, "a" if mode == "a" else mode, storage_options=storage_options)
    try:
        sources: list[Any] = []
        targets: list[Any] = []
        if attrs:
            file_attrs = getattr(file, "attrs", None)
            if file_attrs is None:
                raise NotImplementedError("dataset attributes need file attributes")
            file_attrs.update(attrs)
        for name, var in variables.items():
            if not isinstance(name, str):
                raise InvalidValueError(f"variable names must be str, not {name!r}")
            var.encoding.update(writer.get(name, {}))
            array = file.create_array(
                name,
                shape=var.shape,
                dtype=for_create(_element_type(var)),
                chunks=_chunks(var),
                fill_value=_fill(var),
                dims=[str(d) for d in var.dims],
                codec=var.encoding.get("codec"),
                attrs=var.attrs,
            )
            if var.chunks:
                sources.append(var.data)
                targets.append(array)
            elif var.size:
                array[...] = np.asarray(var.values)
    except BaseException:
        file.discard()
        file.close()
        raise
    if not sources:
        file.close()
        return None
    from .dask import _store_and_commit

    return _store_and_commit(file, sources, targets, compute=compute)
