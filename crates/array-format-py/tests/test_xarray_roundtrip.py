"""Datasets written with ``to_arrayformat`` read back identical through
``xr.open_dataset(path, engine="arrayformat")``: every element type, missing
values, 0-d variables, attributes of every kind, coordinates of every kind,
DataArrays."""

from __future__ import annotations

from typing import Any

import arrayformat as af
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _xarray_support import assert_identical, open_af


def roundtrip(ds: xr.Dataset, path: str, **open_kwargs: Any) -> xr.Dataset:
    af.to_arrayformat(ds, path)
    return open_af(path, **open_kwargs)


# -- element types --------------------------------------------------------

NUMBERS = [
    np.array([1.5, np.nan, -np.inf, 3.0], dtype="float32"),
    np.array([1.5, np.nan, np.inf, -0.0], dtype="float64"),
    *(np.array([-3, 0, 1, 100], dtype=f"int{bits}") for bits in (8, 16, 32, 64)),
    *(np.array([0, 1, 200, 3], dtype=f"uint{bits}") for bits in (8, 16, 32, 64)),
    np.array([np.iinfo("int64").min, -1, 0, np.iinfo("int64").max]),
    np.array([0, 1, 2, np.iinfo("uint64").max], dtype="uint64"),
    np.array([True, False, False, True]),
]


@pytest.mark.parametrize("data", NUMBERS, ids=lambda a: f"{a.dtype}")
def test_numbers_and_bools(path: str, data: np.ndarray) -> None:
    ds = xr.Dataset({"v": ("x", data), "m": (("y", "x"), np.stack([data, data[::-1]]))})
    assert_identical(roundtrip(ds, path), ds)


def test_strings_and_bytes(path: str) -> None:
    ds = xr.Dataset(
        {
            "s": ("x", np.array(["a", "", "élan", "x" * 300], dtype=object)),
            "b": ("x", np.array([b"a", b"", b"\x00\xff", b"z" * 300], dtype=object)),
            "grid": (("y", "z"), np.array([["ab", "c"], ["", "日本"]], dtype=object)),
        }
    )
    assert_identical(roundtrip(ds, path), ds)


def test_fixed_width_strings_read_back_as_objects(path: str) -> None:
    ds = xr.Dataset(
        {"u": ("x", np.array(["a", "bb", ""])), "b": ("x", np.array([b"a", b"", b"c"]))}
    )
    got = roundtrip(ds, path)
    expected = ds.astype(object)
    assert_identical(got, expected)


def test_datetime64_ns_with_nat(path: str) -> None:
    times = np.array(
        ["2000-01-01", "NaT", "1969-12-31T23:59:59.123456789", "2262-01-01"],
        dtype="datetime64[ns]",
    )
    ds = xr.Dataset({"t": ("x", times)}, coords={"time": ("time", times[[0, 2, 3]])})
    assert_identical(roundtrip(ds, path), ds)


def test_pandas_microsecond_times(path: str) -> None:
    """pandas 3 makes ``datetime64[us]``; xarray decodes times to
    nanoseconds by default, as from NetCDF, and to microseconds when told."""
    index = pd.date_range("2001-02-03", periods=5, freq="37min", unit="us")
    ds = xr.Dataset({"v": ("time", np.arange(5.0))}, coords={"time": index})
    ds["when"] = ("x", np.array(["2020-01-01T00:00:00.000001", "NaT"], dtype="datetime64[us]"))
    got = roundtrip(ds, path)
    xr.testing.assert_identical(got, ds)
    assert got.time.dtype.kind == "M"
    assert got.when.dtype.kind == "M"
    coder = getattr(getattr(xr, "coders", None), "CFDatetimeCoder", None)
    try:
        in_us = coder(time_unit="us") if coder is not None else None
    except TypeError:  # an xarray whose times are always nanoseconds
        in_us = None
    if in_us is not None:
        assert_identical(open_af(path, decode_times=in_us), ds)


def test_timedelta64(path: str) -> None:
    deltas = np.array([0, 1500, -(10**12), 2**40], dtype="timedelta64[ms]")
    ds = xr.Dataset({"d": ("x", deltas), "n": ("y", np.array([1, "NaT"], dtype="timedelta64[s]"))})
    got = roundtrip(ds, path, decode_timedelta=True)
    xr.testing.assert_identical(got, ds)
    assert got.d.dtype.kind == got.n.dtype.kind == "m"


def test_zero_dimensional_variables(path: str) -> None:
    ds = xr.Dataset(
        {
            "f": ((), np.float32(2.5)),
            "nan": ((), np.nan),
            "i": ((), np.int16(-7)),
            "b": ((), True),
            "s": ((), "word"),
            "t": ((), np.datetime64("2024-02-29T12:00", "ns")),
        }
    )
    ds["s"] = ds.s.astype(object)
    assert_identical(roundtrip(ds, path), ds)


def test_empty_variables(path: str) -> None:
    ds = xr.Dataset({"v": (("x", "y"), np.zeros((0, 3), "f4")), "s": ("z", np.array([], "U1"))})
    assert_identical(roundtrip(ds, path), ds.assign(s=ds.s.astype(object)))


# -- missing values ---------------------------------------------------------


def test_nan_fill_values_on_variables_and_coordinates(path: str) -> None:
    ds = xr.Dataset(
        {"v": ("x", np.array([1.0, np.nan, 3.0], "f4"))},
        coords={"x": [0.5, np.nan, 2.0], "aux": ("x", [np.nan, 1.0, np.nan])},
    )
    ds.v.encoding["_FillValue"] = np.float32(np.nan)
    got = roundtrip(ds, path)
    assert_identical(got, ds)
    f = af.open(path)
    for name in ("v", "x", "aux"):
        assert np.isnan(f[name].fill_value), name
        assert np.isnan(f[name].attrs["_FillValue"]), name
        assert np.isnan(got[name].encoding["_FillValue"]), name
    f.close()


def test_integer_fill_value_masks(path: str) -> None:
    ds = xr.Dataset({"v": ("x", np.array([1.0, np.nan, 3.0]))})
    af.to_arrayformat(ds, path, encoding={"v": {"dtype": "int32", "_FillValue": -1}})
    with af.open(path) as f:
        np.testing.assert_array_equal(f["v"][...], np.array([1, -1, 3], "int32"))
        assert f["v"].fill_value == -1
    assert_identical(open_af(path), ds)


def test_strings_with_missing_values_are_written_as_netcdf_writes_them(path: str) -> None:
    """As xarray writes NetCDF: a missing string becomes ""."""
    ds = xr.Dataset(
        {
            "s": ("x", np.array(["a", None, "c", np.nan], dtype=object)),
            "b": ("x", np.array([b"a", None, b"c", b"d"], dtype=object)),
        }
    )
    got = roundtrip(ds, path)
    np.testing.assert_array_equal(got.s.values, np.array(["a", "", "c", ""], dtype=object))
    np.testing.assert_array_equal(got.b.values, np.array([b"a", b"", b"c", b"d"], dtype=object))


# -- attributes -------------------------------------------------------------

ATTRS: dict[str, Any] = {
    "str": "text é",
    "empty": "",
    "int": 3,
    "big": 2**62,
    "float": 2.5,
    "bool": True,
    "bytes": b"\x00raw",
    **{f"i{bits}": np.dtype(f"int{bits}").type(-(2 ** (bits - 1))) for bits in (8, 16, 32, 64)},
    **{f"u{bits}": np.dtype(f"uint{bits}").type(2**bits - 1) for bits in (8, 16, 32, 64)},
    "f32": np.float32(0.1),
    "f64": np.float64(1e300),
    "nan": np.nan,
    "ints": [1, 2, 3],
    "floats": [1.5, -2.0],
    "strs": ["a", "bc"],
    "bools": [True, False],
    "arr_i16": np.array([1, -2], dtype="int16"),
    "arr_u8": np.array([255], dtype="uint8"),
    "arr_f32": np.array([0.5, 0.25], dtype="float32"),
    "arr_f64": np.arange(3.0),
}


def test_attributes_of_every_kind(path: str) -> None:
    ds = xr.Dataset(
        {"v": ("x", np.arange(3.0), ATTRS)},
        coords={"x": ("x", [1, 2, 3], {"units": "m", "positive": "up", "valid": [0, 10]})},
    )
    got = roundtrip(ds, path)
    assert_identical(got, ds)
    attrs = got.v.attrs
    # numpy scalars keep their width; 64-bit ones come back as Python numbers
    for key in ("i8", "i16", "i32", "u8", "u16", "u32", "u64", "f32"):
        assert type(attrs[key]) is type(ATTRS[key]), key
    for key in ("arr_i16", "arr_u8", "arr_f32", "arr_f64"):
        assert attrs[key].dtype == ATTRS[key].dtype, key
    assert attrs["strs"] == ["a", "bc"]


def test_attributes_that_cannot_be_stored_are_refused(path: str) -> None:
    ds = xr.Dataset({"v": ("x", np.arange(3.0), {"nested": {"a": 1}})})
    with pytest.raises(TypeError):
        af.to_arrayformat(ds, path)


# -- coordinates --------------------------------------------------------------


def test_two_dimensional_coordinates(path: str) -> None:
    lat, lon = np.meshgrid(np.linspace(-60, 60, 3), np.linspace(0, 350, 4), indexing="ij")
    ds = xr.Dataset(
        {"temp": (("y", "x"), np.arange(12.0).reshape(3, 4), {"units": "K"})},
        coords={
            "lat": (("y", "x"), lat, {"units": "degrees_north"}),
            "lon": (("y", "x"), lon, {"units": "degrees_east"}),
            "y": [10, 20, 30],
        },
    )
    got = roundtrip(ds, path)
    assert_identical(got, ds)
    assert set(got.coords) == {"lat", "lon", "y"}
    with af.open(path) as f:
        assert set(f["temp"].attrs["coordinates"].split()) == {"lat", "lon"}
        assert f["lat"].dims == ("y", "x")


def test_non_dimension_coordinates(path: str) -> None:
    ds = xr.Dataset(
        {"v": ("x", np.arange(3.0)), "w": (("x", "y"), np.ones((3, 2)))},
        coords={
            "x": [10, 20, 30],
            "label": ("x", np.array(["a", "b", "c"], dtype=object)),
            "height": ((), 2.0),
        },
    )
    got = roundtrip(ds, path)
    assert_identical(got, ds)
    assert set(got.coords) == {"x", "label", "height"}
    assert set(got.data_vars) == {"v", "w"}


def test_a_named_data_array(path: str) -> None:
    da = xr.DataArray(
        np.arange(6, dtype="i2").reshape(2, 3),
        dims=("y", "x"),
        coords={"x": [1.5, 2.5, 3.5], "label": ("y", np.array(["p", "q"], dtype=object))},
        name="counts",
        attrs={"units": "1"},
    )
    af.to_arrayformat(da, path)
    with xr.open_dataarray(path, engine="arrayformat") as got:
        xr.testing.assert_identical(got.load(), da)
        assert got.dtype == da.dtype


def test_an_unnamed_data_array(path: str) -> None:
    da = xr.DataArray(np.arange(4.0), dims="x")
    af.to_arrayformat(da, path)
    with xr.open_dataarray(path, engine="arrayformat") as got:
        assert got.name is None
        xr.testing.assert_identical(got.load(), da)


# -- what needs file attributes ----------------------------------------------


def test_dataset_attributes(path: str) -> None:
    ds = xr.Dataset(
        {"v": ("x", np.arange(3.0))},
        attrs={"title": "t", "version": np.int16(2), "levels": [1, 2], "Conventions": "CF-1.8"},
    )
    assert_identical(roundtrip(ds, path), ds)


def test_coordinates_of_no_data_variable(path: str) -> None:
    """CF lists them in the dataset's ``coordinates`` attribute."""
    ds = xr.Dataset({"v": ("x", np.arange(3.0))}, coords={"station": ("s", ["a", "b"])})
    ds["station"] = ds.station.astype(object)
    assert_identical(roundtrip(ds, path), ds)
