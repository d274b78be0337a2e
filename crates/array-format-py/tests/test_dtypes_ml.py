"""The 16-bit floats and complex numbers from numpy: float16, bfloat16
(through ml_dtypes) and complex64/complex128 read back exactly, with fill
values, statistics (none for complex numbers), pipelines that suit them,
and through xarray."""

from __future__ import annotations

import arrayformat as af
import ml_dtypes
import numpy as np
import pytest
import xarray as xr

BF16 = np.dtype(ml_dtypes.bfloat16)


def values(dtype: np.dtype) -> np.ndarray:
    i = np.arange(60).reshape(6, 10)
    if dtype.kind == "c":
        return (np.sin(i / 7) + 1j * np.cos(i / 3)).astype(dtype)
    return (np.sin(i / 7) * 100).astype(dtype)


DTYPES = [np.dtype("float16"), BF16, np.dtype("complex64"), np.dtype("complex128")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("codec", [None, "lz4", "none"])
def test_values_read_back_exactly(path: str, dtype: np.dtype, codec: str | None) -> None:
    data = values(dtype)
    data[0, 0] = np.nan
    with af.open(path, "w") as f:
        f.create_array("a", data.shape, dtype, chunks=(4, 4), codec=codec, data=data)
    with af.open(path) as f:
        a = f["a"]
        assert a.dtype == dtype
        got = a[...]
        assert got.dtype == dtype
        assert got.tobytes() == data.tobytes()
        assert a[2, 3] == data[2, 3]
        np.testing.assert_array_equal(a[1:5, 2:9], data[1:5, 2:9])


def test_kinds_and_default_pipelines(new_file: af.File) -> None:
    for dtype, kind_codec in [
        ("float16", "pco:8"),
        (BF16, "shuffle+zstd:3"),
        ("complex64", "shuffle+zstd:3"),
        ("complex128", "shuffle+zstd:3"),
    ]:
        name = str(np.dtype(dtype))
        a = new_file.create_array(name, (4,), dtype)
        assert a.codec == kind_codec
    a = new_file.create_array("p", (4,), "float16", codec="pco", filters=["bitround:5"])
    assert a.codec == "bitround:5+pco:8"
    with pytest.raises(af.InvalidValueError, match="pco compresses numbers"):
        new_file.create_array("q", (4,), BF16, codec="pco")
    with pytest.raises(af.InvalidValueError, match="differences of integers"):
        new_file.create_array("r", (4,), "complex64", filters=["delta"])


def test_fill_values_and_statistics(path: str) -> None:
    with af.open(path, "w") as f:
        h = f.create_array("h", (6,), "float16", chunks=(3,), fill_value=-1)
        h[:3] = np.array([0.5, -1.0, 2.0], dtype="float16")
        c = f.create_array("c", (4,), "complex64", chunks=(2,), fill_value=1 - 2j)
        c[:2] = np.array([3 + 1j, 1 - 2j], dtype="complex64")
    with af.open(path) as f:
        assert f["h"].fill_value == np.float16(-1)
        assert f["c"].fill_value == np.complex64(1 - 2j)
        np.testing.assert_array_equal(f["c"][...], np.array([3 + 1j, 1 - 2j, 1 - 2j, 1 - 2j], "c8"))
        assert f["h"].stats == {"min": 0.5, "max": 2.0, "null_count": 4, "count": 6}
        assert f["c"].stats == {"min": None, "max": None, "null_count": 3, "count": 4}
    with af.open(path, "a") as f, pytest.raises(af.InvalidValueError):
        f.create_array("bad", (2,), "float16", fill_value=1e6)


def test_xarray_round_trip(tmp_path: object) -> None:
    ds = xr.Dataset(
        {
            "h": (("y", "x"), values(np.dtype("float16"))),
            "z": (("y", "x"), values(np.dtype("complex128"))),
        }
    )
    target = str(tmp_path) + "/ds.af"  # type: ignore[operator]
    af.to_arrayformat(ds, target)
    back = xr.open_dataset(target, engine="arrayformat")
    xr.testing.assert_identical(back.load(), ds)
    back.close()
