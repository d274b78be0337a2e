"""Dask on worker processes against an S3 server (moto, which ``.ci/run``
starts and names in ``AF_TEST_MOTO_ENDPOINT``): a write staged by the
workers and committed as one layer, reads pickled by reference with their
storage options, and two writes racing for the next layer. Without
a server the tests say SKIP, unless ``REQUIRE_S3=1``, which makes them
fail."""

from __future__ import annotations

import itertools
import os
import urllib.request
from collections.abc import Iterator
from typing import Any

import arrayformat as af
import dask.array as da
import numpy as np
import pytest
from distributed import Client, LocalCluster

DATA = np.arange(40 * 30, dtype="f8").reshape(40, 30)
_BUCKETS = itertools.count()


def _endpoint() -> str:
    endpoint = os.environ.get("AF_TEST_MOTO_ENDPOINT", "")
    if not endpoint:
        if os.environ.get("REQUIRE_S3") == "1":
            pytest.fail("REQUIRE_S3=1 but AF_TEST_MOTO_ENDPOINT names no moto server")
        pytest.skip("SKIP: no S3 server (set AF_TEST_MOTO_ENDPOINT to a moto_server)")
    return endpoint


@pytest.fixture
def bucket() -> tuple[str, dict[str, str]]:
    """A fresh bucket on the moto server: its ``s3://`` prefix and the
    storage options that reach it."""
    endpoint = _endpoint()
    name = f"py-{os.getpid()}-{next(_BUCKETS)}"
    # moto takes unsigned requests: one plain PUT makes the bucket.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{name}", method="PUT"), timeout=10)
    options = {
        "endpoint": endpoint,
        "allow_http": "true",
        "region": "us-east-1",
        "access_key_id": "test",
        "secret_access_key": "test",
    }
    return f"s3://{name}", options


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """Two worker processes of one thread each."""
    _endpoint()
    cluster = LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    with cluster, Client(cluster, set_as_default=False) as c:
        yield c


def test_a_dask_write_to_s3_is_one_layer_staged_by_the_workers(
    bucket: tuple[str, dict[str, Any]], client: Client
) -> None:
    prefix, options = bucket
    url = f"{prefix}/data/w.af"
    source = da.from_array(DATA, chunks=(10, 15))
    delayed = af.dask.store(source, url, "v", compute=False, storage_options=options)
    delayed.compute(scheduler=client)
    with af.open(url, storage_options=options) as f:
        versions = f.versions()
        assert [v["layer"] for v in versions] == [0, 1]
        assert versions[-1]["parts"] == 8  # one per block, no data copied
        np.testing.assert_array_equal(f["v"][...], DATA)
        assert f.verify().ok


def test_dask_reads_from_s3_on_the_workers(
    bucket: tuple[str, dict[str, Any]], client: Client
) -> None:
    prefix, options = bucket
    url = f"{prefix}/r.af"
    with af.open(url, "w", storage_options=options) as f:
        f.create_array("v", data=DATA, chunks=(10, 10))
    f = af.open(url, storage_options=options)
    lazy = af.dask.from_array(f["v"])
    # Pickled by reference: each worker opens the file at the same layer.
    total = lazy.sum().compute(scheduler=client)
    assert total == DATA.sum()
    np.testing.assert_array_equal(lazy.compute(scheduler=client), DATA)
    f.close()


def test_two_dask_writes_at_once_to_s3_both_land(
    bucket: tuple[str, dict[str, Any]], client: Client
) -> None:
    prefix, options = bucket
    url = f"{prefix}/two.af"
    with af.open(url, "w", storage_options=options):
        pass
    first = af.dask.store(
        da.from_array(DATA, chunks=(10, 30)), url, "a", compute=False, storage_options=options
    )
    second = af.dask.store(
        da.from_array(-DATA, chunks=(20, 15)), url, "b", compute=False, storage_options=options
    )
    client.compute([first, second], sync=True)
    # One layer each, whichever took its number first.
    with af.open(url, storage_options=options) as f:
        assert [v["layer"] for v in f.versions()] == [0, 1, 2]
        np.testing.assert_array_equal(f["a"][...], DATA)
        np.testing.assert_array_equal(f["b"][...], -DATA)
