"""Array attributes: every kind of value read back as ``_attrs.py``
documents, the mapping protocol, persistence, and refused values."""

from __future__ import annotations

from typing import Any

import arrayformat as af
import numpy as np
import pytest
from _support import reopen

# name: (value written, value read back)
VALUES: dict[str, tuple[Any, Any]] = {
    "bool": (True, True),
    "np_bool": (np.bool_(False), False),
    "int": (-5, -5),
    "int_min": (-(2**63), -(2**63)),
    "float": (1.25, 1.25),
    "str": ("héllo 😀", "héllo 😀"),
    "empty_str": ("", ""),
    "bytes": (b"\x00\xff", b"\x00\xff"),
    "int8": (np.int8(-128), np.int8(-128)),
    "int16": (np.int16(-3), np.int16(-3)),
    "int32": (np.int32(2**31 - 1), np.int32(2**31 - 1)),
    "int64": (np.int64(7), 7),
    "uint8": (np.uint8(255), np.uint8(255)),
    "uint16": (np.uint16(3), np.uint16(3)),
    "uint32": (np.uint32(2**32 - 1), np.uint32(2**32 - 1)),
    "uint64": (np.uint64(2**64 - 1), np.uint64(2**64 - 1)),
    "float32": (np.float32(0.1), np.float32(0.1)),
    "float64": (np.float64(0.1), 0.1),
    "np_str": (np.str_("s"), "s"),
    "np_bytes": (np.bytes_(b"b"), b"b"),
    "zero_dim": (np.array(2.5), 2.5),
    "list_int": ([1, -2, 3], np.array([1, -2, 3], dtype=np.int64)),
    "list_float": ([1.5, 2], np.array([1.5, 2.0])),
    "list_bool": ([True, False], np.array([True, False])),
    "list_str": (["a", "", "ü"], ["a", "", "ü"]),
    "tuple_int": ((4, 5), np.array([4, 5], dtype=np.int64)),
    "array_int16": (np.array([1, 2], dtype="i2"), np.array([1, 2], dtype="i2")),
    "array_uint64": (np.array([2**64 - 1], dtype="u8"), np.array([2**64 - 1], dtype="u8")),
    "array_float32": (np.array([0.5, np.nan], dtype="f4"), np.array([0.5, np.nan], dtype="f4")),
    "array_bool": (np.array([True]), np.array([True])),
    "array_str": (np.array(["x", "yz"]), ["x", "yz"]),
    "array_empty": (np.array([], dtype="i4"), np.array([], dtype="i4")),
}


def assert_attr(got: Any, expected: Any) -> None:
    assert type(got) is type(expected), (got, expected)
    if isinstance(expected, np.ndarray):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    elif isinstance(expected, np.generic):
        assert got.dtype == expected.dtype
        assert got == expected
    else:
        assert got == expected


@pytest.mark.parametrize("key", list(VALUES))
def test_values_read_back_as_documented(path: str, key: str) -> None:
    written, expected = VALUES[key]
    f = af.open(path, "w")
    a = f.create_array("x", (1,), "f8")
    a.attrs[key] = written
    assert_attr(a.attrs[key], expected)
    f.flush()
    assert_attr(a.attrs[key], expected)
    f = reopen(f)
    assert_attr(f["x"].attrs[key], expected)
    f.close()


def test_nan_attribute(new_file: af.File) -> None:
    a = new_file.create_array("x", (1,), "f8")
    a.attrs["nan"] = float("nan")
    assert np.isnan(a.attrs["nan"])


def test_big_python_ints_are_uint64(new_file: af.File) -> None:
    a = new_file.create_array("x", (1,), "f8")
    a.attrs["big"] = 2**63
    a.attrs["bigs"] = [2**63, 1]
    assert a.attrs["big"] == 2**63
    np.testing.assert_array_equal(a.attrs["bigs"], np.array([2**63, 1], dtype=np.uint64))


def test_mapping_protocol(path: str) -> None:
    f = af.open(path, "w")
    a = f.create_array("x", (1,), "f8", attrs={"units": "K", "scale": 2})
    assert dict(a.attrs) == {"scale": 2, "units": "K"}
    assert len(a.attrs) == 2
    assert sorted(a.attrs) == ["scale", "units"]
    assert "units" in a.attrs
    assert "missing" not in a.attrs
    assert 3 not in a.attrs
    assert a.attrs.get("missing", "dflt") == "dflt"
    a.attrs["units"] = "degC"  # overwrite, with another type too
    a.attrs["scale"] = [1.5]
    assert a.attrs["units"] == "degC"
    np.testing.assert_array_equal(a.attrs["scale"], [1.5])
    del a.attrs["scale"]
    assert "scale" not in a.attrs
    assert len(a.attrs) == 1
    with pytest.raises(KeyError):
        a.attrs["scale"]
    with pytest.raises(KeyError):
        del a.attrs["scale"]
    a.attrs.update({"b": 1}, c="two")
    assert a.attrs.asdict() == {"b": 1, "c": "two", "units": "degC"}
    assert "units" in repr(a.attrs)
    f = reopen(f, "r+")
    assert f["x"].attrs.asdict() == {"b": 1, "c": "two", "units": "degC"}
    del f["x"].attrs["b"]
    f = reopen(f)
    assert f["x"].attrs.asdict() == {"c": "two", "units": "degC"}
    f.close()


def test_attributes_belong_to_their_array(new_file: af.File) -> None:
    a = new_file.create_array("a", (1,), "f8", attrs={"k": 1})
    b = new_file.create_array("b", (1,), "f8")
    assert "k" not in b.attrs
    b.attrs["k"] = 2
    assert a.attrs["k"] == 1


def test_attribute_changes_are_pending_until_flush(path: str) -> None:
    with af.open(path, "w") as f:
        f.create_array("x", (1,), "f8", attrs={"k": 1})
    f = af.open(path, "r+")
    f["x"].attrs["k"] = 2
    assert f.has_pending_changes
    with af.open(path) as other:
        assert other["x"].attrs["k"] == 1
    f.discard()
    assert f["x"].attrs["k"] == 1
    f.close()


@pytest.mark.parametrize(
    "bad",
    [
        None,
        {"a": 1},
        1j,
        np.datetime64("2020-01-01"),
        [1, "a"],
        [b"a"],
        [[1]],
        np.zeros((2, 2)),
        np.array([b"a"]),
        2**64,
        -(2**63) - 1,
        [2**64],
        object(),
    ],
    ids=repr,
)
def test_bad_values_are_type_errors(new_file: af.File, bad: Any) -> None:
    a = new_file.create_array("x", (1,), "f8", attrs={"k": "kept"})
    with pytest.raises(TypeError) as e:
        a.attrs["k"] = bad
    assert isinstance(e.value, af.DTypeError)
    assert a.attrs["k"] == "kept"


def test_float16_attributes_are_kept_as_float32(new_file: af.File) -> None:
    a = new_file.create_array("x", (1,), "f8")
    a.attrs["h"] = np.float16(0.1)
    a.attrs["hs"] = np.array([0.5, -2.0], dtype="float16")
    new_file.flush()
    assert a.attrs["h"] == np.float32(np.float16(0.1))
    assert type(a.attrs["h"]) is np.float32
    np.testing.assert_array_equal(a.attrs["hs"], np.array([0.5, -2.0], dtype="float32"))


def test_keys_are_str(new_file: af.File) -> None:
    a = new_file.create_array("x", (1,), "f8")
    with pytest.raises(TypeError):
        a.attrs[1] = 1  # type: ignore[index]


def test_read_only_attributes(path: str) -> None:
    with af.open(path, "w") as f:
        f.create_array("x", (1,), "f8", attrs={"k": 1})
    with af.open(path) as f:
        assert f["x"].attrs["k"] == 1
        with pytest.raises(af.ReadOnlyError):
            f["x"].attrs["k"] = 2
        with pytest.raises(af.ReadOnlyError):
            del f["x"].attrs["k"]
        assert f["x"].attrs["k"] == 1
