"""``File``: an open array-format file, a mapping of names to arrays."""

from __future__ import annotations

import operator
import os
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from . import _chunks, _dtypes, _pipeline, _repr
from ._array import Array
from ._attrs import Attributes
from ._errors import ArrayNotFoundError, InvalidOperationError, InvalidValueError, ReadOnlyError
from ._native import NativeFile

MODES = ("r", "r+", "a", "w", "w-", "x")


@dataclass(frozen=True)
class Damage:
    """One damaged frame or chunk found by :meth:`File.verify`."""

    path: str
    frame: int | None
    offset: int
    length: int
    what: str


@dataclass(frozen=True)
class VerifyReport:
    """What :meth:`File.verify` checked and found."""

    layers: int
    frames: int
    chunks: int
    bytes: int
    damaged: list[Damage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing was damaged."""
        return not self.damaged


@dataclass(frozen=True)
class VacuumReport:
    """What :meth:`File.vacuum` deleted: the objects' paths, the bytes they
    held, and how many were staged parts no layer adopted."""

    deleted: list[str]
    bytes: int
    parts: int = 0


@dataclass(frozen=True)
class Reference:
    """What names one version of a file in any process: its location, the
    layer it was read at, and the storage options to reach it."""

    location: str
    layer: int
    storage_options: tuple[tuple[str, str], ...] = ()


def _location(path: Any) -> str:
    if isinstance(path, os.PathLike):
        return str(os.fspath(path))
    if isinstance(path, str):
        return path
    raise TypeError(f"a file is named by a str or a path, not {type(path).__name__}")


class File(Mapping[str, Array]):
    """An open array-format file: a mapping from array names to
    :class:`Array` objects.

    Open one with :func:`arrayformat.open`. Changes (new arrays, writes,
    deletions, attributes) gather in a pending layer that :meth:`flush`
    commits atomically as one new layer; closing a file opened for writing
    flushes it, unless the ``with`` block ends in an exception.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        mode: str = "r",
        *,
        as_of: int | None = None,
        storage_options: Mapping[str, Any] | None = None,
        cache_bytes: int | None = None,
        io_cache_bytes: int | None = None,
    ) -> None:
        if not isinstance(mode, str) or mode not in MODES:
            raise InvalidValueError(f"unknown mode {mode!r}: use 'r', 'r+', 'a', 'w' or 'w-'")
        if as_of is not None:
            if mode != "r":
                raise InvalidValueError(
                    "as_of opens a past version, which is read-only: use mode='r'"
                )
            as_of = _count(as_of, "as_of")
        cache_bytes = None if cache_bytes is None else _count(cache_bytes, "cache_bytes")
        if io_cache_bytes is not None:
            io_cache_bytes = _count(io_cache_bytes, "io_cache_bytes")
        if storage_options is not None and not isinstance(storage_options, Mapping):
            raise TypeError(
                f"storage_options is a mapping of option names to values, "
                f"not {type(storage_options).__name__}"
            )
        self._location = _location(path)
        # What other processes open: a local path made absolute now, since
        # they may run in another directory.
        self._shared_location = (
            self._location if "://" in self._location else os.path.abspath(self._location)
        )
        self._mode = mode
        self._options = tuple(sorted((str(k), str(v)) for k, v in (storage_options or {}).items()))
        self._native: NativeFile | None = NativeFile.open(
            self._location,
            mode,
            as_of,
            dict(self._options) or None,
            cache_bytes,
            io_cache_bytes,
        )
        self._as_of = as_of
        # Held by writes that read, patch and write back a region (strided
        # and listed selections), so that writes from other threads to
        # other elements of that region are not lost.
        self._write_lock = threading.Lock()
        # Bumped whenever this handle's view of the arrays may change, so
        # that arrays know when their cached metadata is stale.
        self._view = 0

    # -- state ----------------------------------------------------------

    def _native_handle(self) -> NativeFile:
        native = self._native
        if native is None:
            raise InvalidOperationError(f"{self._location}: the file is closed")
        return native

    def _writable(self) -> NativeFile:
        native = self._native_handle()
        if native.read_only:
            raise ReadOnlyError(
                f"{self._location} is open read-only (mode {self._mode!r}"
                + (f", as_of={self._as_of}" if self._as_of is not None else "")
                + "); open it with mode 'r+' or 'a' to change it"
            )
        return native

    @property
    def path(self) -> str:
        """The location the file was opened at."""
        return self._location

    @property
    def mode(self) -> str:
        """The mode the file was opened in."""
        return self._mode

    @property
    def read_only(self) -> bool:
        """Whether changes are refused (mode ``"r"`` or ``as_of``)."""
        return bool(self._native_handle().read_only)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._native is None

    @property
    def layer(self) -> int:
        """The newest visible layer: the version of the file this handle
        reads. ``open(path, as_of=f.layer)`` opens exactly this version."""
        return int(self._native_handle().latest_layer())

    @property
    def has_pending_changes(self) -> bool:
        """Whether :meth:`flush` would commit anything."""
        return bool(self._native_handle().has_pending_changes())

    @property
    def stored_bytes(self) -> int:
        """Bytes of the layers this handle reads."""
        return int(self._native_handle().stored_bytes())

    # -- the mapping ----------------------------------------------------

    def __getitem__(self, name: str) -> Array:
        if not isinstance(name, str):
            raise TypeError(f"array names are str, not {type(name).__name__}")
        if not self._native_handle().contains(name):
            raise ArrayNotFoundError(f"no array {name!r} in {self._location}")
        return Array(self, name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self._native_handle().contains(name))

    def __iter__(self) -> Iterator[str]:
        return iter(self._native_handle().names())

    def __len__(self) -> int:
        return len(self._native_handle().names())

    def __setitem__(self, name: str, data: Any) -> None:
        self.create_array(name, data=data)

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise ArrayNotFoundError(f"no array {name!r} in {self._location}")
        self._writable().delete(name)
        self._view += 1

    def create_array(
        self,
        name: str,
        shape: Any = None,
        dtype: Any = None,
        *,
        chunks: Any = None,
        fill_value: Any = None,
        dims: Any = None,
        codec: str | None = None,
        filters: Sequence[str] | None = None,
        attrs: Mapping[str, Any] | None = None,
        data: Any = None,
    ) -> Array:
        """Defines a new array and returns it; with ``data``, writes it too.

        ``shape`` and ``dtype`` default to those of ``data``. ``chunks``
        defaults to chunks of about 1 MiB (``None``); ``fill_value`` is what
        elements never written read as (the dtype's zero by default);
        ``dims`` names the dimensions (``dim0``, ``dim1``, ... by default);
        ``codec`` is ``"zstd:LEVEL"`` (``"zstd"`` is level 3), ``"lz4"``,
        ``"pco:LEVEL"`` (``"pco"`` is level 8) or ``"none"``, or a whole
        pipeline such as ``"shuffle+zstd:5"``; ``filters`` lists filters run
        before it: ``"shuffle"``, ``"delta"`` (integers and times),
        ``"bitround:N"`` (floats: keeps N mantissa bits, lossy). Left out,
        they come from the pipeline measured best for the dtype: ``"pco:8"``
        for numbers of 2 bytes or more, ``"shuffle+zstd:3"`` for bfloat16
        and complex numbers, ``"zstd:3"`` otherwise; ``"lz4"`` and
        ``"zstd"`` get ``"shuffle"`` for multi-byte numbers, and with
        ``"delta"`` or ``"shuffle"`` the codec is ``"zstd:3"``; ``attrs``
        sets attributes.
        """
        native = self._writable()
        if not isinstance(name, str):
            raise TypeError(f"array names are str, not {type(name).__name__}")
        arr = None
        if data is not None:
            arr = data if isinstance(data, np.ndarray) else np.asarray(data)
            if shape is None:
                shape = arr.shape
            kind = _dtypes.infer(arr) if dtype is None else _dtypes.from_numpy(dtype)
        else:
            if shape is None or dtype is None:
                raise TypeError("create_array needs shape and dtype, or data")
            kind = _dtypes.from_numpy(dtype)
        shape_t = _ints(shape, "shape")
        if any(s < 0 for s in shape_t):
            raise InvalidValueError(f"a shape has no negative lengths: {shape_t}")
        itemsize = 8 if kind in _dtypes.OBJECT_TYPES else _dtypes.to_numpy(kind).itemsize
        if chunks is None or chunks is True:
            chunk_t = _chunks.guess(shape_t, itemsize)
        else:
            chunk_t = _ints(chunks, "chunks")
            if not isinstance(chunks, (tuple, list)) and np.ndim(chunks) == 0:
                chunk_t *= len(shape_t)
            if any(c < 1 for c in chunk_t):
                raise InvalidValueError(f"chunk lengths must be positive: {chunk_t}")
        dims_l = [str(d) for d in dims] if dims is not None else []
        if dims is not None and len(dims_l) != len(shape_t):
            raise InvalidValueError(f"{len(dims_l)} dimension names for {len(shape_t)} dimensions")
        codec = _pipeline.pipeline(kind, codec, filters)
        spec = {
            "dtype": kind,
            "shape": list(shape_t),
            "chunks": list(chunk_t),
            "dims": dims_l,
            "fill": _dtypes.encode_fill(kind, fill_value),
            "codec": codec,
        }
        native.define(name, spec)
        self._view += 1
        array = Array(self, name)
        if attrs:
            array.attrs.update(attrs)
        if arr is not None and arr.size:
            if (
                kind not in _dtypes.OBJECT_TYPES
                and kind != "timestamp_ns"
                and arr.dtype == _dtypes.to_numpy(kind)
                and arr.flags.c_contiguous
                and arr.flags.aligned
                and arr.shape == shape_t
            ):
                # The common case, many arrays from numpy: one native call.
                native.write(name, [0] * len(shape_t), arr, kind)
            else:
                array[...] = arr
        return array

    @property
    def attrs(self) -> Attributes:
        """The file's own attributes (xarray's ``Dataset.attrs``), a mutable
        mapping committed by the next :meth:`flush` like any change."""
        native = self._native_handle
        return Attributes(
            read=lambda: native().file_attrs(),
            write=lambda k, t, v: self._writable().set_file_attr(k, t, v),
            remove=lambda k: self._writable().remove_file_attr(k),
            owner=f"file {self._location!r}",
        )

    # -- history and maintenance -----------------------------------------

    def flush(self) -> None:
        """Commits the pending changes atomically as one new layer."""
        self._writable().flush()

    def refresh(self) -> None:
        """Sees what other writers committed since this handle opened
        (pending changes are kept)."""
        self._native_handle().refresh()
        self._view += 1

    def compact(self, *, retention: float | None = None) -> None:
        """Flushes, then merges the visible layers into one snapshot.

        The layers it replaces stay for ``retention`` seconds (24 hours by
        default), so that readers elsewhere that opened an earlier version
        finish and ``as_of`` reaches them; this or a later compaction, or
        :meth:`vacuum`, deletes them after that (``retention=0``: at once).
        """
        self._writable().compact(retention)
        self._view += 1

    def vacuum(
        self, *, part_grace: float | None = None, retention: float | None = None
    ) -> VacuumReport:
        """Deletes the layers no version needs any more: those a compaction
        replaced more than ``retention`` seconds ago (24 hours by default);
        and the staged parts no layer adopted once older than ``part_grace``
        seconds (24 hours by default: a write from many processes still
        running keeps its parts)."""
        deleted, nbytes, parts = self._writable().vacuum(part_grace, retention)
        return VacuumReport(list(deleted), int(nbytes), int(parts))

    def verify(self) -> VerifyReport:
        """Reads and checks every stored byte; reports every damaged frame."""
        layers, frames, chunks, nbytes, damaged = self._native_handle().verify()
        return VerifyReport(layers, frames, chunks, nbytes, [Damage(*d) for d in damaged])

    def versions(self) -> list[dict[str, Any]]:
        """Every layer, oldest first: ``layer``, ``kind`` (``"snapshot"`` or
        ``"delta"``), ``generation``, ``size`` (bytes), ``created`` (UTC
        datetime), ``visible`` (part of this handle's view), ``parts`` (the
        staged parts whose frames the layer adopted, see :meth:`commit_parts`),
        ``path``; and for a layer that cannot be read, ``damage`` (what is
        wrong)."""
        out = []
        for v in self._native_handle().versions():
            created = datetime.fromtimestamp(v.pop("created_ns") / 1e9, tz=timezone.utc)
            v["created"] = created
            if v.get("damage") is None:
                v.pop("damage", None)
            out.append(v)
        return out

    def stage(self) -> bytes:
        """Writes this handle's pending chunk writes (and definitions of
        arrays) to a *staged part*, an object no reader sees, clears them,
        and returns the part's description (a few hundred bytes) for
        :meth:`commit_parts`. Deletions and attribute changes cannot be
        staged (:class:`InvalidOperationError`). The step a worker process
        takes in a write from many processes (``docs/PYTHON.md``)."""
        return bytes(self._writable().stage())

    def commit_parts(self, parts: Sequence[bytes]) -> None:
        """Commits staged parts, from any processes, together with this
        handle's own pending changes, as ONE new layer that adopts the
        parts' frames where they are: one atomic commit, no data of the
        parts copied. An array a part defines must be defined the same way
        here (:class:`InvalidOperationError` otherwise). Two parts that
        wrote the same chunk, or a part and this handle or another writer
        since the part's base, are a :class:`ConflictError`; then nothing
        is committed and this handle's changes stay pending."""
        self._writable().commit_parts([bytes(p) for p in parts])
        self._view += 1

    def discard(self) -> None:
        """Drops every pending change."""
        self._writable().discard()
        self._view += 1

    def close(self) -> None:
        """Flushes (when open for writing) and closes the file."""
        native = self._native
        if native is None:
            return
        try:
            if not native.read_only and native.has_pending_changes():
                native.flush()
        finally:
            self._native = None
            native.close()

    def __enter__(self) -> File:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
            return
        native = self._native
        self._native = None
        if native is not None:
            native.close()

    def __del__(self) -> None:
        native = getattr(self, "_native", None)
        if native is None:
            return
        try:
            if not native.read_only and native.has_pending_changes():
                warnings.warn(
                    f"{self._location} was not closed: its pending changes are flushed now",
                    ResourceWarning,
                    stacklevel=1,
                )
                native.flush()
            native.close()
        except Exception as e:  # noqa: BLE001 - nothing may escape __del__
            warnings.warn(
                f"{self._location}: closing on garbage collection failed: {e}",
                RuntimeWarning,
                stacklevel=1,
            )

    # -- sharing between processes --------------------------------------

    def _reference(self) -> Reference:
        native = self._native_handle()
        if native.has_pending_changes():
            raise InvalidOperationError(
                f"{self._location} has pending changes, which other processes cannot see: "
                "flush() before sharing its arrays"
            )
        return Reference(self._shared_location, int(native.latest_layer()), self._options)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_shared_file, (self._reference(),))

    def __repr__(self) -> str:
        return _repr.file_text(self)

    def _repr_html_(self) -> str:
        return _repr.file_html(self)


def _count(value: Any, what: str) -> int:
    """A layer number or a byte count: an integer from 0 to 2**64 - 1."""
    n = operator.index(value)
    if not 0 <= n < 2**64:
        raise InvalidValueError(f"{what} must be an integer from 0 to 2**64 - 1, not {n}")
    return n


def _ints(value: Any, what: str) -> tuple[int, ...]:
    """A shape or chunk shape (an integer or a sequence of them) as a tuple;
    a ``TypeError`` for anything else, as numpy gives for ``zeros(2.5)``."""
    if type(value) is tuple and all(type(v) is int and 0 <= v < 2**64 for v in value):
        # A numpy shape, the common case: nothing to convert.
        return value
    try:
        if np.ndim(value) == 0:
            out: tuple[int, ...] = (operator.index(value),)
        else:
            out = tuple(operator.index(v) for v in value)
    except TypeError as e:
        raise TypeError(f"{what} must be integers, not {value!r}") from e
    if any(v >= 2**64 for v in out):
        raise InvalidValueError(f"{what} {out} has lengths beyond 64 bits")
    return out


_SHARED: dict[Reference, File] = {}
_SHARED_LOCK = threading.Lock()


def _shared_file(reference: Reference) -> File:
    """The file named by ``reference``, read-only at its layer, opened once
    per process (the tasks of a Dask worker share it)."""
    with _SHARED_LOCK:
        f = _SHARED.get(reference)
        if f is None or f.closed:
            f = File(
                reference.location,
                "r",
                as_of=reference.layer,
                storage_options=dict(reference.storage_options) or None,
            )
            _SHARED[reference] = f
        return f


def open(  # noqa: A001 - the package's entry point, as h5py.File / zarr.open
    path: str | os.PathLike[str],
    mode: str = "r",
    *,
    as_of: int | None = None,
    storage_options: Mapping[str, Any] | None = None,
    cache_bytes: int | None = None,
    io_cache_bytes: int | None = None,
) -> File:
    """Opens the array-format file at ``path``: a local path, ``file://``,
    ``s3://bucket/key.af``, ``gs://bucket/key.af`` or
    ``az://container/key.af`` (credentials from the environment, or
    ``storage_options`` such as ``{"endpoint": ..., "region": ...}``).

    Modes, as h5py: ``"r"`` read only (default), ``"r+"`` read and write an
    existing file, ``"a"`` read and write, creating the file if needed,
    ``"w"`` create (replacing any file), ``"w-"`` create, failing if it
    exists. ``as_of=N`` opens the file as it was right after layer ``N``
    was committed (read-only). ``cache_bytes`` and ``io_cache_bytes`` size
    the decoded-frame and compressed-frame caches (0 turns one off).
    """
    return File(
        path,
        mode,
        as_of=as_of,
        storage_options=storage_options,
        cache_bytes=cache_bytes,
        io_cache_bytes=io_cache_bytes,
    )
