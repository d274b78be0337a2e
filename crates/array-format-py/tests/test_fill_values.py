"""Fill values: what elements never written read as, for every element
type, pending and committed; bad fill values are ``ValueError``s."""

from __future__ import annotations

import arrayformat as af
import numpy as np
import pytest
from _support import assert_same, reopen

CASES = [
    ("float64", np.nan),
    ("float32", -1.5),
    ("float64", np.inf),
    ("int8", -128),
    ("int64", -(2**63)),
    ("uint8", 255),
    ("uint64", 2**64 - 1),
    ("int32", 7.0),  # an integral float is an integer fill value
    ("bool", True),
    ("datetime64[ns]", np.datetime64("2001-02-03T04:05:06")),
    (str, "n/a"),
    (str, "ünï"),
    (bytes, b"\x00\xff"),
]


@pytest.mark.parametrize(("dtype", "fill"), CASES, ids=[str(c) for c in CASES])
def test_unwritten_elements_read_as_the_fill_value(path: str, dtype, fill) -> None:
    f = af.open(path, "w")
    a = f.create_array("x", (5, 4), dtype, chunks=(2, 3), fill_value=fill)
    expected = np.full((5, 4), fill, dtype=a.dtype)
    assert_same(a[...], expected)
    assert_same(a.fill_value, expected[0, 0])
    # Part written: the rest, inside partly written chunks and in chunks never
    # touched, still reads as the fill value.
    some = a[0:1, 0:2]
    a[3, 1:3] = some[0]
    expected[3, 1:3] = some[0]
    a[4, 3] = some[0, 0]
    expected[4, 3] = some[0, 0]
    assert_same(a[...], expected)
    f = reopen(f, "r+")
    assert_same(f["x"][...], expected)
    assert_same(f["x"].fill_value, expected[0, 0])
    f.compact()
    assert_same(f["x"][...], expected)
    f.close()


@pytest.mark.parametrize(
    ("dtype", "zero"),
    [
        ("float32", np.float32(0)),
        ("uint16", np.uint16(0)),
        ("bool", np.False_),
        ("datetime64[ns]", np.datetime64(0, "ns")),
        (str, ""),
        (bytes, b""),
    ],
)
def test_default_fill_is_the_dtypes_zero(new_file: af.File, dtype, zero) -> None:
    a = new_file.create_array("x", (3,), dtype)
    assert_same(a.fill_value, zero)
    assert_same(a[1], zero)


def test_writing_the_fill_value_reads_back(new_file: af.File) -> None:
    a = new_file.create_array("x", (4,), "f8", chunks=(2,), fill_value=np.nan)
    a[1] = 0.5
    a[2] = np.nan
    new_file.flush()
    assert_same(a[...], np.array([np.nan, 0.5, np.nan, np.nan]))


@pytest.mark.parametrize(
    ("dtype", "fill"),
    [
        ("uint8", 256),
        ("uint8", -1),
        ("uint64", 2**64),
        ("int8", -129),
        ("int64", 2**63),
        ("int32", 1.5),
        ("int32", np.nan),
        ("int32", "seven"),
        ("float32", 1e300),
        ("float64", "not a number"),
        ("bool", "no"),
        ("bool", 2),
        (str, 3),
        (str, b"bytes"),
        (bytes, "str"),
        ("datetime64[ns]", "not a time"),
        ("datetime64[ns]", np.datetime64("3000-01-01")),
    ],
)
def test_bad_fill_values_are_value_errors(new_file: af.File, dtype, fill) -> None:
    with pytest.raises(af.InvalidValueError, match="fill value"):  # a ValueError
        new_file.create_array("x", (3,), dtype, fill_value=fill)
    assert "x" not in new_file


def test_fill_values_show_in_repr(new_file: af.File) -> None:
    new_file.create_array("t", (2,), "f4", fill_value=np.nan)
    new_file.create_array("s", (2,), str, fill_value="-")
    assert "fill=nan" in repr(new_file["t"])
    assert "fill='-'" in repr(new_file["s"])
