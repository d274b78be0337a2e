"""Dask writes on a ``dask.distributed`` cluster of worker processes: each
block is staged by the worker process that computed it, and the whole
write (new arrays, attributes, every block) is committed as one layer, or
nothing is."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

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


def layers(path: str) -> list[int]:
    with af.open(path) as f:
        return [v["layer"] for v in f.versions()]


def part_objects(path: str) -> list[str]:
    parts = Path(path).with_suffix(".parts")
    return sorted(p.name for p in parts.iterdir()) if parts.exists() else []


def _pid_block(block: np.ndarray) -> np.ndarray:
    """The block, filled with the id of the process that computed it."""
    return np.full(block.shape, os.getpid(), dtype="i8")


def test_a_dataset_is_written_by_the_workers_in_one_commit(path: str, client: Client) -> None:
    source = da.from_array(DATA, chunks=(10, 15))
    ds = xr.Dataset(
        {"v": (("y", "x"), source), "n": ("y", np.arange(40))},
        attrs={"title": "cluster"},
    )
    ds.v.attrs["units"] = "m"
    delayed = af.to_arrayformat(ds, path, compute=False)
    assert layers(path) == [0]
    delayed.compute(scheduler=client)
    assert layers(path) == [0, 1]
    with af.open(path) as f:
        newest = f.versions()[-1]
        assert newest["parts"] == 8  # one per block, no data copied
        np.testing.assert_array_equal(f["v"][...], DATA)
        assert f["v"].chunks == (10, 15)
        assert f["v"].attrs["units"] == "m"
        assert f.attrs["title"] == "cluster"
        assert f.verify().ok
    with xr.open_dataset(path, engine="arrayformat") as back:
        xr.testing.assert_identical(back.load(), ds.compute())


def test_blocks_are_staged_in_the_worker_processes(path: str, client: Client) -> None:
    source = da.zeros((8, 4), chunks=(2, 4), dtype="i8").map_blocks(_pid_block)
    af.dask.store(source, path, "pid", compute=False).compute(scheduler=client)
    workers = set(client.run(os.getpid).values())
    with af.open(path) as f:
        pids = set(np.unique(f["pid"][...]).tolist())
        assert f.versions()[-1]["parts"] == 4
    assert pids <= workers
    assert os.getpid() not in pids


def test_store_into_an_existing_array_is_one_commit(path: str, client: Client) -> None:
    with af.open(path, "w") as f:
        f.create_array("v", shape=DATA.shape, dtype="f8", chunks=(10, 10), fill_value=-1.0)
    before = layers(path)
    af.dask.store(da.from_array(DATA, chunks=(20, 15)), path, "v", compute=False).compute(
        scheduler=client
    )
    assert layers(path) == [*before, before[-1] + 1]
    with af.open(path) as f:
        assert f["v"].chunks == (10, 10)  # the blocks were rechunked to whole chunks
        np.testing.assert_array_equal(f["v"][...], DATA)


def _failing(block: np.ndarray) -> np.ndarray:
    if block.min() >= 600:
        raise RuntimeError("a failing block")
    return block


def test_a_failed_computation_on_the_cluster_commits_nothing(path: str, client: Client) -> None:
    source = da.from_array(DATA, chunks=(10, 30)).map_blocks(_failing)
    ds = xr.Dataset({"v": (("y", "x"), source), "n": ("y", np.arange(40))})
    delayed = af.to_arrayformat(ds, path, compute=False)
    with pytest.raises(RuntimeError, match="a failing block"):
        delayed.compute(scheduler=client)
    assert layers(path) == [0]
    with af.open(path) as f:
        assert list(f) == []
    # The parts the other blocks staged are nobody's: vacuum reclaims them
    # once old enough, and none before.
    with af.open(path, "r+") as f:
        assert f.vacuum().parts == 0
        staged = part_objects(path)
        report = f.vacuum(part_grace=0)
        assert report.parts == len(staged)
    assert part_objects(path) == []


def test_two_writes_at_once_into_one_file_both_land(path: str, client: Client) -> None:
    with af.open(path, "w"):
        pass
    first = af.dask.store(da.from_array(DATA, chunks=(10, 30)), path, "a", compute=False)
    second = af.dask.store(da.from_array(-DATA, chunks=(20, 15)), path, "b", compute=False)
    client.compute([first, second], sync=True)
    # One layer each, whichever committed first.
    assert layers(path) == [0, 1, 2]
    with af.open(path) as f:
        np.testing.assert_array_equal(f["a"][...], DATA)
        np.testing.assert_array_equal(f["b"][...], -DATA)


def test_a_part_defining_an_array_otherwise_is_refused(path: str) -> None:
    with af.open(path, "w"):
        pass
    with af.open(path, "r+") as worker:
        worker.create_array("v", shape=(4,), dtype="i4", chunks=(2,))
        worker["v"][:2] = [1, 2]
        part = worker.stage()
    coordinator = af.open(path, "r+")
    coordinator.create_array("v", shape=(4,), dtype="i4", chunks=(4,))
    with pytest.raises(af.InvalidOperationError, match="otherwise than this handle"):
        coordinator.commit_parts([part])
    assert coordinator.has_pending_changes
    coordinator.discard()
    coordinator.close()
    assert layers(path) == [0]
