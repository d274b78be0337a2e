"""The ``Array`` object: metadata, len, numpy conversion, read, stats."""

from __future__ import annotations

import arrayformat as af
import numpy as np
import pytest
from _support import assert_same


def test_metadata(new_file: af.File) -> None:
    a = new_file.create_array(
        "temp", (4, 5, 6), "f4", chunks=(2, 5, 4), dims=("t", "y", "x"), fill_value=np.nan
    )
    assert a.name == "temp"
    assert a.file is new_file
    assert a.shape == (4, 5, 6)
    assert a.chunks == (2, 5, 4)
    assert a.dims == ("t", "y", "x")
    assert a.dtype == np.dtype("float32")
    assert a.element_type == "f32"
    assert np.isnan(a.fill_value)
    assert a.ndim == 3
    assert a.size == 120
    assert a.nbytes == 480
    assert len(a) == 4
    b = new_file.create_array("b", (3,), "u2")
    assert b.dims == ("dim0",)
    assert b.nbytes == 6


def test_default_chunks_hold_at_most_a_mebibyte(new_file: af.File) -> None:
    # The longest axis (the first of equals) is halved until a chunk fits.
    assert new_file.create_array("a", (1000, 1000), "f8").chunks == (250, 500)
    assert new_file.create_array("r", (100, 100_000), "f4").chunks == (100, 1563)
    assert new_file.create_array("b", (10,), "f8").chunks == (10,)
    assert new_file.create_array("e", (0, 3), "f8").chunks == (1, 3)
    assert new_file.create_array("c", (3, 5), "f8", chunks=2).chunks == (2, 2)


def test_zero_dim_arrays(new_file: af.File) -> None:
    new_file["s"] = np.float32(2.5)
    a = new_file["s"]
    assert a.shape == ()
    assert a.ndim == 0
    assert a.size == 1
    assert a.nbytes == 4
    with pytest.raises(TypeError):
        len(a)
    assert_same(a[()], np.float32(2.5))
    assert_same(a.read(), np.array(2.5, dtype="f4"))
    assert_same(np.asarray(a), np.array(2.5, dtype="f4"))
    a[()] = 4
    a[...] = np.array(5, dtype="f4")
    assert_same(a[...], np.array(5, dtype="f4"))


def test_numpy_conversion_and_read(new_file: af.File) -> None:
    data = np.arange(24, dtype="i2").reshape(4, 6)
    a = new_file.create_array("x", data.shape, "i2", chunks=(3, 4), data=data)
    assert_same(np.asarray(a), data)
    assert_same(np.asarray(a, dtype="f8"), data.astype("f8"))
    assert_same(np.array(a), data)
    assert_same(a.read(), data)
    assert_same(np.add(a, 1), data + 1)
    assert_same(np.asarray(new_file.create_array("s", (2,), str)), np.array(["", ""], object))


def test_stats_of_floats_skip_nan(path: str) -> None:
    f = af.open(path, "w")
    a = f.create_array("x", (10,), "f4", chunks=(4,), fill_value=np.nan)
    a[:3] = [1.0, np.nan, -2.0]
    assert a.stats is None  # nothing committed yet
    f.flush()
    s = a.stats
    assert s == {"min": -2.0, "max": 1.0, "null_count": 8, "count": 10}
    assert type(s["min"]) is np.float32
    a[9] = 7.5
    f.flush()
    assert a.stats["max"] == 7.5
    assert a.stats["null_count"] == 7
    f.close()


@pytest.mark.parametrize(
    ("data", "lo", "hi"),
    [
        (np.array([5, -3, 2], dtype="i2"), np.int16(-3), np.int16(5)),
        (np.array([0, 2**64 - 1], dtype="u8"), np.uint64(0), np.uint64(2**64 - 1)),
        (np.array([True, False]), False, True),
        (np.array(["b", "a", "ü"]), "a", "ü"),
        (np.array([b"\xff", b"a"]), b"a", b"\xff"),
        (
            np.array(["2001-01-01", "2000-01-01"], dtype="datetime64[s]"),
            np.datetime64("2000-01-01", "ns"),
            np.datetime64("2001-01-01", "ns"),
        ),
    ],
    ids=lambda v: str(getattr(v, "dtype", v)),
)
def test_stats_of_every_type(new_file: af.File, data: np.ndarray, lo, hi) -> None:
    a = new_file.create_array("x", data=data)
    new_file.flush()
    s = a.stats
    assert_same(s["min"], lo)
    assert_same(s["max"], hi)
    assert s["count"] == len(data)
    assert s["null_count"] == 0


def test_stats_of_only_nan(new_file: af.File) -> None:
    new_file["x"] = np.array([np.nan, np.nan])
    new_file.flush()
    assert new_file["x"].stats == {"min": None, "max": None, "null_count": 0, "count": 2}


def test_stored_bytes(new_file: af.File) -> None:
    a = new_file.create_array("x", (1000,), "f8", chunks=(100,), codec="zstd")
    a[...] = 1.0
    new_file.flush()
    assert 0 < a.stored_bytes < a.nbytes  # constant data compresses
    assert new_file.stored_bytes >= a.stored_bytes


def test_array_follows_the_files_current_view(path: str) -> None:
    with af.open(path, "w") as f:
        f["x"] = np.zeros(3)
    f = af.open(path, "r+")
    a = f["x"]
    del f["x"]
    f.create_array("x", (2, 2), "i1")  # redefined: the same Array object sees it
    assert a.shape == (2, 2)
    assert a.dtype == np.int8
    f.discard()
    assert a.shape == (3,)
    f.close()


def test_an_array_is_data_for_another(new_file: af.File) -> None:
    data = np.arange(20, dtype="f8").reshape(4, 5)
    a = new_file.create_array("a", data.shape, "f8", chunks=(3, 3), data=data)
    b = new_file.create_array("b", data.shape, "f8", chunks=(2, 2))
    b[...] = a
    b[1:3, ::2] = a[:2, ::2]
    expected = data.copy()
    expected[1:3, ::2] = data[:2, ::2]
    assert_same(b[...], expected)
    new_file["c"] = a
    assert_same(new_file["c"][...], data)
