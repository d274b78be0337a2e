"""Index expressions to regions of an array.

A key (numpy basic indexing: integers, slices with any step, ``...``,
``None``; plus, per axis, integer lists and boolean masks for orthogonal
selection) becomes, per axis of the array, the range of elements to read
and what to pick from it. Reads then fetch as few regions as possible:
one bounding region when every axis is a plain or small-step range, else
one region per run of neighbouring chunks that an index list touches.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from itertools import product
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ._errors import BoundsError

Region = tuple[list[int], list[int]]
#: A run of neighbouring chunks along one axis: its range ``lo..hi``, the
#: positions picked in it (``None``: all of them), and where its elements
#: go in the axis's sorted unique indices.
Run = tuple[int, int, Optional[np.ndarray], slice]


@dataclass
class Axis:
    """What one axis of the array contributes to a selection."""

    #: Bounding range of the elements selected.
    lo: int
    hi: int
    #: Applied to the bounding range after reading (a step, or reversal).
    post: slice | None = None
    #: The elements selected, in order, when they are not a range.
    idx: np.ndarray | None = None
    #: An integer index: the axis is dropped from the result.
    drop: bool = False

    @property
    def length(self) -> int:
        """Elements selected along this axis."""
        if self.idx is not None:
            return len(self.idx)
        if self.post is None:
            return self.hi - self.lo
        return len(range(*self.post.indices(self.hi - self.lo)))


@dataclass
class Selection:
    """A key resolved against an array's shape and chunks."""

    axes: list[Axis]
    #: Shape of the result (integer axes dropped, ``None`` axes added).
    out_shape: tuple[int, ...]
    #: Whether the result is a scalar rather than a 0-d array: every axis
    #: indexed by an integer and no ``...`` (numpy's rule: ``a[...]`` of a
    #: 0-d array is a 0-d array, ``a[()]`` its element).
    scalar: bool = False
    #: numpy moves the axis of an index array to the front of the result
    #: when integers stand apart from it (``a[0, :, [1, 2]]``): that
    #: axis's position in ``out_shape``, else ``None``.
    lead: int | None = None

    @property
    def numpy_shape(self) -> tuple[int, ...]:
        """Shape of the result as numpy orders it (see ``lead``)."""
        if self.lead is None:
            return self.out_shape
        rest = self.out_shape[: self.lead] + self.out_shape[self.lead + 1 :]
        return (self.out_shape[self.lead], *rest)

    @property
    def is_region(self) -> bool:
        """Whether one region, read whole, is the result."""
        return all(a.idx is None and a.post is None for a in self.axes)

    @property
    def region(self) -> Region:
        """The bounding region ``(start, shape)``."""
        return [a.lo for a in self.axes], [a.hi - a.lo for a in self.axes]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the selection with integer axes kept as length 1."""
        return tuple(a.length for a in self.axes)


def _index(item: Any) -> int | None:
    if isinstance(item, (bool, np.bool_)):
        return None
    try:
        return operator.index(item)
    except TypeError:
        return None


def _wrap(i: int, n: int, axis: int) -> int:
    j = i + n if i < 0 else i
    if not 0 <= j < n:
        raise BoundsError(f"index {i} is out of bounds for axis {axis} with size {n}")
    return j


def _axis_from_slice(s: slice, n: int, chunk: int) -> Axis:
    r = range(*s.indices(n))
    if len(r) == 0:
        start = min(max(r.start, 0), n)
        return Axis(start, start)
    lo, hi = min(r[0], r[-1]), max(r[0], r[-1]) + 1
    if r.step == 1:
        return Axis(lo, hi)
    if abs(r.step) >= chunk:
        # At most one element per chunk: read those chunks only.
        return Axis(lo, hi, idx=np.arange(r.start, r.stop, r.step, dtype=np.int64))
    if r.step > 0:
        return Axis(lo, hi, post=slice(0, hi - lo, r.step))
    return Axis(lo, hi, post=slice(hi - lo - 1, None, r.step))


def _axis_from_array(item: Any, n: int, axis: int) -> Axis:
    arr = np.asarray(item)
    if arr.dtype.kind == "b":
        if arr.ndim != 1 or len(arr) != n:
            raise BoundsError(
                f"boolean index of shape {arr.shape} does not match axis {axis} of size {n}"
            )
        idx = np.flatnonzero(arr).astype(np.int64)
    elif arr.dtype.kind in "iu" or (arr.size == 0 and arr.dtype.kind == "f"):
        if arr.ndim != 1:
            raise BoundsError(
                "index arrays must be 1-d in orthogonal selection; "
                f"axis {axis} got shape {arr.shape}"
            )
        idx = arr.astype(np.int64)
        bad = (idx < -n) | (idx >= n)
        if bad.any():
            raise BoundsError(
                f"index {int(idx[bad][0])} is out of bounds for axis {axis} with size {n}"
            )
        idx = np.where(idx < 0, idx + n, idx)
    else:
        raise BoundsError(
            f"axis {axis}: only integers, slices, integer arrays and boolean masks "
            f"index an array, not {arr.dtype}"
        )
    if len(idx) == 0:
        return Axis(0, 0, idx=idx)
    return Axis(int(idx.min()), int(idx.max()) + 1, idx=idx)


def select(
    key: Any,
    shape: Sequence[int],
    chunks: Sequence[int],
    *,
    orthogonal: bool = False,
) -> Selection:
    """Resolves ``key`` against an array of ``shape`` and ``chunks``.

    Basic indexing accepts at most one index array (numpy's rules then agree
    with orthogonal selection); ``orthogonal=True`` (``.oindex``) accepts one
    per axis and no ``None``.
    """
    items = list(key) if isinstance(key, tuple) else [key]
    ellipses = sum(1 for k in items if k is Ellipsis)
    if ellipses > 1:
        raise BoundsError("an index can only have a single ellipsis ('...')")
    consumed = sum(1 for k in items if k is not None and k is not Ellipsis)
    if consumed > len(shape):
        raise BoundsError(
            f"too many indices: the array has {len(shape)} dimension(s), {consumed} were indexed"
        )
    fill = [slice(None)] * (len(shape) - consumed)
    # Where each item stood in the key: "..." separates index arrays from
    # integers even when it stands for no axis.
    origin = list(range(len(items)))
    if ellipses:
        at = next(i for i, k in enumerate(items) if k is Ellipsis)
        items[at : at + 1] = fill
        origin[at : at + 1] = [at] * len(fill)
    else:
        items.extend(fill)
        origin.extend([len(origin)] * len(fill))

    axes: list[Axis] = []
    out: list[int] = []
    arrays = 0
    advanced: list[int] = []  # positions in the key of integers and index arrays
    array_out = 0
    for pos, item in enumerate(items):
        if item is None:
            if orthogonal:
                raise BoundsError("None (np.newaxis) is not allowed in orthogonal selection")
            out.append(1)
            continue
        axis = len(axes)
        n, chunk = int(shape[axis]), max(int(chunks[axis]), 1)
        i = _index(item)
        if i is not None:
            j = _wrap(i, n, axis)
            axes.append(Axis(j, j + 1, drop=True))
            advanced.append(origin[pos])
            continue
        if isinstance(item, slice):
            a = _axis_from_slice(item, n, chunk)
        elif isinstance(item, (bool, np.bool_)):
            raise BoundsError("a boolean scalar is not an index; use a boolean mask per axis")
        elif isinstance(item, (list, tuple, np.ndarray)):
            arrays += 1
            a = _axis_from_array(item, n, axis)
            advanced.append(origin[pos])
            array_out = len(out)
        else:
            raise BoundsError(
                f"axis {axis}: {type(item).__name__} is not an index "
                "(use integers, slices, ..., None, integer lists or boolean masks)"
            )
        axes.append(a)
        out.append(a.length)
    if arrays > 1 and not orthogonal:
        raise BoundsError(
            "more than one index array: use .oindex for orthogonal selection "
            "(numpy's pointwise rules for several arrays are not supported)"
        )
    apart = arrays == 1 and advanced[-1] - advanced[0] + 1 != len(advanced)
    lead = array_out if apart and not orthogonal else None
    return Selection(axes, tuple(out), scalar=not ellipses and not out, lead=lead)


def _runs(idx: np.ndarray, chunk: int) -> list[Run]:
    """Groups the sorted unique indices ``idx`` into runs over neighbouring
    chunks: ``(lo, hi, positions in the run's range, slice of idx)``."""
    if len(idx) == 0:
        return []
    ids = idx // chunk
    cuts = np.flatnonzero(np.diff(ids) > 1) + 1
    bounds = [0, *cuts.tolist(), len(idx)]
    runs: list[Run] = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        lo, hi = int(idx[a]), int(idx[b - 1]) + 1
        runs.append((lo, hi, idx[a:b] - lo, slice(a, b)))
    return runs


def read(
    sel: Selection,
    chunks: Sequence[int],
    read_many: Callable[[list[Region]], list[np.ndarray]],
    dtype: np.dtype[Any],
) -> np.ndarray:
    """Reads the selection through ``read_many`` (regions, read at once);
    ``dtype`` is the array's, for a selection of nothing."""
    if sel.is_region or all(a.idx is None for a in sel.axes):
        (data,) = read_many([sel.region])
        posts = tuple(a.post if a.post is not None else slice(None) for a in sel.axes)
        if any(a.post is not None for a in sel.axes):
            data = np.ascontiguousarray(data[posts])
        return data.reshape(sel.out_shape)

    uniq: list[np.ndarray | None] = []
    inverse: list[np.ndarray | None] = []
    groups: list[list[Run]] = []
    for a, chunk in zip(sel.axes, chunks):
        if a.idx is None:
            uniq.append(None)
            inverse.append(None)
            groups.append([(a.lo, a.hi, None, slice(0, a.hi - a.lo))])
            continue
        u, inv = np.unique(a.idx, return_inverse=True)
        uniq.append(u)
        inverse.append(None if len(u) == len(a.idx) and (np.diff(a.idx) > 0).all() else inv)
        groups.append(_runs(u, max(int(chunk), 1)))

    combos = list(product(*groups))
    regions: list[Region] = [
        ([g[0] for g in combo], [g[1] - g[0] for g in combo]) for combo in combos
    ]
    parts = read_many(regions) if regions else []
    shape_u = tuple((a.hi - a.lo) if u is None else len(u) for a, u in zip(sel.axes, uniq))
    # No parts: an index list selected nothing, and so does the result.
    out = np.empty(shape_u, dtype=parts[0].dtype if parts else dtype)
    for combo, part in zip(combos, parts):
        for k, g in enumerate(combo):
            picks = g[2]
            if picks is not None:
                part = np.take(part, picks, axis=k)
        out[tuple(g[3] for g in combo)] = part
    for k, order in enumerate(inverse):
        if order is not None:
            out = np.take(out, order, axis=k)
    posts = tuple(a.post if a.post is not None else slice(None) for a in sel.axes)
    if any(a.post is not None for a in sel.axes):
        out = out[posts]
    return np.ascontiguousarray(out).reshape(sel.out_shape)


def write(
    sel: Selection,
    value: np.ndarray,
    chunks: Sequence[int],
    read_many: Callable[[list[Region]], list[np.ndarray]],
    write_region: Callable[[list[int], np.ndarray], None],
) -> None:
    """Writes ``value`` (already shaped like the selection, integer axes
    kept as length 1) into the selection: one region write for a plain
    region, else read-modify-write of the regions the selection touches."""
    if sel.is_region:
        write_region(sel.region[0], value)
        return
    picked = value
    groups: list[list[Run]] = []
    for k, (a, chunk) in enumerate(zip(sel.axes, chunks)):
        if a.idx is not None:
            # A repeated index takes its last value, as in numpy.
            u, from_end = np.unique(a.idx[::-1], return_index=True)
            picked = np.take(picked, len(a.idx) - 1 - from_end, axis=k)
            groups.append(_runs(u, max(int(chunk), 1)))
        elif a.post is not None:
            positions = np.arange(a.hi - a.lo)[a.post]
            order = np.argsort(positions)
            picked = np.take(picked, order, axis=k)
            groups.append([(a.lo, a.hi, positions[order], slice(0, len(positions)))])
        else:
            groups.append([(a.lo, a.hi, None, slice(0, a.hi - a.lo))])
    combos = list(product(*groups))
    regions: list[Region] = [
        ([g[0] for g in combo], [g[1] - g[0] for g in combo]) for combo in combos
    ]
    current = read_many(regions)
    for combo, region, data in zip(combos, regions, current):
        data = np.array(data, copy=True)
        index = np.ix_(*[g[2] if g[2] is not None else np.arange(g[1] - g[0]) for g in combo])
        data[index] = picked[tuple(g[3] for g in combo)]
        write_region(region[0], data)
