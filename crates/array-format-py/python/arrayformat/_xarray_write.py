"""Writing xarray datasets: :func:`to_arrayformat`."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from . import _attrs
from ._dtypes import encode_fill, for_create, infer
from ._errors import ArrayExistsError, InvalidValueError
from ._file import File
from ._pipeline import pipeline

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
WRITER_KEYS = {"chunks", "codec", "filters"}
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


def _chunks(name: str, var: Any, chunks: Any) -> tuple[int, ...] | None:
    if chunks is not None:
        out = tuple(int(c) for c in chunks)
        if len(out) != var.ndim or any(c < 1 for c in out):
            raise InvalidValueError(
                f"variable {name!r}: chunks {out} must be one positive length "
                f"for each of its {var.ndim} dimensions"
            )
        return out
    if var.chunks:
        return tuple(max(int(c[0]), 1) for c in var.chunks)
    return None


def _fill(var: Any) -> Any:
    fill = var.attrs.get("_FillValue")
    if fill is None or (isinstance(fill, (list, tuple, np.ndarray)) and np.ndim(fill) > 0):
        return None
    return fill


def _check_attrs(owner: str, attrs: Mapping[Any, Any]) -> None:
    for key, value in attrs.items():
        if not isinstance(key, str):
            raise TypeError(f"{owner}: attribute names are str, not {key!r}")
        _attrs.encode(key, value)


def _create_args(name: Any, var: Any, writer: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of ``File.create_array`` for the CF-encoded variable
    ``var``, checked here so that a variable that cannot be stored fails
    before the file is opened (mode ``"w"`` replaces a file as it opens it)."""
    if not isinstance(name, str):
        raise InvalidValueError(f"variable names must be str, not {name!r}")
    kind = _element_type(var)
    fill = _fill(var)
    encode_fill(kind, fill)
    _check_attrs(f"variable {name!r}", var.attrs)
    # Checked against the element type before the file is opened.
    codec = pipeline(kind, writer.get("codec"), writer.get("filters"))
    return {
        "shape": var.shape,
        "dtype": for_create(kind),
        "chunks": _chunks(name, var, writer.get("chunks")),
        "fill_value": fill,
        "dims": [str(d) for d in var.dims],
        "codec": codec,
        "filters": [],
        "attrs": var.attrs,
    }


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
    ``codec`` (``"zstd:LEVEL"``, ``"lz4"``, ``"pco:LEVEL"``, ``"none"``, or a
    whole pipeline such as ``"shuffle+zstd:5"``), ``filters`` (a list of
    ``"shuffle"``, ``"delta"``, ``"bitround:N"``; both default to the
    pipeline measured best for the variable's dtype) and the CF
    keys (``dtype``, ``_FillValue``, ``units``, ``calendar``,
    ``scale_factor``, ``add_offset``).

    ``mode="w"`` replaces any file, ``"w-"`` only creates one, ``"a"`` adds
    the variables to an existing file (or creates it). Dask-backed variables
    are written chunk by chunk by Dask's workers, each block staged by the
    worker that computed it, and committed with everything else as one
    layer: readers see the whole dataset or nothing of it, and a failed
    computation commits nothing. ``compute=False`` creates (or replaces)
    the file at once and returns the delayed write, which commits when
    computed.
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
    variables = {k: _not_object(v, k) for k, v in variables.items()}
    # Everything that can be checked is checked before the file is opened.
    if attrs:
        _check_attrs("the dataset", attrs)
    create = {
        name: _create_args(name, var, writer.get(name, {})) for name, var in variables.items()
    }

    location = path if isinstance(path, str) else os.fspath(path)
    lazy = {name: var.data for name, var in variables.items() if var.chunks}

    def finish(file: File) -> None:
        """Defines every array, writes the variables that are not Dask
        arrays and sets the attributes, in ``file``'s pending changes."""
        if attrs:
            file.attrs.update(attrs)
        for name, var in variables.items():
            array = file.create_array(name, **create[name])
            if not var.chunks and var.size:
                array[...] = np.asarray(var.values)

    # Mode "w" replaces the file, "w-" creates it, "a" opens it (or creates
    # it); nothing is committed yet.
    file = File(location, "a" if mode == "a" else mode, storage_options=storage_options)
    try:
        clash = sorted(str(name) for name in variables if name in file)
        if clash:
            raise ArrayExistsError(
                f"{location}: arrays {clash} exist already; mode='a' adds new variables only"
            )
        if not lazy and compute:
            finish(file)
    except BaseException:
        file.discard()
        file.close()
        raise
    file.close()
    if not lazy and compute:
        return None
    from .dask import write_parts

    return write_parts(
        finish,
        location=location,
        storage_options=storage_options,
        sources={
            name: (
                data,
                create[name]["chunks"],
                {k: v for k, v in create[name].items() if k != "attrs"},
            )
            for name, data in lazy.items()
        },
        compute=compute,
    )


def _not_object(var: Any, name: Hashable) -> Any:
    """``var`` with an object dtype replaced as xarray does before writing
    NetCDF: strings and bytes keep theirs (missing values become ``""`` or
    ``b""``), other objects get the numpy dtype of their values."""
    try:
        from xarray.backends.common import ensure_dtype_not_object
    except ImportError:  # older xarray: cf_encoder did it already
        return var
    return ensure_dtype_not_object(var, name=name)
