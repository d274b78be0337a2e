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

1. the file is created (or opened) when the write is set up, and nothing is
   committed to it;
2. one task per block opens the file, defines the block's array as the
   write will (unless it exists already), writes its block into its own
   handle and *stages* it: its frames go to a part object no reader sees,
   and the task returns a description of a few hundred bytes;
3. one task defines the new arrays with their attributes, writes what is
   not a Dask array, and commits all of it and every part as ONE new layer
   that adopts the parts' frames where they are (one conditional create; no
   data of the parts is copied).

Readers see the whole write or nothing of it. Blocks must not share chunks
(two parts writing one chunk are a conflict), so a source whose blocks cut
through the array's chunks is rechunked to whole chunks first. A run that
fails before step 3 commits nothing and leaves parts that no layer adopts;
readers never see them and ``vacuum`` reclaims them after a grace period.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from itertools import product
from typing import Any

from ._array import Array
from ._errors import InvalidValueError
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
    location: str,
    options: Mapping[str, Any] | None,
    name: str,
    start: tuple[int, ...],
    define: Mapping[str, Any] | None,
) -> bytes | None:
    """Writes one block at ``start`` of array ``name`` through a handle of
    its own (defining the array as ``define`` says first, when given) and
    stages it; the part's description."""
    import numpy as np

    data = np.asarray(block)
    if data.size == 0:
        return None
    with File(location, "r+", storage_options=options) as f:
        if define is not None:
            f.create_array(name, **define)
        region = tuple(slice(s, s + n) for s, n in zip(start, data.shape))
        f[name][region] = data
        return f.stage()


def _commit(
    parts: Sequence[bytes | None],
    location: str,
    options: Mapping[str, Any] | None,
    finish: Callable[[File], None],
) -> None:
    """Makes the write's own changes (``finish``) and commits them with the
    staged parts as one layer."""
    f = File(location, "r+", storage_options=options)
    try:
        finish(f)
        f.commit_parts([p for p in parts if p is not None])
    except BaseException:
        f.discard()
        f.close()
        raise
    f.close()


def write_parts(
    finish: Callable[[File], None],
    *,
    location: str,
    storage_options: Mapping[str, Any] | None,
    sources: Mapping[str, tuple[Any, Sequence[int], Mapping[str, Any] | None]],
    compute: bool,
) -> Any:
    """Runs steps 2 and 3 of the protocol on a file that exists: one task
    per block of each source (``name: (dask array, the array's chunks, its
    definition without attributes, or None for an existing array)``), then
    one task that calls ``finish(file)`` (which defines the new arrays as
    the sources say, with their attributes, and makes the write's other
    changes) and commits them with every part. With ``compute=False``,
    nothing runs until the returned ``dask.delayed`` object is computed (to
    None)."""
    from dask.delayed import delayed

    options = dict(storage_options) if storage_options else None
    parts = []
    for name, (source, chunks, define) in sources.items():
        source = _aligned(source, chunks) if source.ndim else source
        blocks = source.to_delayed().ravel()
        for block, start in zip(blocks, _starts(source)):
            parts.append(
                delayed(_stage_block, pure=False)(block, location, options, name, start, define)
            )
    done = delayed(_commit, pure=False)(parts, location, options, finish)
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
    filters: Sequence[str] | None = None,
    attrs: dict[str, Any] | None = None,
    compute: bool = True,
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """Writes the Dask array ``source`` into array ``name`` of the file at
    ``path``, block by block on Dask's workers, and commits the blocks as one
    layer. The file and the array are created if needed (the array with
    ``source``'s chunks unless ``chunks`` says otherwise, and ``dims``,
    ``fill_value``, ``codec``, ``filters``, ``attrs``, as
    :meth:`File.create_array` takes them) in the same commit; an existing
    array must have ``source``'s shape. ``compute=False`` returns the work
    as a ``dask.delayed`` object; the file is created at once, the array
    and its data only when the work is computed."""
    location = path if isinstance(path, str) else os.fspath(path)
    shape = tuple(int(s) for s in source.shape)
    define: dict[str, Any] | None = None
    with File(location, "a", storage_options=storage_options) as f:
        if name in f:
            existing = f[name]
            if existing.shape != shape:
                raise InvalidValueError(
                    f"array {name!r} has shape {existing.shape}, the source {shape}"
                )
            target_chunks = existing.chunks
        else:
            if chunks is not None:
                target_chunks = tuple(int(c) for c in chunks)
            else:
                target_chunks = tuple(max(int(c[0]), 1) if c else 1 for c in source.chunks)
            define = {
                "shape": shape,
                "dtype": source.dtype,
                "chunks": target_chunks,
                "dims": dims,
                "fill_value": fill_value,
                "codec": codec,
                "filters": filters,
            }

    def finish(f: File) -> None:
        if define is not None:
            f.create_array(name, **define, attrs=attrs)

    return write_parts(
        finish,
        location=location,
        storage_options=storage_options,
        sources={name: (source, target_chunks, define)},
        compute=compute,
    )
