"""``Array``: one array of a file, indexed like a numpy array."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import _dtypes, _indexing, _repr
from ._attrs import Attributes
from ._errors import DTypeError, InvalidOperationError

if TYPE_CHECKING:
    from ._file import File


class Array:
    """An array of a :class:`File`.

    Index it like a numpy array (``a[0, 10:20, ::2]``, ``a[..., -1]``,
    ``a[None]``); ``a.oindex[...]`` selects with an integer list or boolean
    mask per axis. Reads return new numpy arrays; assignments write
    through to the file's pending layer, committed by ``flush()``.
    Metadata is read again whenever the file's view may have changed (a
    definition, deletion, refresh, compaction or discard through its
    :class:`File`), so an ``Array`` always describes the file's current view.
    """

    __slots__ = ("_file", "_meta_cache", "_name")

    def __init__(self, file: File, name: str) -> None:
        self._file = file
        self._name = name
        self._meta_cache: tuple[int, dict[str, Any]] | None = None

    # -- metadata -------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        # Every element read would otherwise ask the native layer for the
        # metadata, which costs more than reading the element.
        view = self._file._view
        cached = self._meta_cache
        if cached is not None and cached[0] == view:
            return cached[1]
        meta = self._file._native_handle().array(self._name)
        self._meta_cache = (view, meta)
        return meta

    @property
    def name(self) -> str:
        """The array's name in the file."""
        return self._name

    @property
    def file(self) -> File:
        """The file the array belongs to."""
        return self._file

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return tuple(self._meta()["shape"])

    @property
    def chunks(self) -> tuple[int, ...]:
        """The shape of the chunks the array is stored in."""
        return tuple(self._meta()["chunks"])

    @property
    def dims(self) -> tuple[str, ...]:
        """The name of each dimension."""
        return tuple(self._meta()["dims"])

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy dtype reads return (``object`` for str and bytes)."""
        return _dtypes.to_numpy(self._meta()["dtype"])

    @property
    def codec(self) -> str | None:
        """The codec the array records (``"lz4"``, ``"zstd:3"``, ...), used by
        every writer of it; ``None`` when it records none and writers use
        their own (lz4 from Python)."""
        codec = self._file._native_handle().codec(self._name)
        return None if codec is None else str(codec)

    @property
    def element_type(self) -> str:
        """The library's name of the element type (``"f32"``, ``"string"``, ...)."""
        return str(self._meta()["dtype"])

    @property
    def fill_value(self) -> Any:
        """The value elements never written read as."""
        m = self._meta()
        return _dtypes.decode_fill(m["dtype"], m["fill"])

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        """Bytes of the array read whole into numpy (pointers, for strings)."""
        return self.size * self.dtype.itemsize

    @property
    def attrs(self) -> Attributes:
        """The array's attributes, a mutable mapping."""
        native = self._file._native_handle
        name = self._name
        return Attributes(
            read=lambda: native().attrs(name),
            write=lambda k, t, v: self._file._writable().set_attr(name, k, t, v),
            remove=lambda k: self._file._writable().remove_attr(name, k),
            owner=f"array {name!r}",
        )

    @property
    def stats(self) -> dict[str, Any] | None:
        """``min``, ``max``, ``null_count`` and ``count`` of the committed data,
        from the layer footers (no data is read); NaN is left out of min and
        max, and ``null_count`` counts elements never written or equal to
        the fill value. ``None`` before the array's first commit."""
        s = self._file._native_handle().stats(self._name)
        if s is None:
            return None
        kind = self.element_type
        return {
            "min": _stat(kind, s["min"]),
            "max": _stat(kind, s["max"]),
            "null_count": s["null_count"],
            "count": s["count"],
        }

    @property
    def stored_bytes(self) -> int:
        """Compressed bytes of the committed chunks."""
        return int(self._file._native_handle().storage(self._name)[2])

    def __len__(self) -> int:
        shape = self.shape
        if not shape:
            raise TypeError("len() of a 0-d array")
        return shape[0]

    # -- reading --------------------------------------------------------

    def _read_many(self, regions: list[_indexing.Region]) -> list[np.ndarray]:
        native = self._file._native_handle()
        kind = self._meta()["dtype"]
        # numpy learns bfloat16 from ml_dtypes; without it, say so.
        _dtypes.to_numpy(kind) if kind == "bf16" else None
        parts = native.read_many(self._name, regions)
        if kind in _dtypes.OBJECT_TYPES:
            out = []
            for part, (_, shape) in zip(parts, regions):
                a = np.empty(len(part), dtype=object)
                a[:] = part
                out.append(a.reshape(shape))
            return out
        if kind == "timestamp_ns":
            return [p.view("datetime64[ns]") for p in parts]
        return parts

    def __getitem__(self, key: Any) -> Any:
        m = self._meta()
        # One element by plain integers: straight to the native layer,
        # which answers None for any other key.
        if type(key) is tuple and key:
            if m["dtype"] == "bf16":
                _dtypes.to_numpy("bf16")
            one = self._file._native_handle().read_point(self._name, key)
            if one is not None:
                if m["dtype"] == "timestamp_ns":
                    return np.int64(one).view("datetime64[ns]")
                return one
        elif type(key) is int and len(m["shape"]) == 1:
            return self[(key,)]
        sel = _indexing.select(key, m["shape"], m["chunks"])
        out = _indexing.read(sel, m["chunks"], self._read_many, _dtypes.to_numpy(m["dtype"]))
        if sel.lead is not None:
            out = np.ascontiguousarray(np.moveaxis(out, sel.lead, 0))
        return out[()] if sel.scalar else out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self[...]
        data = np.asarray(data)
        return data if dtype is None else data.astype(dtype, copy=False)

    @property
    def oindex(self) -> _OIndex:
        """Orthogonal selection: ``a.oindex[[0, 5], :, mask]`` picks, per axis,
        the listed indices or the mask's true elements, independently."""
        return _OIndex(self)

    def read(self) -> np.ndarray:
        """The whole array."""
        return np.asarray(self[...])

    # -- writing --------------------------------------------------------

    def _coerce(self, value: Any, shape: tuple[int, ...]) -> np.ndarray:
        kind = self._meta()["dtype"]
        if kind in _dtypes.OBJECT_TYPES:
            want = str if kind == "string" else bytes
            arr = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
            if arr.dtype.kind in "UST":
                arr = arr.astype(object)
            arr = np.broadcast_to(np.asarray(arr, dtype=object), shape)
            for v in arr.flat:
                if not isinstance(v, want):
                    raise DTypeError(
                        f"array {self._name!r} holds {want.__name__}, not {type(v).__name__}"
                    )
            return np.ascontiguousarray(arr)
        dt = _dtypes.to_numpy(kind)
        if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
            # As for arrays: bools only into bool arrays and back, no plain
            # numbers for times.
            if (kind == "bool") != isinstance(value, bool) or kind == "timestamp_ns":
                raise DTypeError(
                    f"a {type(value).__name__} cannot be written to array {self._name!r} of {dt}"
                )
            try:
                arr = np.array(value, dtype=dt)
            except (OverflowError, ValueError, TypeError) as e:
                raise DTypeError(f"{value!r} does not fit array {self._name!r} of {dt}: {e}") from e
            if dt.kind in "iu" and isinstance(value, float):
                raise DTypeError(f"a float cannot be written to array {self._name!r} of {dt}")
        else:
            arr = np.asarray(value)
            if kind == "timestamp_ns":
                if arr.dtype.kind != "M":
                    raise DTypeError(
                        f"array {self._name!r} holds datetime64 values, not {arr.dtype}"
                    )
                arr = _dtypes.to_ns(arr)
            elif arr.dtype != dt:
                if not np.can_cast(arr.dtype, dt, casting="same_kind"):
                    raise DTypeError(
                        f"cannot write {arr.dtype} data to array {self._name!r} of {dt} "
                        "without losing values; convert it first"
                    )
                arr = arr.astype(dt)
        try:
            arr = np.broadcast_to(arr, shape)
        except ValueError as e:
            raise ValueError(
                f"data of shape {np.shape(value)} cannot be written to a selection of shape {shape}"
            ) from e
        return np.ascontiguousarray(arr)

    def _write_region(self, start: list[int], data: np.ndarray) -> None:
        native = self._file._writable()
        kind = self._meta()["dtype"]
        if kind in _dtypes.OBJECT_TYPES:
            native.write_objects(self._name, start, list(data.shape), data.ravel().tolist(), kind)
        elif kind == "timestamp_ns":
            native.write(self._name, start, _contiguous(data).view(np.int64), kind)
        else:
            native.write(self._name, start, _contiguous(data), kind)

    def _assign(self, sel: _indexing.Selection, value: Any) -> None:
        self._file._writable()
        data = self._coerce(value, sel.numpy_shape)
        if sel.lead is not None:
            data = np.moveaxis(data, 0, sel.lead)
        data = data.reshape(sel.shape)
        with self._file._write_lock:
            m = self._meta()
            _indexing.write(sel, data, m["chunks"], self._read_many, self._write_region)

    def __setitem__(self, key: Any, value: Any) -> None:
        m = self._meta()
        self._assign(_indexing.select(key, m["shape"], m["chunks"]), value)

    # -- sharing between processes --------------------------------------

    def __reduce__(self) -> tuple[Any, ...]:
        return (_open_array, (self._file._reference(), self._name))

    def __repr__(self) -> str:
        return _repr.array_text(self)

    def _repr_html_(self) -> str:
        return _repr.array_html(self)


class _OIndex:
    __slots__ = ("_array",)

    def __init__(self, array: Array) -> None:
        self._array = array

    def __getitem__(self, key: Any) -> Any:
        a = self._array
        m = a._meta()
        sel = _indexing.select(key, m["shape"], m["chunks"], orthogonal=True)
        out = _indexing.read(sel, m["chunks"], a._read_many, _dtypes.to_numpy(m["dtype"]))
        return out[()] if sel.scalar else out

    def __setitem__(self, key: Any, value: Any) -> None:
        a = self._array
        m = a._meta()
        a._assign(_indexing.select(key, m["shape"], m["chunks"], orthogonal=True), value)


def _contiguous(data: np.ndarray) -> np.ndarray:
    # Not np.ascontiguousarray, which turns a 0-d array into a 1-d one.
    # Aligned too: an array unpickled from a Dask worker's buffer may not be.
    flags = data.flags
    return data if flags.c_contiguous and flags.aligned else np.array(data, order="C")


def _stat(kind: str, value: Any) -> Any:
    if value is None:
        return None
    tag, v = value
    if tag == "timestamp_ns":
        return np.int64(v).view("datetime64[ns]")
    if tag == "bytes":
        return v.decode("utf-8", errors="replace") if kind == "string" else v
    if kind == "bool":
        return bool(v)
    return _dtypes.to_numpy(kind).type(v)


def _open_array(reference: Any, name: str) -> Array:
    from ._file import _shared_file

    return _shared_file(reference)[name]


__all__ = ["Array", "InvalidOperationError"]
