"""Orthogonal selection (``a.oindex``): per axis an integer list (any
order, repeats, negative), a boolean mask, a slice or an integer, checked
against numpy's ``np.ix_`` on the same data with hypothesis."""

from __future__ import annotations

from typing import Any, Callable

import arrayformat as af
import numpy as np
import pytest
from _strategies import make, orthogonal_keys, shapes_and_chunks, values_for
from _support import HYPOTHESIS, assert_same
from hypothesis import given
from hypothesis import strategies as st


def per_axis(shape: tuple[int, ...], key: tuple) -> tuple[list[np.ndarray], list[int]]:
    """The indices ``key`` picks on every axis, and the axes integers drop."""
    picks, dropped = [], []
    for axis, n in enumerate(shape):
        item = key[axis] if axis < len(key) else slice(None)
        if isinstance(item, slice):
            picks.append(np.arange(n)[item])
        elif isinstance(item, (int, np.integer)):
            picks.append(np.array([item]))
            dropped.append(axis)
        else:
            arr = np.asarray(item)
            picks.append(np.flatnonzero(arr) if arr.dtype == bool else arr.astype(np.intp))
    return picks, dropped


def expected_read(data: np.ndarray, key: tuple) -> Any:
    picks, dropped = per_axis(data.shape, key)
    out = data[np.ix_(*picks)] if picks else data.copy()
    out = out.reshape([len(p) for i, p in enumerate(picks) if i not in dropped])
    return out[()] if len(dropped) == data.ndim else out


def expected_write(data: np.ndarray, key: tuple, value: Any) -> None:
    picks, dropped = per_axis(data.shape, key)
    kept = tuple(len(p) for i, p in enumerate(picks) if i not in dropped)
    full = np.broadcast_to(np.asarray(value, dtype=data.dtype), kept)
    if picks:
        data[np.ix_(*picks)] = full.reshape([len(p) for p in picks])
    else:
        data[()] = full[()]


def setup(path: str, shape, chunks, dtype: np.dtype, seed: int):
    rng = np.random.default_rng(seed)
    data = make(dtype, shape, rng)
    f = af.open(path, "w")
    a = f.create_array("x", shape, str if dtype.kind == "O" else dtype, chunks=chunks)
    a[...] = data
    return f, a, data, rng


DTYPES = [np.dtype("f4"), np.dtype("u1"), np.dtype(object)]


@HYPOTHESIS
@given(st.data(), shapes_and_chunks(), st.sampled_from(DTYPES), st.booleans())
def test_reads_match_numpy(fresh_path: Callable[[], str], data, sc, dtype, commit) -> None:
    shape, chunks = sc
    f, a, expected, _ = setup(fresh_path(), shape, chunks, dtype, 0)
    with f:  # closed unflushed if the test fails
        if commit:
            f.flush()
        for _ in range(5):
            key = data.draw(orthogonal_keys(shape), label="key")
            assert_same(a.oindex[key], expected_read(expected, key))


@HYPOTHESIS
@given(st.data(), shapes_and_chunks(), st.sampled_from(DTYPES), st.booleans())
def test_writes_match_numpy(fresh_path: Callable[[], str], data, sc, dtype, commit) -> None:
    shape, chunks = sc
    f, a, expected, rng = setup(fresh_path(), shape, chunks, dtype, 1)
    with f:  # closed unflushed if the test fails
        if commit:
            f.flush()
        for _ in range(3):
            key = data.draw(orthogonal_keys(shape), label="key")
            value = values_for(data.draw, np.shape(expected_read(expected, key)), dtype, rng)
            expected_write(expected, key, value)
            a.oindex[key] = value
            assert_same(a[...], expected)
        f.flush()
        assert_same(a[...], expected)


def test_example(new_file: af.File) -> None:
    data = np.arange(4 * 5 * 6, dtype="i8").reshape(4, 5, 6)
    a = new_file.create_array("x", data.shape, "i8", chunks=(3, 2, 4), data=data)
    mask = np.array([True, False, False, True, True, False])
    got = a.oindex[[3, -4, 3], 1:4, mask]
    assert_same(got, data[np.ix_([3, 0, 3], [1, 2, 3], [0, 3, 4])])
    assert_same(a.oindex[2, [4, 0]], data[2, [4, 0]])
    assert_same(a.oindex[1, 2, 3], data[1, 2, 3])


def test_repeated_indices_write_the_last_value(new_file: af.File) -> None:
    a = new_file.create_array("x", (5,), "i4", chunks=(2,))
    a.oindex[[1, 3, 1, 1]] = [10, 30, 11, 12]
    a[[4, 4]] = [40, 41]
    expected = np.zeros(5, "i4")
    expected[[1, 3, 1, 1]] = [10, 30, 11, 12]
    expected[[4, 4]] = [40, 41]
    assert_same(a[...], expected)


@pytest.mark.parametrize(
    "key",
    [
        ([0, 4],),
        ([-5],),
        (np.array([True, False]),),
        (np.array([True, False, True, False, True]),),
        (slice(None), slice(None), [0]),
        ([[0, 1]],),
        (np.array([0.5]),),
        (None,),
    ],
    ids=repr,
)
def test_bad_keys_raise_index_error(new_file: af.File, key) -> None:
    a = new_file.create_array("x", (4, 3), "f8")
    with pytest.raises(IndexError):
        a.oindex[key]
    with pytest.raises(IndexError):
        a.oindex[key] = 1.0
