"""CF conventions through the xarray backend are decoded exactly as for
NetCDF: packing (``scale_factor``/``add_offset``), ``_FillValue`` and
``missing_value`` masking, time units and calendars (cftime's too), and the
options that turn decoding off. The same variables are compared with what
xarray reads from a NetCDF file, where a NetCDF engine is installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import arrayformat as af
import cftime
import numpy as np
import pytest
import xarray as xr
from _xarray_support import assert_identical, cftime_decoding, open_af

#: Variables as a file holds them, with their CF attributes, written
#: undecoded by the numpy API (attributes typed as NetCDF types them).
RAW: dict[str, tuple[tuple[str, ...], np.ndarray, dict[str, Any]]] = {
    "packed": (
        ("t", "x"),
        np.array([[0, 10, -999], [5, -1, 32767]], "i2"),
        {
            "scale_factor": np.float32(0.5),
            "add_offset": np.float32(100.0),
            "_FillValue": np.int16(-999),
            "units": "K",
        },
    ),
    "packed64": (
        ("t", "x"),
        np.array([[0, 10, -999], [5, -1, 32767]], "i2"),
        {"scale_factor": np.float64(0.01), "add_offset": np.float64(-5.0)},
    ),
    "fpacked": (
        ("t", "x"),
        np.array([[0, 10, -1], [5, -1, 3]], "f4"),
        {"scale_factor": np.float32(2.0), "add_offset": np.float32(1.0)},
    ),
    "filled": (
        ("t", "x"),
        np.array([[1.0, -9.5, 3.0], [np.nan, 5.0, -9.5]], "f8"),
        {"_FillValue": np.float64(-9.5)},
    ),
    "missing": (
        ("t", "x"),
        np.array([[1, -1, 3], [-1, 5, 7]], "i4"),
        {"missing_value": np.int32(-1)},
    ),
    "days": (
        ("t",),
        np.array([0, 59], "i4"),
        {"units": "days since 2001-01-01", "calendar": "noleap"},
    ),
    "hours360": (
        ("t",),
        np.array([0.5, 59.0], "f8"),
        {"units": "hours since 2000-02-30", "calendar": "360_day"},
    ),
    "seconds": (
        ("t",),
        np.array([0, 86401], "i4"),
        {"units": "seconds since 1970-01-01T00:00:00", "calendar": "standard"},
    ),
    "lat": (("t", "x"), np.arange(6.0).reshape(2, 3), {"units": "degrees_north"}),
    "data": (("t", "x"), np.arange(6.0).reshape(2, 3), {"coordinates": "lat"}),
}

OPTIONS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "mask_and_scale=False": {"mask_and_scale": False},
    "decode_times=False": {"decode_times": False},
    "cftime": cftime_decoding(),
    "drop_variables": {"drop_variables": ["days", "packed"]},
    "decode_coords=False": {"decode_coords": False},
    "decode_cf=False": {"decode_cf": False},
}


def write_raw(path: str) -> None:
    with af.open(path, "w") as f:
        for name, (dims, data, attrs) in RAW.items():
            f.create_array(name, data=data, dims=dims, attrs=attrs)


@pytest.fixture
def raw(path: str) -> str:
    write_raw(path)
    return path


@pytest.fixture
def netcdf_engine() -> str:
    """An installed xarray engine that writes NetCDF."""
    for engine, module in (("scipy", "scipy"), ("netcdf4", "netCDF4")):
        if importlib.util.find_spec(module) is not None:
            return engine
    pytest.skip("no NetCDF engine installed (scipy or netCDF4)")


# -- decoding, value by value -----------------------------------------------


def test_packed_integers_and_floats_are_unpacked(raw: str) -> None:
    ds = open_af(raw)
    assert ds.packed.dtype == np.float32  # float32 scale and offset of int16 data
    np.testing.assert_array_equal(
        ds.packed.values, np.array([[100, 105, np.nan], [102.5, 99.5, 16483.5]], "f4")
    )
    assert ds.packed.attrs == {"units": "K"}
    assert ds.packed.encoding["scale_factor"] == 0.5
    assert ds.packed.encoding["dtype"] == np.int16
    assert ds.packed64.dtype == np.float64
    np.testing.assert_allclose(ds.packed64.values[0], [-5.0, -4.9, -14.99])
    assert ds.fpacked.dtype == np.float32
    np.testing.assert_array_equal(ds.fpacked.values, [[1, 21, -1], [11, -1, 7]])


def test_fill_value_and_missing_value_mask(raw: str) -> None:
    ds = open_af(raw)
    np.testing.assert_array_equal(ds.filled.values, [[1.0, np.nan, 3.0], [np.nan, 5.0, np.nan]])
    assert ds.missing.dtype == np.float64
    np.testing.assert_array_equal(ds.missing.values, [[1, np.nan, 3], [np.nan, 5, 7]])
    assert ds.missing.encoding["missing_value"] == -1


def test_mask_and_scale_false_gives_the_stored_numbers(raw: str) -> None:
    ds = open_af(raw, mask_and_scale=False)
    for name in ("packed", "packed64", "fpacked", "missing"):
        _, data, attrs = RAW[name]
        assert ds[name].dtype == data.dtype
        np.testing.assert_array_equal(ds[name].values, data)
        assert ds[name].attrs == attrs


def test_calendars(raw: str) -> None:
    ds = open_af(raw)
    assert ds.seconds.dtype == np.dtype("datetime64[ns]")
    np.testing.assert_array_equal(
        ds.seconds.values, np.array(["1970-01-01", "1970-01-02T00:00:01"], "datetime64[ns]")
    )
    assert ds.seconds.encoding["units"] == "seconds since 1970-01-01T00:00:00"
    assert list(ds.days.values) == [
        cftime.DatetimeNoLeap(2001, 1, 1),
        cftime.DatetimeNoLeap(2001, 3, 1),  # no 29 February in a noleap year
    ]
    assert list(ds.hours360.values) == [
        cftime.Datetime360Day(2000, 2, 30, 0, 30),
        cftime.Datetime360Day(2000, 3, 2, 11),
    ]
    assert ds.days.encoding["calendar"] == "noleap"


def test_cftime_for_the_standard_calendar_too(raw: str) -> None:
    ds = open_af(raw, **cftime_decoding())
    first = ds.seconds.values[0]
    assert isinstance(first, cftime.datetime)
    assert (first.year, first.month, first.day, first.calendar) == (1970, 1, 1, "standard")


def test_decode_times_false_keeps_numbers_and_units(raw: str) -> None:
    ds = open_af(raw, decode_times=False)
    assert ds.days.dtype == np.int32
    np.testing.assert_array_equal(ds.days.values, [0, 59])
    assert ds.days.attrs == {"units": "days since 2001-01-01", "calendar": "noleap"}
    assert ds.packed.dtype == np.float32  # still unpacked


def test_drop_variables(raw: str) -> None:
    ds = open_af(raw, drop_variables=["packed", "days"])
    assert "packed" not in ds.variables
    assert "days" not in ds.variables
    assert "packed64" in ds.variables
    ds = open_af(raw, drop_variables="lat")
    assert "lat" not in ds.variables
    assert "lat" not in ds.coords


def test_the_coordinates_attribute(raw: str) -> None:
    ds = open_af(raw)
    assert "lat" in ds.coords
    assert "coordinates" not in ds.data.attrs
    assert ds.data.encoding["coordinates"] == "lat"
    ds = open_af(raw, decode_coords=False)
    assert "lat" in ds.data_vars
    assert ds.data.attrs["coordinates"] == "lat"


# -- the same as from NetCDF ---------------------------------------------------


@pytest.mark.filterwarnings("ignore::xarray.SerializationWarning")
@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_raw_variables_decode_as_from_netcdf(tmp_path: Path, options: dict[str, Any]) -> None:
    scipy_io = pytest.importorskip("scipy.io")
    write_raw(str(tmp_path / "raw.af"))
    nc = str(tmp_path / "raw.nc")
    with scipy_io.netcdf_file(nc, "w") as f:
        f.createDimension("t", 2)
        f.createDimension("x", 3)
        for name, (dims, data, attrs) in RAW.items():
            var = f.createVariable(name, data.dtype, dims)
            var[...] = data
            for key, value in attrs.items():
                setattr(var, key, value)
    expected = xr.open_dataset(nc, engine="scipy", **options).load()
    got = open_af(tmp_path / "raw.af", **options)
    assert_identical(got, expected)
    assert set(got.coords) == set(expected.coords)


ENCODED_OPTIONS = ["defaults", "mask_and_scale=False", "decode_times=False", "cftime"]


def decoded() -> xr.Dataset:
    """A decoded dataset with CF encodings for the writers to apply."""
    noleap = xr.date_range("2000-02-27", periods=3, freq="D", calendar="noleap", use_cftime=True)
    ds = xr.Dataset(
        {
            "temp": (("time", "x"), np.array([[280.1, np.nan], [-3.2, 300.0], [0.0, 3000.0]])),
            "rain": (("time", "x"), np.array([[0.5, 1.0], [np.nan, 2.0], [3.0, 4.0]], "f4")),
            "n": ("x", np.array([7, -1], "i4"), {"long_name": "count"}),
            "day360": (
                "time",
                xr.date_range(
                    "2001-02-29", periods=3, freq="D", calendar="360_day", use_cftime=True
                ),
            ),
        },
        coords={"time": noleap, "x": [1.5, 2.5]},
    )
    ds.temp.encoding.update(dtype="int16", scale_factor=0.1, add_offset=273.15, _FillValue=-32767)
    ds.rain.encoding.update(scale_factor=np.float32(0.5), _FillValue=np.float32(-1))
    ds.n.encoding.update(missing_value=np.int32(-1))
    ds.time.encoding.update(units="hours since 2000-01-01", dtype="int32")
    ds.day360.encoding.update(dtype="int32")  # NetCDF3 has no int64
    return ds


@pytest.mark.parametrize("options", [OPTIONS[k] for k in ENCODED_OPTIONS], ids=ENCODED_OPTIONS)
def test_encoded_as_xarray_encodes_netcdf(
    tmp_path: Path, netcdf_engine: str, options: dict[str, Any]
) -> None:
    ds = decoded()
    ds.to_netcdf(tmp_path / "d.nc", engine=netcdf_engine)
    af.to_arrayformat(ds, tmp_path / "d.af")
    with xr.open_dataset(tmp_path / "d.nc", engine=netcdf_engine, **options) as nc:
        expected = nc.load()
    got = open_af(tmp_path / "d.af", **options)
    assert_identical(got, expected)
    for name in ds.variables:
        for key in ("scale_factor", "add_offset", "_FillValue", "missing_value", "units"):
            if key in expected[name].encoding:
                np.testing.assert_array_equal(
                    got[name].encoding[key], expected[name].encoding[key], err_msg=f"{name} {key}"
                )


def test_packed_data_is_stored_packed(path: str) -> None:
    ds = decoded()
    af.to_arrayformat(ds, path)
    with af.open(path) as f:
        temp = f["temp"]
        assert temp.dtype == np.int16
        assert temp.fill_value == -32767
        assert temp[0, 1] == -32767  # NaN
        assert temp.attrs["scale_factor"] == 0.1
        assert temp.attrs["add_offset"] == 273.15
        assert f["time"].attrs["units"] == "hours since 2000-01-01"
        assert f["time"].attrs["calendar"] == "noleap"
        np.testing.assert_array_equal(f["time"][...], [1368, 1392, 1416])
        assert f["day360"].attrs["calendar"] == "360_day"
    got = open_af(path)
    np.testing.assert_allclose(got.temp.values, ds.temp.values, atol=0.05 + 1e-9)
    xr.testing.assert_identical(got.time, ds.time)
    xr.testing.assert_identical(got.day360, ds.day360)
