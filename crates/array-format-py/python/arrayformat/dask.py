"""Dask: arrays as Dask arrays, and Dask arrays written into files from any
number of processes, committed as one layer.

Reading needs nothing special: an :class:`~arrayformat.Array` pickles by
reference (its file's location and the layer it was read at), so
``da.from_array(a, chunks=a.chunks)`` computes on any scheduler, a
``dask.distributed`` cluster of processes included, every worker reading the
same version.

Writing (:func:`store`, and :func:`arrayformat.to_arrayformat` for Dask-backed
variables) follows the library's protocol for writes from many processes
(``docs/PYTHON.md``, "Writes from many processes"):

1. one task creates the file and the arrays if needed and commits them;
2. one task per block opens the file, writes its block into its own handle
   and *stages* it: its frames go to a part object no reader sees, and the
   task returns a description of a few hundred bytes;
3. one task commits every part as ONE new layer that adopts their frames
   where they are (one conditional create; no data is copied).

Blocks must not share chunks (two parts writing one chunk are a conflict),
so a source whose blocks cut through the array's chunks is rechunked to
whole chunks first. A run that fails before step 3 leaves parts that no
layer adopts; readers never see them and ``vacuum`` reclaims them after a
grace period.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from itertools import product
from typing import Any

from ._array import Array
from ._file import File

__all__ = ["from_array", "store", "write_parts"]


def from_array(array: Array, chunks: Any = None) -> Any:
    """``array`` as a Dask array, in its own chunks unless told otherwise."""
    import dask.array as da

    return da.from_array(array, chunks=array.chunks if chunks is None else chunks, fancy=False)


def _aligned(source: Any, chunks: Sequence[int]) -> Any:
    """``source``, rechunked where a block boundary cuts through a chunk of
    an array chunked by ``chunks``: blocks of whole chunks, about as large
    as the source's own."""
    fixed = []
    aligned = True
    for blocks, chunk in zip(source.chunks, chunks):
        inner = blocks[:-1]
        if any(b % chunk for b in inner):
            aligned = False
        typical = max(blocks) if blocks else chunk
        fixed.append(max(1, round(typical / chunk)) * chunk)
    return source if aligned else source.rechunk(tuple(fixed))


def _starts(source: Any) -> list[tuple[int, ...]]:
    """Where each block of ``source`` starts, in the order of
    ``source.to_delayed().ravel()``."""
    offsets = []
    for blocks in source.chunks:
        at, axis = 0, []
        for b in blocks:
            axis.append(at)
            at += b
        offsets.append(axis)
    return [tuple(s) for s in product(*offsets)]


def _stage_block(
    block: Any,
    _ready: Any,
    location: str,
    options: Mapping[str, Any] | None,
    name: str,
    start: tuple[int, ...],
) -> bytes | None:
    """Writes one block at ``start`` of array ``name`` through a handle of
    its own and stages it; the part's description."""
    import numpy as np

    data = np.asarray(block)
    if data.size == 0:
        return None
    with File(location, "r+", storage_options=options) as f:
        region = tuple(slice(s, s + n) for s, n in zip(start, data.shape))
        f[name][region] = data
        return f.stage()


def _commit(parts: Sequence[bytes | None], location: str, options: Mapping[str, Any] | None) -> int:
    """Commits the staged parts as one layer; its number."""
    with File(location, "r+", storage_options=options) as f:
        f.commit_parts([p for p in parts if p is not None])
        return f.layer


def write_parts(
    prepare: Callable[[], Any],
    *,
    location: str,
    storage_options: Mapping[str, Any] | None,
    sources: Mapping[str, tuple[Any, Sequence[int]]],
    compute: bool,
) -> Any:
    """Runs the protocol: ``prepare()`` (creates and commits the arrays),
    then one task per block of each source (``name: (dask array, the
    array's chunks)``), then one commit of all their parts. With
    ``compute=False``, nothing runs until the returned ``dask.delayed``
    object is computed; it computes to the number of the committed layer."""
    from dask.delayed import delayed

    options = dict(storage_options) if storage_options else None
    ready = delayed(prepare, pure=False)()
    parts = []
    for name, (source, chunks) in sources.items():
        source = _aligned(source, chunks) if source.ndim else source
        blocks = source.to_delayed().ravel()
        for block, start in zip(blocks, _starts(source)):
            parts.append(
                delayed(_stage_block, pure=False)(block, ready, location, options, name, start)
            )
    done = delayed(_commit, pure=False)(parts, location, options)
    if compute:
        done.compute()
        return None
    return done


def store(
    source: Any,
    path: str | os.PathLike[str],
    name: str,
    *,
    chunks: Sequence[int] | None = None,
    dims: Sequence[str] | None = None,
    fill_value: Any = None,
    codec: str | None = None,
    attrs: dict[str, Any] | None = None,
    compute: bool = True,
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """Writes the Dask array ``source`` into array ``name`` of the file at
    ``path``, block by block on Dask's workers, and commits the blocks as one
    layer. The file and the array are created if needed (the array with
    ``source``'s chunks unless ``chunks`` says otherwise, and ``dims``,
    ``fill_value``, ``codec``, ``attrs``), in a commit of their own first;
    an existing array must have ``source``'s shape and dtype.
    ``compute=False`` returns the work as a ``dask.delayed`` object."""
    location = path if isinstance(path, str) else os.fspath(path)
    shape = tuple(int(s) for s in source.shape)
    existing = _existing_chunks(location, storage_options, name)
    if existing is not None:
        target_chunks = existing
    elif chunks is not None:
        target_chunks = tuple(int(c) for c in chunks)
    else:
        target_chunks = tuple(max(int(c[0]), 1) if c else 1 for c in source.chunks)

    def prepare() -> None:
        with File(location, "a", storage_options=storage_options) as f:
            if name in f:
                a = f[name]
                if a.shape != shape:
                    raise ValueError(f"array {name!r} has shape {a.shape}, the source {shape}")
                return
            f.create_array(
                name,
                shape=shape,
                dtype=source.dtype,
                chunks=target_chunks,
                dims=dims,
                fill_value=fill_value,
                codec=codec,
                attrs=attrs,
            )

    return write_parts(
        prepare,
        location=location,
        storage_options=storage_options,
        sources={name: (source, target_chunks)},
        compute=compute,
    )


def _existing_chunks(
    location: str, options: Mapping[str, Any] | None, name: str
) -> tuple[int, ...] | None:
    """The chunks of array ``name`` if the file and the array exist."""
    from ._errors import FileMissingError

    try:
        with File(location, "r", storage_options=options) as f:
            return f[name].chunks if name in f else None
    except FileMissingError:
        return None
