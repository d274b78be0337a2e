"""Hypothesis strategies: array shapes and chunks, numpy index expressions."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st


@st.composite
def shapes_and_chunks(draw: Any, max_rank: int = 4, max_side: int = 6) -> tuple:
    """A shape of rank 0 to ``max_rank`` (zero-length axes included) and
    chunks that may or may not divide it, or exceed it."""
    rank = draw(st.integers(0, max_rank))
    shape = tuple(draw(st.lists(st.integers(0, max_side), min_size=rank, max_size=rank)))
    chunks = tuple(draw(st.integers(1, max(n, 1) + 1)) for n in shape)
    return shape, chunks


def slices(n: int) -> st.SearchStrategy[slice]:
    """Slices with any start, stop and step, bounds beyond the axis too."""
    bound = st.none() | st.integers(-n - 3, n + 3)
    step = st.none() | st.integers(-4, 4).filter(lambda s: s != 0)
    return st.builds(slice, bound, bound, step)


def ints(n: int, out_of_bounds: bool = False) -> st.SearchStrategy[int]:
    """Integers inside the axis (negative too); with ``out_of_bounds``, a
    little outside it as well."""
    if out_of_bounds:
        return st.integers(-n - 2, n + 1)
    return st.integers(-n, n - 1)


def int_lists(n: int) -> st.SearchStrategy[list[int]]:
    """Integer lists in any order, with repeats and negative indices."""
    return st.lists(st.integers(-n, n - 1), max_size=7) if n else st.just([])


def masks(n: int) -> st.SearchStrategy[np.ndarray]:
    return st.lists(st.booleans(), min_size=n, max_size=n).map(lambda v: np.array(v, dtype=bool))


@st.composite
def basic_keys(draw: Any, shape: tuple[int, ...], out_of_bounds: bool = False) -> Any:
    """A numpy index for ``shape``: integers, slices, at most one ``...``,
    any number of ``None`` and, unless ``out_of_bounds``, sometimes one
    integer list or boolean mask; a bare item or a tuple."""
    rank = len(shape)
    used = draw(st.integers(0, rank))
    ellipsis = draw(st.booleans())
    # Which axes the items stand for: the first `used` ones, or with an
    # ellipsis some at the front and the rest at the back.
    front = draw(st.integers(0, used)) if ellipsis else used
    axes = list(range(front)) + list(range(rank - (used - front), rank))
    items: list[Any] = []
    for axis in axes:
        n = shape[axis]
        # No integer indexes an empty axis, unless out of bounds is wanted.
        items.append(draw(ints(n, out_of_bounds) | slices(n) if n or out_of_bounds else slices(n)))
    if items and not out_of_bounds and draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(items) - 1))
        n = shape[axes[at]]
        items[at] = draw(int_lists(n) | masks(n))
    if ellipsis:
        items.insert(front, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    if len(items) == 1 and draw(st.booleans()):
        return items[0]
    return tuple(items)


@st.composite
def orthogonal_keys(draw: Any, shape: tuple[int, ...]) -> tuple:
    """An ``oindex`` key: per axis an integer, a slice, an integer list or a
    boolean mask; sometimes fewer items than axes."""
    items: list[Any] = []
    for n in shape[: draw(st.integers(0, len(shape)))]:
        options = [slices(n), int_lists(n), masks(n), int_lists(n).map(np.array)]
        if n:
            options.append(ints(n))
        items.append(draw(st.one_of(options)))
    return tuple(items)


def values_for(draw: Any, shape: tuple[int, ...], dtype: np.dtype, rng: np.random.Generator) -> Any:
    """A value to assign to a selection of ``shape``: a scalar, or an array
    that broadcasts to it (trailing axes, some of length 1)."""
    kind = draw(st.sampled_from(["scalar", "full", "broadcast"]))
    if kind == "scalar":
        value = make(dtype, (), rng)
    elif kind == "full":
        value = make(dtype, shape, rng)
    else:
        keep = draw(st.integers(0, len(shape)))
        sub = tuple(1 if draw(st.booleans()) else n for n in shape[len(shape) - keep :])
        value = make(dtype, sub, rng)
    # A 0-d object array assigned with numpy becomes an element itself.
    return value[()] if value.ndim == 0 else value


def make(dtype: np.dtype, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Random data of ``dtype`` (object means str)."""
    if dtype.kind == "O":
        words = ["", "a", "bc", "déf", "ghij"]
        out = np.empty(shape, dtype=object)
        out[...] = np.array(words, dtype=object)[rng.integers(0, len(words), shape)]
        return out
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(-100, 100, shape).astype(dtype)
