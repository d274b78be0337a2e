"""Strings and byte strings: object arrays, numpy ``U`` and ``S`` arrays,
empty and non-ASCII values, read back as object arrays of ``str`` and
``bytes``."""

from __future__ import annotations

import arrayformat as af
import numpy as np
import pytest
from _support import assert_same, reopen

WORDS = ["", "a", "héllo wörld", "日本語", "😀 emoji", "tab\tnew\nline", "nul\x00inside", "x" * 300]
BLOBS = [b"", b"a", b"\x00", b"\xff\xfe\x00\x01", "é".encode(), b"x" * 300]


def objects(values: list, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    out = np.empty(n, dtype=object)
    out[:] = [values[i % len(values)] for i in range(n)]
    return out.reshape(shape)


SHAPES = [(), (8,), (2, 4), (2, 2, 3), (1, 2, 3, 2)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("values", [WORDS, BLOBS], ids=["str", "bytes"])
def test_object_arrays_round_trip(path: str, shape, values) -> None:
    data = objects(values, shape)
    f = af.open(path, "w")
    f["s"] = data
    assert f["s"].element_type == ("string" if values is WORDS else "binary")
    assert f["s"].dtype == np.dtype(object)
    assert_same(f["s"][...], data)
    f = reopen(f, "r+")
    assert_same(f["s"][...], data)
    f.compact()
    assert_same(f["s"][...], data)
    f.close()


@pytest.mark.parametrize("chunks", [(1, 2), (2, 3), (3, 3)])
@pytest.mark.parametrize("values", [WORDS, BLOBS], ids=["str", "bytes"])
def test_create_then_assign_in_pieces(new_file: af.File, chunks, values) -> None:
    data = objects(values, (3, 5))
    a = new_file.create_array("s", (3, 5), str if values is WORDS else bytes, chunks=chunks)
    a[:2] = data[:2]
    a[2:, ::2] = data[2:, ::2]
    a[2, 1::2] = data[2, 1::2]
    new_file.flush()
    assert_same(a[...], data)
    assert_same(a[1, 2], data[1, 2])


def test_numpy_unicode_arrays_are_stored_as_str(new_file: af.File) -> None:
    data = np.array([["ab", "", "ü€😀"], ["x", "yy", "zzz"]])
    new_file["u"] = data
    assert new_file["u"].element_type == "string"
    assert_same(new_file["u"][...], data.astype(object))
    b = np.array([b"ab", b"", b"\xff"])
    new_file["b"] = b
    assert new_file["b"].element_type == "binary"
    assert_same(new_file["b"][...], b.astype(object))


def test_numpy_string_dtype_arrays_are_stored_as_str(new_file: af.File) -> None:
    string_dtype = getattr(np.dtypes, "StringDType", None)
    if string_dtype is None:
        pytest.skip("numpy < 2 has no StringDType")
    data = np.array(["a", "ü", ""], dtype=string_dtype())
    new_file["t"] = data
    a = new_file.create_array("u", (3,), str)
    a[...] = data
    for name in ("t", "u"):
        assert new_file[name].element_type == "string"
        assert_same(new_file[name][...], np.array(["a", "ü", ""], dtype=object))


def test_dtype_names_for_create(new_file: af.File) -> None:
    assert new_file.create_array("a", (2,), str).element_type == "string"
    assert new_file.create_array("b", (2,), "U7").element_type == "string"
    assert new_file.create_array("c", (2,), bytes).element_type == "binary"
    assert new_file.create_array("d", (2,), "S3").element_type == "binary"
    with pytest.raises(TypeError):
        new_file.create_array("e", (2,), object)


def test_scalars_broadcast_and_zero_dim(new_file: af.File) -> None:
    new_file["s0"] = "héllo"
    assert_same(new_file["s0"][()], "héllo")
    assert_same(new_file["s0"][...], np.array("héllo", dtype=object))
    a = new_file.create_array("s", (2, 3), str)
    a[:, 1] = "mid"
    a[1] = np.array(["p", "q", "r"])
    expected = np.array([["", "mid", ""], ["p", "q", "r"]], dtype=object)
    assert_same(a[...], expected)


def test_default_fill_is_empty(new_file: af.File) -> None:
    assert_same(new_file.create_array("s", (2,), str)[...], np.array(["", ""], dtype=object))
    assert_same(new_file.create_array("b", (2,), bytes)[...], np.array([b"", b""], dtype=object))


@pytest.mark.parametrize(
    ("kind", "bad"),
    [(str, b"bytes"), (str, 1), (str, None), (bytes, "str"), (bytes, 1.5)],
)
def test_other_types_are_refused(new_file: af.File, kind, bad) -> None:
    a = new_file.create_array("s", (2,), kind)
    before = a[...]
    with pytest.raises(TypeError):
        a[0] = bad
    with pytest.raises(TypeError):
        a[...] = np.array([bad, bad], dtype=object)
    assert_same(a[...], before)


def test_mixed_object_arrays_are_refused(new_file: af.File) -> None:
    with pytest.raises(TypeError):
        new_file["m"] = np.array(["a", b"b"], dtype=object)
    with pytest.raises(TypeError):
        new_file["n"] = np.array(["a", 1], dtype=object)
    assert "m" not in new_file
    assert "n" not in new_file
