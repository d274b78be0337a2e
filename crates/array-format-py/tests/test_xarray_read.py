"""Reading through the xarray backend: lazily (opening reads no array data,
a selection reads only the chunks it needs), the encodings it reports, Dask
chunks, outer indexing, ``as_of`` and ``storage_options``, which paths it
claims, and files written by the numpy API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import arrayformat as af
import numpy as np
import pytest
import xarray as xr
from _s3_stub import S3Stub
from _support import HYPOTHESIS
from _xarray_support import assert_identical, open_af
from arrayformat.xarray_backend import ArrayFormatBackendEntrypoint
from hypothesis import given
from hypothesis import strategies as st

DATA = np.arange(6 * 10, dtype="f8").reshape(6, 10)


def sample() -> xr.Dataset:
    lat, lon = np.meshgrid(np.arange(6.0), np.arange(10.0), indexing="ij")
    return xr.Dataset(
        {"v": (("t", "x"), DATA, {"units": "K"}), "w": ("t", np.arange(6, dtype="i4"))},
        coords={
            "x": np.arange(10) * 10,
            "lat": (("t", "x"), lat),
            "lon": (("t", "x"), lon),
            "label": ("t", np.array(list("abcdef"), dtype=object)),
        },
    )


class CountingNative:
    """A file's native handle that records every call reading array data."""

    def __init__(self, native: Any) -> None:
        self._native = native
        self.reads: list[tuple[str, list[Any]]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._native, name)
        if not name.startswith("read"):
            return attr

        def counted(array: str, *args: Any) -> Any:
            self.reads.append((array, list(args)))
            return attr(array, *args)

        return counted

    def arrays_read(self) -> set[str]:
        return {name for name, _ in self.reads}


def counting(path: str) -> tuple[af.File, CountingNative]:
    f = af.open(path)
    native = CountingNative(f._native)
    f._native = native  # type: ignore[assignment]
    return f, native


# -- laziness ---------------------------------------------------------------------


def test_opening_reads_only_index_coordinates_and_one_string(path: str) -> None:
    af.to_arrayformat(sample(), path, encoding={"v": {"chunks": (1, 10)}})
    f, native = counting(path)
    ds = xr.open_dataset(f, engine="arrayformat")
    # As from NetCDF, xarray reads every dimension coordinate, to index it,
    # and the first element of every object variable, to look for cftime
    # objects; nothing else.
    assert native.arrays_read() == {"x", "label"}
    assert [args for name, args in native.reads if name == "label"] == [[[([0], [1])]]]
    native.reads.clear()
    assert ds.v.attrs == {"units": "K"}
    assert dict(ds.sizes) == {"t": 6, "x": 10}
    assert ds.v.encoding["chunks"] == (1, 10)
    assert set(ds.coords) == {"x", "lat", "lon", "label"}
    assert repr(ds)
    assert native.reads == []
    np.testing.assert_array_equal(ds.v.isel(t=[0, 5]).values, DATA[[0, 5]])
    # the two rows, each its own chunk; nothing between them
    assert native.reads == [("v", [[([0, 0], [1, 10]), ([5, 0], [1, 10])]])]
    ds.close()
    assert not f.closed  # the caller's file stays open
    f.close()


def damaged(path: str) -> None:
    """A file whose data frames fail their checksums while its footer, and
    so every array's metadata and attributes, is intact. (No string
    variables, whose first element xarray reads on opening.)"""
    ds = xr.Dataset({"v": (("t", "x"), DATA, {"units": "K"}), "s": ("t", np.arange(6, dtype="i2"))})
    af.to_arrayformat(ds, path)
    layer = os.path.join(os.path.dirname(path), "test.1.af")
    with open(layer, "r+b") as fh:  # the first frame starts the layer
        byte = fh.read(1)
        fh.seek(0)
        fh.write(bytes([byte[0] ^ 0x10]))


def test_a_file_with_damaged_data_opens_and_fails_only_on_reading_values(path: str) -> None:
    damaged(path)
    with xr.open_dataset(path, engine="arrayformat") as ds:
        assert dict(ds.sizes) == {"t": 6, "x": 10}
        assert ds.v.attrs == {"units": "K"}
        assert ds.v.dtype == np.float64
        assert ds.s.dtype == np.int16
        with pytest.raises(af.CorruptedError):
            ds.v.values  # noqa: B018
    with xr.open_dataset(path, engine="arrayformat", chunks={}) as ds:
        total = ds.v.sum()
        with pytest.raises(af.CorruptedError):
            total.compute()


# -- encodings and Dask chunks ------------------------------------------------------


def test_encoding_reports_chunks_and_element_types(path: str) -> None:
    af.to_arrayformat(sample(), path, encoding={"v": {"chunks": (4, 3)}})
    with xr.open_dataset(path, engine="arrayformat") as ds:
        enc = ds.v.encoding
        assert enc["chunks"] == (4, 3)
        assert enc["preferred_chunks"] == {"t": 4, "x": 3}
        assert enc["element_type"] == "f64"
        assert enc["dtype"] == np.float64
        assert ds.w.encoding["element_type"] == "i32"
        assert ds.label.encoding["element_type"] == "string"
        assert ds.encoding["source"] == path
        assert ds.encoding["layer"] == 1


def test_chunks_dict_gives_dask_arrays_in_the_arrays_chunks(path: str) -> None:
    ds = sample()
    af.to_arrayformat(ds, path, encoding={"v": {"chunks": (4, 3)}, "label": {"chunks": (5,)}})
    with xr.open_dataset(path, engine="arrayformat", chunks={}) as got:
        assert got.v.chunks == ((4, 2), (3, 3, 3, 1))
        assert got.label.chunks == ((5, 1),)
        assert got.v.data.name  # a Dask array
        assert_identical(got.compute(), ds)
    with xr.open_dataset(path, engine="arrayformat", chunks={"t": -1}) as got:
        assert got.v.chunks == ((6,), (3, 3, 3, 1))
        np.testing.assert_array_equal(got.v.values, DATA)


# -- outer indexing -----------------------------------------------------------------

SELECTIONS = [
    {"t": [5, 0, 0, 2], "x": slice(None, None, 3)},
    {"t": slice(None, None, -1), "x": [9, 1, 4]},
    {"t": slice(5, 0, -2), "x": -1},
    {"t": 3},
    {"t": np.array([True, False, True, False, False, True])},
    {"t": [], "x": [2]},
]


@pytest.mark.parametrize("selection", SELECTIONS, ids=repr)
def test_isel_reads_the_right_values(path: str, selection: dict[str, Any]) -> None:
    ds = sample()
    af.to_arrayformat(ds, path, encoding={"v": {"chunks": (4, 3)}})
    with xr.open_dataset(path, engine="arrayformat") as got:
        assert_identical(got.isel(selection).load(), ds.isel(selection))


def test_vectorized_indexing(path: str) -> None:
    ds = sample()
    af.to_arrayformat(ds, path, encoding={"v": {"chunks": (4, 3)}})
    pick = {"t": xr.DataArray([0, 5, 5], dims="p"), "x": xr.DataArray([9, 0, 3], dims="p")}
    with xr.open_dataset(path, engine="arrayformat") as got:
        np.testing.assert_array_equal(got.v.isel(pick).values, DATA[[0, 5, 5], [9, 0, 3]])


def axis_index(n: int) -> st.SearchStrategy[Any]:
    slices = st.builds(
        slice,
        st.none() | st.integers(-n - 2, n + 2),
        st.none() | st.integers(-n - 2, n + 2),
        st.none() | st.sampled_from([-3, -2, -1, 1, 2, 5]),
    )
    return st.one_of(
        st.integers(-n, n - 1),
        st.lists(st.integers(-n, n - 1), max_size=6),
        # xarray fails on empty slices with a negative step for every
        # backend (IndexError in indexing._decompose_slice; NetCDF too)
        slices.filter(lambda s: (s.step or 1) > 0 or len(range(n)[s]) > 0),
    )


@HYPOTHESIS
@given(data=st.data())
def test_outer_selections_match_numpy(fresh_path: Any, data: st.DataObject) -> None:
    cube = np.arange(5 * 7 * 4, dtype="i4").reshape(5, 7, 4)
    path = fresh_path()
    with af.open(path, "w") as f:
        f.create_array("c", data=cube, dims=("a", "b", "c"), chunks=(2, 3, 3))
    key = {d: data.draw(axis_index(n), label=d) for d, n in zip("abc", cube.shape)}
    expected = xr.Variable(("a", "b", "c"), cube).isel(key)
    with xr.open_dataset(path, engine="arrayformat") as ds:
        got = ds.c.variable.isel(key)
        assert got.dims == expected.dims
        np.testing.assert_array_equal(got.values, expected.values)


# -- options ------------------------------------------------------------------------


def test_as_of_opens_an_earlier_version(path: str) -> None:
    ds = sample()
    af.to_arrayformat(ds, path)
    with af.open(path, "r+") as f:
        f["v"][0] = -1.0
        del f["w"]
    newest = open_af(path)
    assert (newest.v.values[0] == -1).all()
    assert "w" not in newest
    with xr.open_dataset(path, engine="arrayformat", as_of=1) as old:
        assert old.encoding["layer"] == 1
        assert_identical(old.load(), ds)
    with pytest.raises(af.VersionNotFoundError):
        xr.open_dataset(path, engine="arrayformat", as_of=7)


def test_storage_options_reach_an_object_store(tmp_path: Path, s3: S3Stub) -> None:
    ds = sample()
    af.to_arrayformat(ds, tmp_path / "remote.af", encoding={"v": {"chunks": (2, 5)}})
    url = s3.url("remote.af")
    with xr.open_dataset(url, engine="arrayformat", storage_options=s3.options()) as got:
        assert_identical(got.load(), ds)
    with xr.open_dataset(url, engine="arrayformat", storage_options=s3.options(), chunks={}) as got:
        assert got.v.chunks == ((2, 2, 2), (5, 5))
        np.testing.assert_array_equal(got.v.values, DATA)


def test_guess_can_open(path: str) -> None:
    backend = ArrayFormatBackendEntrypoint()
    for name in ("x.af", "/data/climate.af", "file:///data/x.af", "s3://bucket/key.af"):
        assert backend.guess_can_open(name), name
    assert backend.guess_can_open(Path("dir") / "x.af")
    for other in ("x.nc", "x.zarr", "x.af.nc", "xaf", b"x.af", 3, None):
        assert not backend.guess_can_open(other), other
    af.to_arrayformat(sample(), path)
    with af.open(path) as f:
        assert backend.guess_can_open(f)
    with xr.open_dataset(path) as ds:  # no engine named: the backend claims .af files
        assert_identical(ds.load(), sample())


# -- files of the numpy API ---------------------------------------------------------


def test_arrays_without_dimension_names(path: str) -> None:
    with af.open(path, "w") as f:
        f["grid"] = np.arange(12.0).reshape(3, 4)
        f["row"] = np.arange(4)
        f["scalar"] = np.float32(1.5)
    with xr.open_dataset(path, engine="arrayformat") as ds:
        assert ds.grid.dims == ("dim0", "dim1")
        assert ds.row.dims == ("dim0_4",)  # dim0 is 3 long in grid: renamed
        assert ds.scalar.dims == ()
        assert dict(ds.sizes) == {"dim0": 3, "dim1": 4, "dim0_4": 4}
        np.testing.assert_array_equal(ds.grid.values, np.arange(12.0).reshape(3, 4))
        np.testing.assert_array_equal(ds.row.values, np.arange(4))
        assert ds.scalar.values == np.float32(1.5)


def test_two_arrays_with_dim0_of_different_lengths_make_one_dataset(path: str) -> None:
    with af.open(path, "w") as f:
        f["a"] = np.arange(3)
        f["b"] = np.arange(5.0)
        f["c"] = np.arange(5) * 2
        f["d"] = np.arange(7).astype("u1")
    with xr.open_dataset(path, engine="arrayformat") as ds:
        assert ds.a.dims == ("dim0",)
        assert ds.b.dims == ds.c.dims == ("dim0_5",)
        assert ds.d.dims == ("dim0_7",)
        for name, n in (("a", 3), ("b", 5), ("d", 7)):
            assert ds[name].size == n
        assert ds.d.dtype == np.uint8


def test_named_dimensions_and_coordinates_of_the_numpy_api(path: str) -> None:
    times = np.array(["2000-01-01", "NaT", "2000-01-03"], dtype="datetime64[ns]")
    with af.open(path, "w") as f:
        f.create_array("x", data=np.array([0.5, 1.5, 2.5]), dims=["x"])
        f.create_array("when", (3,), "datetime64[ns]", dims=["x"], fill_value="NaT")
        f["when"][0] = times[0]
        f["when"][2] = times[2]
        f.create_array("name", data=np.array(["a", "bb", ""]), dims=["x"])
        f.create_array("raw", data=np.array([b"\x00", b"", b"z"], dtype=object), dims=["x"])
        f.create_array("flag", data=np.array([True, False, True]), dims=["x"])
    with xr.open_dataset(path, engine="arrayformat") as ds:
        assert list(ds.indexes) == ["x"]
        np.testing.assert_array_equal(ds.when.values, times)
        assert ds.name.dtype == object
        assert list(ds.name.values) == ["a", "bb", ""]
        assert list(ds.raw.values) == [b"\x00", b"", b"z"]
        assert ds.flag.dtype == bool
        assert ds.sel(x=1.5).flag.item() is False
