"""Numbers and bools of every width, rank 0 to 4, read back exactly as
numpy holds them: pending, after flush, after reopen, after compact."""

from __future__ import annotations

import arrayformat as af
import numpy as np
import pytest
from _support import assert_same

DTYPES = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float32",
    "float64",
]

# shape, chunks that divide it, chunks that do not
SHAPES = [
    ((), (), ()),
    ((7,), (7,), (3,)),
    ((4, 6), (2, 3), (3, 4)),
    ((2, 3, 5), (1, 3, 5), (2, 2, 2)),
    ((3, 1, 4, 2), (1, 1, 2, 2), (2, 1, 3, 3)),
]


def sample(dtype: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Values of ``dtype`` covering its extremes (and NaN, inf, -0.0 for floats)."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    n = int(np.prod(shape))
    if dt.kind == "b":
        flat = rng.integers(0, 2, n).astype(bool)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        flat = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
        extremes = np.array([info.min, info.max, 0], dtype=dt)
        flat[: min(n, 3)] = extremes[: min(n, 3)]
    else:
        flat = (rng.standard_normal(n) * 1e6).astype(dt)
        special = np.array([np.nan, np.inf, -np.inf, -0.0, np.finfo(dt).max], dtype=dt)
        flat[: min(n, 5)] = special[: min(n, 5)]
    return flat.reshape(shape)


def check_everywhere(f: af.File, name: str, expected: np.ndarray) -> None:
    """``name`` reads as ``expected`` now, after flush, reopen and compact."""
    assert_same(f[name][...], expected)
    f.flush()
    assert_same(f[name][...], expected)
    path = f.path
    f.close()
    with af.open(path, "r+") as g:
        assert_same(g[name][...], expected)
        assert g[name].dtype == expected.dtype
        assert g[name].shape == expected.shape
        g.compact()
        assert_same(g[name][...], expected)
    with af.open(path) as g:
        assert_same(g[name][...], expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "divide", "ragged"), SHAPES, ids=lambda v: str(v))
def test_setitem_round_trip(path: str, dtype: str, shape, divide, ragged) -> None:
    data = sample(dtype, shape)
    f = af.open(path, "w")
    f["x"] = data
    check_everywhere(f, "x", data)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "divide", "ragged"), SHAPES, ids=lambda v: str(v))
@pytest.mark.parametrize("which", ["divide", "ragged"])
def test_create_then_assign_round_trip(
    path: str, dtype: str, shape, divide, ragged, which: str
) -> None:
    data = sample(dtype, shape, seed=1)
    chunks = divide if which == "divide" else ragged
    f = af.open(path, "w")
    a = f.create_array("x", shape, dtype, chunks=chunks)
    assert a.chunks == chunks
    a[...] = data
    check_everywhere(f, "x", data)


@pytest.mark.parametrize("dtype", DTYPES)
def test_create_array_with_data(path: str, dtype: str) -> None:
    data = sample(dtype, (5, 3), seed=2)
    f = af.open(path, "w")
    a = f.create_array("x", data=data, chunks=(2, 2))
    assert a.dtype == data.dtype
    check_everywhere(f, "x", data)


def test_python_lists_and_scalars_take_numpy_dtypes(new_file: af.File) -> None:
    new_file["ints"] = [[1, 2], [3, 4]]
    new_file["floats"] = [1.5, float("nan")]
    new_file["bools"] = [True, False]
    new_file["scalar"] = 7
    assert_same(new_file["ints"][...], np.array([[1, 2], [3, 4]]))
    assert_same(new_file["floats"][...], np.array([1.5, np.nan]))
    assert_same(new_file["bools"][...], np.array([True, False]))
    assert_same(new_file["scalar"][()], np.int64(7))


def test_pieces_written_separately_read_whole(new_file: af.File) -> None:
    expected = sample("float32", (9, 10), seed=3)
    a = new_file.create_array("x", expected.shape, "float32", chunks=(4, 3))
    for i in range(0, 9, 2):
        for j in range(0, 10, 5):
            a[i : i + 2, j : j + 5] = expected[i : i + 2, j : j + 5]
    check_everywhere(new_file, "x", expected)


def test_later_writes_win_across_layers(path: str) -> None:
    expected = np.zeros((6, 6), dtype="i4")
    with af.open(path, "w") as f:
        f.create_array("x", (6, 6), "i4", chunks=(4, 4))
    for k in range(4):
        with af.open(path, "r+") as f:
            f["x"][k : k + 3, k] = k + 1
        expected[k : k + 3, k] = k + 1
    with af.open(path, "r+") as f:
        assert len(f.versions()) == 6
        check_everywhere(f, "x", expected)


@pytest.mark.parametrize(
    "data",
    [
        np.arange(6, dtype=">f8").reshape(2, 3),  # big-endian
        np.asfortranarray(np.arange(12, dtype="i4").reshape(3, 4)),
        np.arange(80, dtype="u2").reshape(8, 10)[::3, ::-2],  # a strided, reversed view
        np.broadcast_to(np.arange(3, dtype="f4"), (4, 3)),  # zero strides
        # Unaligned, as numpy unpickles a buffer sent to a Dask worker.
        np.frombuffer(bytes(1) + np.arange(6, dtype="f8").tobytes(), "f8", offset=1).reshape(2, 3),
        np.frombuffer(bytes(3) + np.arange(6, dtype="i8").tobytes(), "M8[ns]", offset=3).reshape(
            3, 2
        ),
    ],
    ids=["big-endian", "fortran", "strided", "broadcast", "unaligned", "unaligned-time"],
)
def test_any_memory_layout_is_written(path: str, data: np.ndarray) -> None:
    expected = np.ascontiguousarray(data).astype(data.dtype.newbyteorder("="))
    f = af.open(path, "w")
    f["x"] = data
    a = f.create_array("y", data.shape, data.dtype, chunks=(2, 2))
    a[...] = data
    check_everywhere(f, "x", expected)
    with af.open(path) as g:
        assert_same(g["y"][...], expected)
