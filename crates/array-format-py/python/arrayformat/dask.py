"""Dask: arrays as Dask arrays, and Dask arrays written into files.

Reading needs nothing special: an :class:`~arrayformat.Array` pickles by
reference (its file's location and the layer it was read at), so
``da.from_array(a, chunks=a.chunks)`` computes on any scheduler, a
``dask.distributed`` cluster of processes included, every worker reading the
same version.

Writing: :func:`store` writes a Dask array into an array of a file,
creating both if needed, and commits the result as one layer.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence
from typing import Any

from ._array import Array
from ._file import File

__all__ = ["from_array", "store"]


def from_array(array: Array, chunks: Any = None) -> Any:
    """``array`` as a Dask array, in its own chunks unless told otherwise."""
    import dask.array as da

    return da.from_array(array, chunks=array.chunks if chunks is None else chunks, fancy=False)


def _store_and_commit(
    file: File, sources: Sequence[Any], targets: Sequence[Array], *, compute: bool
) -> Any:
    """Writes the Dask arrays ``sources`` into ``targets`` (arrays of
    ``file``, defined and pending) with threads of this process, then
    commits ``file`` once and closes it. If the writing fails, the pending
    changes are dropped: no part of them is ever committed. ``compute=False``
    returns this work as a ``dask.delayed`` object, which does it when
    computed; one dropped without being computed drops the changes too."""
    import dask.array as da
    from dask.delayed import delayed as dask_delayed

    def write_and_commit() -> None:
        try:
            if sources:
                da.store(list(sources), list(targets), lock=False, scheduler="threads")
        except BaseException:
            _drop(file)
            raise
        file.close()

    if compute:
        write_and_commit()
        return None
    # Once no task graph holds the write any more, a file still open is one
    # whose write never ran: dropped, instead of flushed by File.__del__.
    weakref.finalize(write_and_commit, _drop, file)
    return dask_delayed(write_and_commit, pure=False)()


def _drop(file: File) -> None:
    """Closes ``file`` without committing its pending changes."""
    if not file.closed:
        file.discard()
        file.close()


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
    ``path`` (created if needed, with ``source``'s chunks unless ``chunks``
    says otherwise) and commits it as one layer."""
    file = File(path, "a", storage_options=storage_options)
    try:
        if name in file:
            target = file[name]
            if target.shape != tuple(source.shape):
                raise ValueError(
                    f"array {name!r} has shape {target.shape}, the source {tuple(source.shape)}"
                )
        else:
            target = file.create_array(
                name,
                shape=source.shape,
                dtype=source.dtype,
                chunks=tuple(chunks) if chunks is not None else tuple(c[0] for c in source.chunks),
                dims=dims,
                fill_value=fill_value,
                codec=codec,
                attrs=attrs,
            )
    except BaseException:
        file.close()
        raise
    return _store_and_commit(file, [source], [target], compute=compute)
