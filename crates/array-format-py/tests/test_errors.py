"""Every error the API raises has its class in ``arrayformat`` and the
built-in base a Python user catches; none is a Rust panic."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, Callable

import arrayformat as af
import numpy as np
import pytest
from _s3_stub import S3Stub


def test_every_error_is_an_array_format_error() -> None:
    bases = {
        af.ArrayNotFoundError: KeyError,
        af.BoundsError: IndexError,
        af.DTypeError: TypeError,
        af.InvalidValueError: ValueError,
        af.ArrayExistsError: ValueError,
        af.FileMissingError: FileNotFoundError,
        af.FileAlreadyExistsError: FileExistsError,
        af.StorageError: OSError,
        af.VersionNotFoundError: LookupError,
        af.ReadOnlyError: af.InvalidOperationError,
    }
    for cls, base in bases.items():
        assert issubclass(cls, af.ArrayFormatError)
        assert issubclass(cls, base)
    for name in af.__all__:
        obj = getattr(af, name)
        if name.endswith("Error"):
            assert issubclass(obj, af.ArrayFormatError), name


def test_missing_array_is_a_key_error(new_file: af.File) -> None:
    with pytest.raises(KeyError) as e:
        new_file["nope"]
    assert isinstance(e.value, af.ArrayNotFoundError)
    assert "nope" in str(e.value)
    assert not str(e.value).startswith('"')  # a sentence, not a quoted key
    with pytest.raises(af.ArrayNotFoundError):
        del new_file["nope"]
    with pytest.raises(TypeError):
        new_file[0]  # type: ignore[index]


@pytest.mark.parametrize(
    "key", [3, -4, (0, 5), (Ellipsis, -6), (0, 0, 0), ([0, 3],), (np.array([True]),)], ids=repr
)
def test_out_of_bounds_is_an_index_error(new_file: af.File, key: Any) -> None:
    a = new_file.create_array("x", (3, 5), "i4")
    with pytest.raises(IndexError) as e:
        a[key]
    assert isinstance(e.value, af.BoundsError)


@pytest.mark.parametrize(
    ("dtype", "value"),
    [
        ("i4", 1.5),
        ("i4", np.array([1.5])),
        ("i4", True),
        ("u1", 300),
        ("u1", -1),
        ("f4", "text"),
        ("f4", np.array(["a"])),
        ("bool", 2),
        ("datetime64[ns]", np.array([1.0])),
        (str, 3),
        (bytes, "text"),
    ],
    ids=repr,
)
def test_wrong_data_types_are_type_errors(new_file: af.File, dtype: Any, value: Any) -> None:
    a = new_file.create_array("x", (2,), dtype)
    with pytest.raises(TypeError) as e:
        a[0] = value
    assert isinstance(e.value, af.DTypeError)


@pytest.mark.parametrize("dtype", ["c32", "f16", object, "m8[s]", "V4", [("a", "i4")]], ids=repr)
def test_unsupported_dtypes_are_type_errors(new_file: af.File, dtype: Any) -> None:
    with pytest.raises(TypeError) as e:
        new_file.create_array("x", (2,), dtype)
    assert isinstance(e.value, af.DTypeError)
    with pytest.raises(TypeError):
        new_file["y"] = np.zeros(2, dtype=dtype)
    assert list(new_file) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "", "shape": (2,)},
        {"name": "x", "shape": (-1,)},
        {"name": "x", "shape": (2,), "chunks": (0,)},
        {"name": "x", "shape": (2,), "chunks": (-1,)},
        {"name": "x", "shape": (2,), "chunks": (1, 1)},
        {"name": "x", "shape": (2**40,), "chunks": (2**40,)},
        {"name": "x", "shape": (2**64,)},
        {"name": "x", "shape": (4,), "chunks": (2**64,)},
        {"name": "x", "shape": (2,), "fill_value": 2**40},
        {"name": "x", "shape": (2,), "codec": "gzip"},
        {"name": "x", "shape": (2,), "codec": "zstd:99"},
        {"name": "x", "shape": (2,), "dims": ("a", "b")},
    ],
    ids=repr,
)
def test_bad_definitions_are_value_errors(new_file: af.File, kwargs: dict) -> None:
    with pytest.raises(af.InvalidValueError):  # a ValueError
        new_file.create_array(dtype="i4", **kwargs)
    assert list(new_file) == []


def test_non_integer_shapes_are_type_errors(new_file: af.File) -> None:
    with pytest.raises(TypeError):
        new_file.create_array("x", (2.5,), "i4")
    with pytest.raises(TypeError):
        new_file.create_array("x", (2,), "i4", chunks=(1.5,))
    with pytest.raises(TypeError):
        new_file.create_array("x", (2,))  # no dtype and no data


def test_an_existing_name_is_a_value_error(new_file: af.File) -> None:
    new_file["x"] = np.zeros(2)
    with pytest.raises(af.ArrayExistsError):  # a ValueError
        new_file.create_array("x", (3,), "i4")
    with pytest.raises(af.ArrayExistsError):
        new_file["x"] = np.ones(2)
    assert new_file["x"].dtype == np.float64


def test_shape_mismatch_on_write_is_a_value_error(new_file: af.File) -> None:
    a = new_file.create_array("x", (3, 4), "f8")
    with pytest.raises(ValueError, match="cannot be written to a selection of shape"):
        a[...] = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        a[0] = np.zeros(5)


@pytest.mark.parametrize("name", ["x.txt", "", "data.5.af"])
def test_bad_paths_are_value_errors(tmp_path: Path, name: str) -> None:
    with pytest.raises(af.InvalidValueError, match="invalid file path"):
        af.open(str(tmp_path / name) if name else name, "w")


def test_unsupported_urls_are_value_errors() -> None:
    for url in ("ftp://host/x.af", "memory:///x.af"):
        with pytest.raises(af.InvalidValueError, match="invalid file path"):
            af.open(url)
    with pytest.raises(af.InvalidValueError, match="colour"):
        af.open("s3://bucket/x.af", storage_options={"colour": "blue"})


def test_missing_file(path: str) -> None:
    with pytest.raises(FileNotFoundError) as e:
        af.open(path)
    assert isinstance(e.value, af.FileMissingError)


def test_existing_file_with_mode_w_minus(path: str) -> None:
    af.open(path, "w").close()
    with pytest.raises(FileExistsError) as e:
        af.open(path, "w-")
    assert isinstance(e.value, af.FileAlreadyExistsError)


def test_changes_in_mode_r_are_read_only_errors(path: str) -> None:
    with af.open(path, "w") as f:
        f["x"] = np.zeros(2)
    f = af.open(path)
    for change in (
        lambda: f["x"].__setitem__(0, 1.0),
        lambda: f["x"].oindex.__setitem__([0], 1.0),
        lambda: f.__setitem__("y", np.zeros(1)),
        lambda: f.create_array("y", (1,), "i4"),
        lambda: f.__delitem__("x"),
        lambda: f["x"].attrs.__setitem__("k", 1),
        f.flush,
        f.compact,
        f.vacuum,
        f.discard,
    ):
        with pytest.raises(af.ReadOnlyError):
            change()
    f.close()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_damaged_files_are_corrupted_errors(path: str) -> None:
    with af.open(path, "w") as f:
        f.create_array("x", (64,), "i8", chunks=(8,), data=np.arange(64))
    layer = os.path.join(os.path.dirname(path), "test.1.af")
    good = Path(layer).read_bytes()
    # A flipped byte in a frame: the file opens, the read fails.
    Path(layer).write_bytes(bytes([good[0] ^ 1]) + good[1:])
    with af.open(path) as f, pytest.raises(af.CorruptedError):
        f["x"][...]
    # A flipped byte in the footer: the open fails.
    at = len(good) - 40
    Path(layer).write_bytes(good[:at] + bytes([good[at] ^ 1]) + good[at + 1 :])
    with pytest.raises(af.CorruptedError):
        af.open(path)
    # Truncated.
    Path(layer).write_bytes(good[: len(good) // 2])
    with pytest.raises(af.CorruptedError):
        af.open(path)
    # Not an array-format file at all.
    Path(path).write_bytes(b"PK\x03\x04 certainly not a layer" * 4)
    with pytest.raises(af.CorruptedError):
        af.open(path)


def test_a_newer_format_version_is_unsupported(path: str) -> None:
    af.open(path, "w").close()
    raw = bytearray(Path(path).read_bytes())
    trailer = len(raw) - 32
    struct.pack_into("<H", raw, trailer + 12, 99)
    struct.pack_into("<I", raw, trailer + 16, crc32c(bytes(raw[trailer : trailer + 16])))
    Path(path).write_bytes(bytes(raw))
    with pytest.raises(af.UnsupportedVersionError, match="99"):
        af.open(path)


def test_two_writers_changing_one_chunk_conflict(path: str) -> None:
    with af.open(path, "w") as f:
        f.create_array("x", (10,), "i4", chunks=(5,))
    a, b = af.open(path, "r+"), af.open(path, "r+")
    a["x"][0] = 1
    b["x"][4] = 2
    a.flush()
    with pytest.raises(af.ConflictError):
        b.flush()
    b.refresh()
    with pytest.raises(af.ConflictError):
        b.flush()
    b.discard()
    a.close()
    b.close()


def test_two_writers_setting_one_attribute_conflict(path: str) -> None:
    with af.open(path, "w") as f:
        f.create_array("x", (10,), "i4")
    a, b = af.open(path, "r+"), af.open(path, "r+")
    a["x"].attrs["k"] = 1
    b["x"].attrs["k"] = 2
    a.flush()
    b.refresh()
    with pytest.raises(af.ConflictError):
        b.flush()
    b.discard()
    a.close()
    b.close()


def test_a_closed_file_refuses_everything(path: str) -> None:
    f = af.open(path, "w")
    a = f.create_array("x", (3,), "f8")
    f.close()
    calls: list[Callable[[], Any]] = [
        lambda: f["x"],
        lambda: "x" in f,
        lambda: len(f),
        lambda: list(f),
        lambda: f.layer,
        lambda: f.read_only,
        lambda: f.has_pending_changes,
        lambda: f.create_array("y", (1,), "i4"),
        f.flush,
        f.refresh,
        f.compact,
        f.vacuum,
        f.verify,
        f.versions,
        f.discard,
        lambda: a[0],
        lambda: a.__setitem__(0, 1.0),
        lambda: a.oindex[[0]],
        lambda: a.shape,
        lambda: a.attrs["k"],
        lambda: a.stats,
        lambda: np.asarray(a),
    ]
    for call in calls:
        with pytest.raises(af.InvalidOperationError):
            call()
    assert "closed" in repr(f)
    assert "closed" in repr(a)


def test_storage_failures_are_os_errors(tmp_path: Path, s3: S3Stub) -> None:
    with af.open(str(tmp_path / "t.af"), "w") as f:
        f.create_array("x", (32768,), "f8", chunks=(8192,), data=np.arange(32768.0))
    g = af.open(s3.url("t.af"), "r+", storage_options=s3.options(), cache_bytes=0, io_cache_bytes=0)
    g["x"][0] = 1.0
    with pytest.raises(af.StorageError, match="403"):  # an OSError
        g.flush()  # the server refuses writes
    assert g.has_pending_changes
    g.discard()
    s3.refuse_gets = True
    with pytest.raises(af.StorageError):
        g["x"][20000]
    g.close()
