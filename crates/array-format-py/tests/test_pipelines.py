"""Pipelines from Python: the default per dtype, ``codec`` and ``filters``
composed as the docs say, every pipeline reading back exactly (``bitround``
within its rounding), what does not suit a dtype refused with
``InvalidValueError`` before anything is defined, and the pipeline kept by
xarray's writer and reader and by Dask's ``store``."""

from __future__ import annotations

from typing import Any

import arrayformat as af
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from arrayformat.dask import store


@pytest.mark.parametrize(
    ("dtype", "codec", "filters", "recorded"),
    [
        ("float32", None, None, "pco:8"),
        ("int64", None, None, "pco:8"),
        ("uint8", None, None, "zstd:3"),
        ("bool", None, None, "zstd:3"),
        ("datetime64[ns]", None, None, "pco:8"),
        ("float64", None, ["bitround:20"], "bitround:20+pco:8"),
        ("float64", "lz4", None, "shuffle+lz4"),
        ("float64", "ZSTD:9", None, "shuffle+zstd:9"),
        ("float64", "lz4", [], "lz4"),
        ("float64", "none", None, "none"),
        ("float32", "pco", None, "pco:8"),
        ("float32", "pco:12", ["bitround:10"], "bitround:10+pco:12"),
        ("int32", None, ["delta", "shuffle"], "delta+shuffle+zstd:3"),
        ("float32", None, ["bitround:7", "shuffle"], "bitround:7+shuffle+zstd:3"),
        ("float32", "shuffle+zstd:5", None, "shuffle+zstd:5"),
        ("float32", "shuffle+zstd:5", [], "shuffle+zstd:5"),
    ],
)
def test_codec_and_filters_compose_into_the_recorded_pipeline(
    new_file: af.File, dtype: str, codec: Any, filters: Any, recorded: str
) -> None:
    a = new_file.create_array("a", (10,), dtype, codec=codec, filters=filters)
    assert a.codec == recorded


def test_strings_get_a_codec_without_filters(new_file: af.File) -> None:
    new_file["s"] = np.array(["a", "bb"], dtype=object)
    assert new_file["s"].codec == "zstd:3"


@pytest.mark.parametrize(
    ("dtype", "codec", "filters", "says"),
    [
        ("float32", None, ["delta"], "differences of integers"),
        ("int32", None, ["bitround:4"], "rounds floats"),
        ("float32", None, ["bitround:30"], "23 mantissa bits"),
        ("float32", "pco", ["shuffle"], "only bitround"),
        ("float32", "shuffle+zstd", ["delta"], "not both"),
        ("float32", "gzip", None, "unknown codec"),
        ("float32", None, ["zip"], "unknown filter"),
        ("float32", None, ["shuffle", "shuffle"], "order"),
        ("bool", "pco", None, "pco compresses numbers"),
    ],
)
def test_pipelines_that_do_not_suit_are_refused_before_anything_is_defined(
    new_file: af.File, dtype: str, codec: Any, filters: Any, says: str
) -> None:
    with pytest.raises(af.InvalidValueError, match=says):
        new_file.create_array("a", (4,), dtype, codec=codec, filters=filters)
    assert "a" not in new_file


@pytest.mark.parametrize(("codec", "filters"), [(5, None), ("lz4", "shuffle"), ("lz4", [1])])
def test_codecs_and_filters_are_named_by_str(new_file: af.File, codec: Any, filters: Any) -> None:
    with pytest.raises(TypeError):
        new_file.create_array("a", (4,), "f4", codec=codec, filters=filters)


def smooth(dtype: str, shape: tuple[int, ...] = (50, 40)) -> np.ndarray:
    i, j = np.indices(shape)
    field = 280 + 20 * np.sin(i / 7) * np.cos(j / 5) + (i * 31 + j * 17) % 3
    if dtype.startswith("datetime64"):
        return (np.datetime64("2020-01-01T00:00:00", "ns") + (field * 1e9).astype("i8")).astype(
            dtype
        )
    return (field * (100 if dtype[0] in "iu" else 1)).astype(dtype)


PIPELINES = ["shuffle+zstd:3", "delta+shuffle+lz4", "shuffle+none", "pco", "pco:0", "zstd:1"]
NUMBERS = ["float32", "float64", "int16", "uint32", "int64", "datetime64[ns]"]


@pytest.mark.parametrize(
    ("pipeline", "dtype"),
    [
        (p, d)
        for p in PIPELINES
        for d in NUMBERS
        # delta takes differences of integers (its refusal is tested above)
        if not (p.startswith("delta") and d.startswith("float"))
    ],
)
def test_every_pipeline_reads_back_exactly(path: str, pipeline: str, dtype: str) -> None:
    data = smooth(dtype)
    with af.open(path, "w") as f:
        f.create_array("a", data.shape, data.dtype, chunks=(16, 40), codec=pipeline, data=data)
        np.testing.assert_array_equal(f["a"][...], data)
    with af.open(path) as f:
        np.testing.assert_array_equal(f["a"][...], data)
        np.testing.assert_array_equal(f["a"][3:20, 5:7], data[3:20, 5:7])
    with af.open(path, "a") as f:
        f.compact()
    with af.open(path) as f:
        np.testing.assert_array_equal(f["a"][...], data)


@pytest.mark.parametrize(("dtype", "keep"), [("float32", 10), ("float64", 20), ("float32", 0)])
def test_bitround_keeps_the_asked_mantissa_bits(path: str, dtype: str, keep: int) -> None:
    data = smooth(dtype) * 1.2345
    data[0, 0] = np.nan
    with af.open(path, "w") as f:
        f.create_array("a", data.shape, dtype, filters=[f"bitround:{keep}"], data=data)
    with af.open(path) as f:
        got = f["a"][...]
    assert np.isnan(got[0, 0])
    ok = ~np.isnan(data)
    relative = np.abs(got[ok] - data[ok]) / np.abs(data[ok])
    assert relative.max() <= 2.0 ** -(keep + 1)
    assert (got[ok] != data[ok]).any(), "some values were rounded"


def test_shuffle_and_the_default_store_real_looking_floats_smaller(path: str) -> None:
    data = smooth("float32", (200, 300))
    sizes = {}
    with af.open(path, "w") as f:
        for codec, filters in [("zstd:3", []), ("zstd:3", None), (None, None)]:
            name = f"{codec}-{filters}"
            f.create_array(name, data.shape, data.dtype, codec=codec, filters=filters, data=data)
            f.flush()
            sizes[name] = f[name].stored_bytes
    plain, shuffled, default = sizes.values()
    assert shuffled < plain, sizes
    # The default for floats is pco, smaller still.
    assert default < shuffled, sizes


def test_xarray_writer_takes_codec_and_filters_and_the_reader_gives_them_back(
    tmp_path: Any,
) -> None:
    ds = xr.Dataset(
        {"t": (("y", "x"), smooth("float32")), "n": (("y", "x"), smooth("int32"))},
    )
    target = str(tmp_path / "ds.af")
    af.to_arrayformat(
        ds,
        target,
        encoding={"t": {"codec": "pco", "filters": ["bitround:12"]}, "n": {"filters": ["delta"]}},
    )
    with af.open(target) as f:
        assert f["t"].codec == "bitround:12+pco:8"
        assert f["n"].codec == "delta+zstd:3"
    back = xr.open_dataset(target, engine="arrayformat")
    assert back["t"].encoding["codec"] == "bitround:12+pco:8"
    np.testing.assert_array_equal(back["n"].values, ds["n"].values)
    # Writing what was read keeps every variable's pipeline.
    again = str(tmp_path / "again.af")
    af.to_arrayformat(back, again)
    with af.open(again) as f:
        assert (f["t"].codec, f["n"].codec) == ("bitround:12+pco:8", "delta+zstd:3")
    back.close()
    with pytest.raises(af.InvalidValueError, match="rounds floats"):
        af.to_arrayformat(ds, str(tmp_path / "bad.af"), encoding={"n": {"filters": ["bitround:3"]}})


def test_dask_store_takes_codec_and_filters(path: str) -> None:
    data = smooth("float64", (64, 32))
    store(da.from_array(data, chunks=(16, 32)), path, "a", codec="lz4", filters=["shuffle"])
    with af.open(path) as f:
        assert f["a"].codec == "shuffle+lz4"
        np.testing.assert_array_equal(f["a"][...], data)
