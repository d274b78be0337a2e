"""``af.to_arrayformat``: encodings, modes, what is refused (and that a
refused write leaves an existing file as it was), Dask-backed datasets
written with threads, ``compute=False``, and failed Dask computations, which
commit nothing."""

from __future__ import annotations

import gc
import warnings
from typing import Any, Callable

import arrayformat as af
import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from _xarray_support import assert_identical, open_af
from dask.delayed import Delayed

DATA = np.linspace(-5, 5, 6 * 10).reshape(6, 10)


def sample() -> xr.Dataset:
    return xr.Dataset(
        {"v": (("t", "x"), DATA, {"units": "K"}), "n": ("t", np.arange(6, dtype="i8"))},
        coords={"x": np.arange(10) * 0.5},
    )


def layers(path: str) -> list[int]:
    with af.open(path) as f:
        return [v["layer"] for v in f.versions()]


def contents(path: str) -> dict[str, np.ndarray]:
    with af.open(path) as f:
        return {name: f[name][...] for name in f}


def assert_contents(path: str, expected: dict[str, np.ndarray]) -> None:
    got = contents(path)
    assert sorted(got) == sorted(expected)
    for name, data in expected.items():
        np.testing.assert_array_equal(got[name], data, err_msg=name)


# -- encoding ---------------------------------------------------------------------


def test_encoding_is_honoured(path: str) -> None:
    ds = sample()
    ds["v"][0, 0] = np.nan
    encoding = {
        "v": {
            "chunks": (2, 5),
            "codec": "zstd",
            "dtype": "int16",
            "scale_factor": 0.1,
            "_FillValue": -999,
        },
        "n": {"chunks": (4,), "dtype": "int8"},
    }
    af.to_arrayformat(ds, path, encoding=encoding)
    with af.open(path) as f:
        v = f["v"]
        assert v.chunks == (2, 5)
        assert v.dtype == np.int16
        assert v.fill_value == -999
        assert v.dims == ("t", "x")
        assert v.attrs.asdict() == {"units": "K", "scale_factor": 0.1, "_FillValue": -999}
        assert v[0, 0] == -999
        np.testing.assert_array_equal(v[1:], np.round(DATA[1:] / 0.1).astype("i2"))
        assert f["n"].chunks == (4,)
        assert f["n"].dtype == np.int8
    got = open_af(path)
    np.testing.assert_allclose(got.v.values, ds.v.values, atol=0.05 + 1e-9)
    assert got.v.encoding["chunks"] == (2, 5)
    assert got.v.encoding["scale_factor"] == 0.1
    assert got.v.encoding["dtype"] == np.int16
    np.testing.assert_array_equal(got.n.values, ds.n.values)


def test_the_encoding_a_file_was_read_with_is_written_again(tmp_path: Any) -> None:
    ds = sample()
    first, second = str(tmp_path / "a.af"), str(tmp_path / "b.af")
    af.to_arrayformat(ds, first, encoding={"v": {"chunks": (3, 4), "dtype": "f4"}})
    af.to_arrayformat(open_af(first), second)
    with af.open(second) as f:
        assert f["v"].chunks == (3, 4)
        assert f["v"].dtype == np.float32
    xr.testing.assert_identical(open_af(second), open_af(first))


def test_the_codec_is_honoured(tmp_path: Any) -> None:
    ds = xr.Dataset({"v": ("x", np.repeat(np.arange(100.0), 400))})
    sizes = {}
    for codec, recorded in (("none", "none"), ("zstd:19", "shuffle+zstd:19")):
        target = str(tmp_path / f"{codec.replace(':', '')}.af")
        af.to_arrayformat(ds, target, encoding={"v": {"codec": codec}})
        with af.open(target) as f:
            sizes[codec] = f["v"].stored_bytes
            assert f["v"].codec == recorded
    assert sizes["none"] >= ds.v.nbytes
    assert sizes["zstd:19"] < sizes["none"] // 10


@pytest.mark.parametrize(
    ("encoding", "match"),
    [
        ({"v": {"compressor": "zstd"}}, "unknown encoding"),
        ({"v": {"chunks": (2,)}}, "chunks"),
        ({"v": {"chunks": (0, 5)}}, "chunks"),
        ({"v": {"codec": "brotli"}}, "codec"),
        ({"nope": {"chunks": (1,)}}, "nope"),
    ],
    ids=["unknown key", "chunks of too few dimensions", "empty chunks", "codec", "no variable"],
)
def test_bad_encodings_are_value_errors(path: str, encoding: dict[str, Any], match: str) -> None:
    af.to_arrayformat(sample(), path)
    with pytest.raises(ValueError, match=match):
        af.to_arrayformat(xr.Dataset({"v": (("t", "x"), -DATA)}), path, encoding=encoding)
    assert_identical(open_af(path), sample())  # the file was not touched


# -- modes ------------------------------------------------------------------------


def test_mode_w_replaces_a_file(path: str) -> None:
    with af.open(path, "w") as f:
        f["old"] = np.arange(3)
    af.to_arrayformat(sample(), path, mode="w")
    assert_identical(open_af(path), sample())
    assert "old" not in contents(path)


def test_mode_w_minus_refuses_an_existing_file(path: str) -> None:
    af.to_arrayformat(sample(), path, mode="w-")
    before = contents(path)
    with pytest.raises(FileExistsError):
        af.to_arrayformat(xr.Dataset({"z": ("x", [1, 2])}), path, mode="w-")
    assert_contents(path, before)
    assert layers(path) == [0, 1]


def test_mode_a_adds_variables(path: str) -> None:
    af.to_arrayformat(sample(), path)
    extra = xr.Dataset({"w": (("t", "x"), -DATA), "s": ("k", np.array(["p", "q"], object))})
    af.to_arrayformat(extra, path, mode="a")
    assert layers(path) == [0, 1, 2]
    assert_identical(open_af(path), xr.merge([sample(), extra]))


def test_mode_a_creates_a_missing_file(path: str) -> None:
    af.to_arrayformat(sample(), path, mode="a")
    assert_identical(open_af(path), sample())


def test_mode_a_refuses_a_name_in_use_and_changes_nothing(path: str) -> None:
    af.to_arrayformat(sample(), path)
    before = contents(path)
    clash = xr.Dataset({"new": ("t", np.zeros(6)), "v": ("t", np.zeros(6))})
    with pytest.raises(ValueError, match="v"):
        af.to_arrayformat(clash, path, mode="a")
    assert layers(path) == [0, 1]
    assert_contents(path, before)


@pytest.mark.parametrize("mode", ["r", "r+", "x", "append"])
def test_other_modes_are_value_errors(path: str, mode: str) -> None:
    with pytest.raises(ValueError, match="mode"):
        af.to_arrayformat(sample(), path, mode=mode)


def test_append_dim_is_not_implemented(path: str) -> None:
    af.to_arrayformat(sample(), path)
    with pytest.raises(NotImplementedError, match="append"):
        af.to_arrayformat(sample(), path, mode="a", append_dim="t")
    assert layers(path) == [0, 1]


# -- a refused write leaves the file as it was ----------------------------------


def unstorable() -> dict[str, tuple[type[Exception], Callable[[xr.Dataset], xr.Dataset]]]:
    return {
        "long doubles": (TypeError, lambda ds: ds.assign(q=("t", np.ones(6, "f16")))),
        "an attribute": (TypeError, lambda ds: ds.assign(v=ds.v.assign_attrs(bad={"a": 1}))),
        "an attribute name": (TypeError, lambda ds: ds.assign(v=ds.v.assign_attrs({1: "x"}))),
        "a dataset attribute": (TypeError, lambda ds: ds.assign_attrs(bad={"a": 1})),
        "a name": (ValueError, lambda ds: ds.rename_vars({"n": 7})),
    }


@pytest.mark.parametrize("case", unstorable())
@pytest.mark.parametrize("mode", ["w", "a"])
def test_a_refused_write_leaves_an_existing_file_as_it_was(path: str, case: str, mode: str) -> None:
    error, change = unstorable()[case]
    af.to_arrayformat(sample(), path)
    before = contents(path)
    bad = change(sample())
    if mode == "a":  # new names, so that only the change is refused
        bad = bad.drop_vars("x").rename_vars({k: f"{k}2" for k in ("v", "n") if k in bad})
    with pytest.raises(error):
        af.to_arrayformat(bad, path, mode=mode)
    assert layers(path) == [0, 1]
    assert_contents(path, before)


# -- Dask-backed datasets ------------------------------------------------------


@pytest.fixture(autouse=True)
def threads() -> Any:
    """Dask computes with threads in this module."""
    with dask.config.set(scheduler="threads"):
        yield


def test_dask_chunks_become_the_arrays_chunks(path: str) -> None:
    ds = sample().chunk({"t": 2, "x": 5})
    assert af.to_arrayformat(ds, path) is None
    assert layers(path) == [0, 1]  # one commit
    with af.open(path) as f:
        assert f["v"].chunks == (2, 5)
        assert f["n"].chunks == (2,)
    got = open_af(path)
    assert_identical(got, sample())
    assert got.v.encoding["preferred_chunks"] == {"t": 2, "x": 5}


def test_dask_and_numpy_variables_together(path: str) -> None:
    ds = sample()
    ds["v"] = ds.v.chunk({"t": 4})
    af.to_arrayformat(ds, path, encoding={"v": {"chunks": (3, 10)}})
    with af.open(path) as f:
        assert f["v"].chunks == (3, 10)  # the encoding wins over the Dask chunks
    assert_identical(open_af(path), sample())


def test_compute_false_commits_nothing_until_computed(path: str) -> None:
    delayed = af.to_arrayformat(sample().chunk({"t": 3}), path, compute=False)
    assert isinstance(delayed, Delayed)
    assert layers(path) == [0]
    assert contents(path) == {}
    assert delayed.compute() is None
    assert layers(path) == [0, 1]
    assert_identical(open_af(path), sample())


def test_compute_false_adding_to_a_file(path: str) -> None:
    af.to_arrayformat(sample(), path)
    extra = xr.Dataset({"w": ("t", np.arange(6.0))}).chunk({"t": 4})
    delayed = af.to_arrayformat(extra, path, mode="a", compute=False)
    assert layers(path) == [0, 1]
    assert "w" not in contents(path)
    delayed.compute()
    assert layers(path) == [0, 1, 2]
    assert_identical(open_af(path), xr.merge([sample(), extra.compute()]))


def test_compute_false_without_dask_variables_is_delayed_too(path: str) -> None:
    delayed = af.to_arrayformat(sample(), path, compute=False)
    assert isinstance(delayed, Delayed)
    assert layers(path) == [0]
    delayed.compute()
    assert_identical(open_af(path), sample())


def failing(x: np.ndarray) -> np.ndarray:
    if (x > 2).any():
        raise RuntimeError("a failing chunk")
    return x


def write_failing(path: str, writer: str, compute: bool) -> Any:
    source = da.from_array(DATA, chunks=(1, 10)).map_blocks(failing)
    if writer == "to_arrayformat":
        ds = xr.Dataset({"v": (("t", "x"), source), "n": ("t", np.arange(6))})
        return af.to_arrayformat(ds, path, compute=compute)
    return af.dask.store(source, path, "v", compute=compute)


@pytest.mark.parametrize("compute", [True, False], ids=["compute", "delayed"])
@pytest.mark.parametrize("writer", ["to_arrayformat", "af.dask.store"])
def test_a_failed_dask_computation_commits_nothing(path: str, writer: str, compute: bool) -> None:
    gc.collect()
    if compute:
        with pytest.raises(RuntimeError, match="a failing chunk"):
            write_failing(path, writer, compute=True)
    else:
        delayed = write_failing(path, writer, compute=False)
        with pytest.raises(RuntimeError, match="a failing chunk"):
            delayed.compute()
        del delayed
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()  # a file left open with pending changes would flush now
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert layers(path) == [0]
    assert contents(path) == {}


@pytest.mark.parametrize("writer", ["to_arrayformat", "af.dask.store"])
def test_a_delayed_write_dropped_without_computing_commits_nothing(path: str, writer: str) -> None:
    gc.collect()
    source = da.from_array(DATA, chunks=(2, 5))
    if writer == "to_arrayformat":
        ds = xr.Dataset({"v": (("t", "x"), source), "n": ("t", np.arange(6))})
        delayed = af.to_arrayformat(ds, path, compute=False)
    else:
        delayed = af.dask.store(source, path, "v", compute=False)
    assert layers(path) == [0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del delayed
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert layers(path) == [0]
    assert contents(path) == {}
    af.to_arrayformat(sample(), path, mode="a")  # the file is not held open
    assert layers(path) == [0, 1]
