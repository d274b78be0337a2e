"""Basic indexing (integers, slices of any step, ``...``, ``None``) read
and written, checked against numpy on the same data with hypothesis."""

from __future__ import annotations

from typing import Any, Callable

import arrayformat as af
import numpy as np
import pytest
from _strategies import basic_keys, make, shapes_and_chunks, values_for
from _support import HYPOTHESIS, assert_same
from hypothesis import given
from hypothesis import strategies as st

DTYPES = [np.dtype("f8"), np.dtype("i2"), np.dtype(object)]


def setup(path: str, shape, chunks, dtype: np.dtype, seed: int, commit: bool):
    """A file holding random data of ``shape``, and the same data in numpy."""
    rng = np.random.default_rng(seed)
    data = make(dtype, shape, rng)
    f = af.open(path, "w")
    a = f.create_array("x", shape, str if dtype.kind == "O" else dtype, chunks=chunks)
    a[...] = data
    if commit:
        f.flush()
    return f, a, data, rng


@HYPOTHESIS
@given(
    st.data(),
    shapes_and_chunks(),
    st.sampled_from(DTYPES),
    st.booleans(),
)
def test_reads_match_numpy(fresh_path: Callable[[], str], data: Any, sc, dtype, commit) -> None:
    shape, chunks = sc
    f, a, expected, _ = setup(fresh_path(), shape, chunks, dtype, 0, commit)
    with f:  # closed unflushed if the test fails
        for _ in range(5):
            key = data.draw(basic_keys(shape), label="key")
            assert_same(a[key], expected[key])


@HYPOTHESIS
@given(
    st.data(),
    shapes_and_chunks(),
    st.sampled_from(DTYPES),
    st.booleans(),
)
def test_writes_match_numpy(fresh_path: Callable[[], str], data: Any, sc, dtype, commit) -> None:
    shape, chunks = sc
    f, a, expected, rng = setup(fresh_path(), shape, chunks, dtype, 1, commit)
    with f:  # closed unflushed if the test fails
        for _ in range(3):
            key = data.draw(basic_keys(shape), label="key")
            value = values_for(data.draw, np.shape(expected[key]), dtype, rng)
            expected[key] = value
            a[key] = value
            assert_same(a[...], expected)
        f.flush()
        assert_same(a[...], expected)


@HYPOTHESIS
@given(st.data(), shapes_and_chunks(max_side=4))
def test_index_errors_exactly_when_numpy_raises(
    fresh_path: Callable[[], str], data: Any, sc
) -> None:
    shape, chunks = sc
    f, a, expected, _ = setup(fresh_path(), shape, chunks, np.dtype("f8"), 2, False)
    with f:  # closed unflushed if the test fails
        for _ in range(5):
            key = data.draw(basic_keys(shape, out_of_bounds=True), label="key")
            if data.draw(st.booleans(), label="extra axis"):
                # One index too many, when the key has no room for it.
                key = (*key, 0) if isinstance(key, tuple) else (key, 0)
            try:
                want = expected[key]
            except IndexError:
                with pytest.raises(IndexError):
                    a[key]
                with pytest.raises(IndexError):
                    a[key] = 1.0
            else:
                assert_same(a[key], want)


@pytest.mark.parametrize(
    "key",
    [
        (1, 2),
        (-1, -1),
        (slice(None, None, -1), 0),
        (Ellipsis, slice(1, None, 2)),
        (None, 1, Ellipsis, None),
        (slice(-100, 100), slice(5, -100, -3)),
        (),
        Ellipsis,
        0,
        -3,
        np.int64(2),
        np.array(1),
    ],
    ids=repr,
)
def test_examples(new_file: af.File, key) -> None:
    expected = np.arange(35, dtype="i4").reshape(5, 7)
    a = new_file.create_array("x", (5, 7), "i4", chunks=(2, 3), data=expected)
    assert_same(a[key], expected[key])


@pytest.mark.parametrize(
    "key",
    [5, -6, (0, 7), (0, -8), (0, 0, 0), (Ellipsis, Ellipsis), 1.0, "a", (slice(None), 1.5)],
    ids=repr,
)
def test_bad_keys_raise_index_error(new_file: af.File, key) -> None:
    a = new_file.create_array("x", (5, 7), "i4")
    with pytest.raises(IndexError):
        a[key]
    with pytest.raises(IndexError):
        a[key] = 1


def test_one_index_list_on_an_axis_matches_numpy(new_file: af.File) -> None:
    expected = np.arange(60, dtype="f4").reshape(3, 4, 5)
    a = new_file.create_array("x", expected.shape, "f4", chunks=(2, 3, 2), data=expected)
    keys = [
        [2, 0, 2],
        (slice(None), [3, -1]),
        (Ellipsis, [4, 0, 4]),
        (1, [0, 3], slice(None, None, -2)),
        (1, slice(None), [4, 0]),  # int and list apart: numpy puts the list's axis first
        (slice(None), np.array([True, False, True, False])),
        (None, [1], 2),
        ([2, 1], Ellipsis, 0, 1),  # "..." of no axis still stands between them
        (None, [], Ellipsis, 0, slice(1, 3)),
    ]
    for key in keys:
        assert_same(a[key], expected[key])


@pytest.mark.parametrize(
    "key",
    [
        np.ones((5, 7), dtype=bool),  # a mask over several axes
        ([0, 1], [2, 3]),  # numpy's pointwise selection by several lists
        True,  # a boolean scalar
        (np.array([[0, 1]]),),  # a 2-d index array
    ],
    ids=["2-d mask", "two lists", "bool scalar", "2-d list"],
)
def test_numpy_keys_beyond_one_list_raise_instead_of_guessing(new_file: af.File, key) -> None:
    a = new_file.create_array("x", (5, 7), "i4")
    with pytest.raises(IndexError):
        a[key]
    with pytest.raises(IndexError):
        a[key] = 1


def test_iteration_yields_rows(new_file: af.File) -> None:
    data = np.arange(12, dtype="i2").reshape(4, 3)
    a = new_file.create_array("x", data.shape, "i2", chunks=(3, 2), data=data)
    rows = list(a)
    assert len(rows) == 4
    for got, want in zip(rows, data):
        assert_same(got, want)
    assert [int(v) for v in new_file.create_array("y", data=np.arange(3))] == [0, 1, 2]
