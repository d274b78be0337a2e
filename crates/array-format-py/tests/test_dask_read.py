"""Dask reads on a ``dask.distributed`` cluster of worker processes: arrays
and xarray datasets compute there, and every worker reads the version the
array was opened at, whatever the parent commits meanwhile."""

from __future__ import annotations

import operator
import os
from typing import Iterator

import arrayformat as af
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from distributed import Client, LocalCluster

DATA = np.arange(40 * 30, dtype="f8").reshape(40, 30)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """Two worker processes of one thread each, for the module's tests."""
    cluster = LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    with cluster, Client(cluster, set_as_default=False) as c:
        yield c


def make(path: str) -> None:
    with af.open(path, "w") as f:
        f.create_array("v", data=DATA, chunks=(10, 15), dims=("y", "x"), attrs={"units": "m"})
        f.create_array("s", data=np.array(["a", "bb", "ccc"]), dims=("k",), chunks=(2,))


def test_arrays_compute_on_worker_processes(path: str, client: Client) -> None:
    make(path)
    assert os.getpid() not in client.run(os.getpid).values()
    with af.open(path) as f:
        a = f["v"]
        d = af.dask.from_array(a)
        assert d.chunks == ((10,) * 4, (15, 15))
        assert d.sum().compute(scheduler=client) == DATA.sum()
        np.testing.assert_array_equal(d.mean(axis=0).compute(scheduler=client), DATA.mean(axis=0))
        plain = da.from_array(a, chunks=a.chunks)
        assert plain.mean().compute(scheduler=client) == DATA.mean()
        strings = af.dask.from_array(f["s"])
        assert list(strings.compute(scheduler=client)) == ["a", "bb", "ccc"]


def test_xarray_with_chunks_computes_on_the_cluster(path: str, client: Client) -> None:
    make(path)
    with xr.open_dataset(path, engine="arrayformat", chunks={}) as ds:
        assert ds.v.chunks == ((10,) * 4, (15, 15))
        total = ds.v.sum("x")
        got = total.compute(scheduler=client)
        np.testing.assert_array_equal(got.values, DATA.sum(axis=1))
        assert got.dims == ("y",)


def test_every_worker_reads_the_version_the_array_was_opened_at(path: str, client: Client) -> None:
    make(path)
    reader = af.open(path)
    lazy = af.dask.from_array(reader["v"])
    ds = xr.open_dataset(path, engine="arrayformat", chunks={})
    with af.open(path, "r+") as writer:  # a new version overwrites every value
        writer["v"][...] = -1.0
    with af.open(path) as now:
        assert now["v"][0, 0] == -1.0
    assert lazy.sum().compute(scheduler=client) == DATA.sum()
    assert float(ds.v.sum().compute(scheduler=client)) == DATA.sum()
    # each worker on its own: the same data, read at layer 1
    for worker in client.scheduler_info()["workers"]:
        data = client.submit(np.asarray, reader["v"], workers=[worker], pure=False)
        layer = client.submit(
            operator.attrgetter("file.layer"), reader["v"], workers=[worker], pure=False
        )
        np.testing.assert_array_equal(data.result(), DATA)
        assert layer.result() == 1
    ds.close()
    reader.close()
