"""Files and arrays pickle by reference: unpickled in a 'spawn' child
process, they read the file as it was when they were pickled."""

from __future__ import annotations

import multiprocessing
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterator

import _spawn_workers as workers
import arrayformat as af
import numpy as np
import pytest
from _s3_stub import S3Stub
from _support import assert_same


@pytest.fixture(scope="module")
def child() -> Iterator[ProcessPoolExecutor]:
    """One 'spawn' worker process for the module's tests."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


def make(path: str) -> None:
    with af.open(path, "w") as f:
        f["x"] = np.arange(6).reshape(2, 3)
        f["s"] = np.array(["a", "é"])


def test_array_unpickles_in_a_child_at_its_version(path: str, child) -> None:
    make(path)
    f = af.open(path, "r+")
    blob = pickle.dumps(f["x"])
    f["x"][0] = -1  # committed after pickling: the child must not see it
    f["y"] = np.zeros(1)
    f.flush()
    data, layer, read_only = child.submit(workers.read_array, pickle.loads(blob)).result()
    assert_same(data, np.arange(6).reshape(2, 3))
    assert layer == 1
    assert read_only
    data, layer, _ = child.submit(workers.read_array, f["x"]).result()  # pickled now
    assert_same(data, np.array([[-1, -1, -1], [3, 4, 5]]))
    assert layer == 2
    f.close()


def test_file_unpickles_in_a_child_at_its_version(path: str, child) -> None:
    make(path)
    f = af.open(path, "r+")
    blob = pickle.dumps(f)
    del f["s"]
    f["x"][1] = 0
    f.close()
    got = child.submit(workers.read_file, pickle.loads(blob)).result()
    assert sorted(got) == ["s", "x"]
    assert_same(got["x"], np.arange(6).reshape(2, 3))
    assert_same(got["s"], np.array(["a", "é"], dtype=object))


def test_storage_options_travel_with_the_reference(tmp_path: Path, s3: S3Stub, child) -> None:
    make(str(tmp_path / "t.af"))
    f = af.open(s3.url("t.af"), storage_options=s3.options())
    data, layer, _ = child.submit(workers.read_array, f["x"]).result()
    assert_same(data, np.arange(6).reshape(2, 3))
    assert layer == 1
    f.close()


def test_unpickled_in_this_process(path: str) -> None:
    make(path)
    f = af.open(path, "r+")
    a = pickle.loads(pickle.dumps(f["x"]))
    g = pickle.loads(pickle.dumps(f))
    f["x"][...] = 9
    f.flush()
    assert a.file.read_only
    assert a.file.layer == 1
    assert_same(a[...], np.arange(6).reshape(2, 3))
    assert_same(g["x"][...], np.arange(6).reshape(2, 3))
    with pytest.raises(af.ReadOnlyError):
        a[0, 0] = 1
    # Unpickling twice gives one shared handle per process and version.
    assert pickle.loads(pickle.dumps(f["x"])).file is pickle.loads(pickle.dumps(f))
    f.close()


def test_as_of_files_pickle_at_their_layer(path: str) -> None:
    make(path)
    with af.open(path, "r+") as f:
        f["x"][...] = 0
    old = af.open(path, as_of=1)
    assert_same(pickle.loads(pickle.dumps(old["x"]))[...], np.arange(6).reshape(2, 3))
    old.close()


def test_pending_changes_refuse_to_pickle(path: str) -> None:
    make(path)
    f = af.open(path, "r+")
    f["x"][0, 0] = 5
    with pytest.raises(af.InvalidOperationError, match="pending"):
        pickle.dumps(f)
    with pytest.raises(af.InvalidOperationError, match="pending"):
        pickle.dumps(f["s"])
    f.flush()
    assert pickle.loads(pickle.dumps(f["x"]))[0, 0] == 5
    f.close()


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_a_forked_child_reads_with_threads_of_its_own(path: str) -> None:
    make(path)
    f = af.open(path)
    f["x"][...]  # the parent has started the library's threads
    workers.INHERITED = f
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        # The handle the parent opened, and one the child opens itself.
        inherited = pool.submit(workers.read_inherited, "x").result(60)
        data, _, _ = pool.submit(workers.read_array, f["x"]).result(60)
    assert_same(inherited, np.asarray(f["x"]))
    assert_same(data, np.asarray(f["x"]))
    f.close()


def test_a_relative_path_still_names_the_file_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    make("rel.af")
    f = af.open("rel.af")
    assert f.path == "rel.af"
    blob = pickle.dumps(f["x"])
    monkeypatch.chdir(tmp_path / "b")  # as a worker started in another directory
    assert_same(pickle.loads(blob)[...], np.arange(6).reshape(2, 3))
    f.close()
