"""Junk through every entry point and damaged files: Python exceptions of
the documented kinds, never a Rust panic (``pyo3_runtime.PanicException``,
which is no ``Exception`` and so escapes ``except Exception``), never wrong
data."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable

import arrayformat as af
import numpy as np
import pytest
from _support import HYPOTHESIS
from hypothesis import given
from hypothesis import strategies as st

EXPECTED = (af.ArrayFormatError, TypeError, ValueError, IndexError, KeyError)

JUNK = st.sampled_from(
    [
        None,
        0,
        -1,
        3,
        2**31,
        2**64,
        -(2**70),
        1.5,
        float("nan"),
        "",
        "x",
        "f8",
        b"x",
        True,
        (),
        (2,),
        (-2,),
        (0, 3),
        (2**40, 2**40),
        (1.5,),
        [],
        [[1]],
        [1, "a"],
        {},
        object(),
        Ellipsis,
        slice(None, None, 0),
        slice("a", None),
        np.array([[True]]),
        np.float64(2.0),
        np.array([1, 2]),
        np.array(["a"]),
        np.datetime64("2000-01-01"),
        str,
        bytes,
        object,
    ]
)


def outcome(call: Callable[[], Any]) -> None:
    """Runs ``call``; an exception must be of a documented kind."""
    with contextlib.suppress(EXPECTED):
        call()


@HYPOTHESIS
@given(st.lists(JUNK, min_size=7, max_size=7))
def test_create_array_with_junk(fresh_path: Callable[[], str], args: list[Any]) -> None:
    f = af.open(fresh_path(), "w")
    with f:  # closed unflushed if the test fails
        name, shape, dtype, chunks, fill, dims, codec = args
        outcome(
            lambda: f.create_array(
                name, shape, dtype, chunks=chunks, fill_value=fill, dims=dims, codec=codec
            )
        )
        outcome(lambda: f.__setitem__("d", shape))
        outcome(lambda: f.create_array("e", (3,), "f4", data=fill))


@HYPOTHESIS
@given(JUNK, JUNK, JUNK, st.sampled_from(["f8", "i1", "u8", "bool", "M8[ns]", str, bytes]))
def test_index_write_and_attrs_with_junk(
    fresh_path: Callable[[], str], key: Any, value: Any, other: Any, dtype: Any
) -> None:
    f = af.open(fresh_path(), "w")
    with f:  # closed unflushed if the test fails
        a = f.create_array("x", (3, 4), dtype, chunks=(2, 3))
        outcome(lambda: a[key])
        outcome(lambda: a.oindex[key])
        outcome(lambda: a.__setitem__(key, value))
        outcome(lambda: a.__setitem__(..., value))
        outcome(lambda: a.oindex.__setitem__((key, other), value))
        outcome(lambda: a.attrs.__setitem__(key, value))
        outcome(lambda: a.attrs.__setitem__("k", value))
        outcome(lambda: f[key])
        outcome(lambda: f.__delitem__(key))
        f.flush()


@HYPOTHESIS
@given(JUNK, JUNK, JUNK)
def test_open_with_junk(fresh_path: Callable[[], str], mode: Any, as_of: Any, opts: Any) -> None:
    path = fresh_path()
    af.open(path, "w").close()
    outcome(lambda: af.open(path, mode).close())
    outcome(lambda: af.open(path, as_of=as_of).close())
    outcome(lambda: af.open(path, storage_options=opts).close())
    outcome(lambda: af.open(path, cache_bytes=as_of, io_cache_bytes=opts).close())
    outcome(lambda: af.open(mode).close())


def test_every_byte_flip_is_an_error_or_the_right_data(tmp_path: Path) -> None:
    """Each byte of a two-layer file flipped in turn: opening, reading and
    verifying give an ``ArrayFormatError`` or the right data."""
    path = str(tmp_path / "f.af")
    x = np.arange(40, dtype="i4").reshape(5, 8)
    s = np.array(["a", "bb", "ccc"], dtype=object)
    with af.open(path, "w") as f:
        f.create_array("x", x.shape, "i4", chunks=(2, 8), data=x, attrs={"k": [1, 2]})
        f.create_array("s", (3,), str, data=s)
    with af.open(path, "r+") as f:
        f["x"][4] = -1
    x[4] = -1
    objects = sorted(p for p in os.listdir(tmp_path) if p.endswith(".af"))
    assert objects == ["f.1.af", "f.2.af", "f.af"]
    errors = right = 0
    for name in objects:
        target = tmp_path / name
        good = target.read_bytes()
        for offset in range(0, len(good), 3 if len(good) > 400 else 1):
            target.write_bytes(good[:offset] + bytes([good[offset] ^ 0x5A]) + good[offset + 1 :])
            try:
                with af.open(path) as f:
                    np.testing.assert_array_equal(f["x"][...], x)
                    np.testing.assert_array_equal(f["s"][...], s)
                    assert list(f["x"].attrs["k"]) == [1, 2]
                    f.verify()
                right += 1
            except af.ArrayFormatError:
                errors += 1
        target.write_bytes(good)
    assert errors > 0
    assert right >= 0


@pytest.mark.parametrize("length", [0, 1, 31, 32, 33, 100])
def test_short_and_foreign_files(tmp_path: Path, length: int) -> None:
    path = tmp_path / "f.af"
    path.write_bytes(bytes(range(256))[:length] if length <= 256 else b"")
    with pytest.raises(af.CorruptedError):
        af.open(str(path))
