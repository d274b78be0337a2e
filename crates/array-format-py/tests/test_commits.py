"""Pending changes and commits: flush, the context manager, discard,
refresh, and what closing does."""

from __future__ import annotations

import gc

import arrayformat as af
import numpy as np
import pytest
from _support import assert_same


def test_flush_commits_one_layer(path: str) -> None:
    f = af.open(path, "w")
    assert f.layer == 0
    f["x"] = np.arange(3)
    f["y"] = np.ones(2)
    assert f.has_pending_changes
    with af.open(path) as other:
        assert list(other) == []  # nothing committed yet
    f.flush()
    assert not f.has_pending_changes
    assert f.layer == 1
    with af.open(path) as other:
        assert sorted(other) == ["x", "y"]
    f.flush()  # nothing pending: no new layer
    assert f.layer == 1
    f.close()


def test_context_manager_flushes_on_clean_exit(path: str) -> None:
    with af.open(path, "w") as f:
        f["x"] = np.arange(3)
    assert f.closed
    with af.open(path) as g:
        assert_same(g["x"][...], np.arange(3))


def change_then_fail(path: str, opened: list[af.File]) -> None:
    with af.open(path, "r+") as f:
        opened.append(f)
        f["x"][0] = 100
        f["y"] = np.ones(1)
        raise RuntimeError("boom")


def test_context_manager_drops_changes_on_an_exception(path: str) -> None:
    with af.open(path, "w") as f:
        f["x"] = np.arange(3)
    opened: list[af.File] = []
    with pytest.raises(RuntimeError, match="boom"):
        change_then_fail(path, opened)
    assert opened[0].closed
    with af.open(path) as g:
        assert list(g) == ["x"]
        assert_same(g["x"][...], np.arange(3))
        assert g.layer == 1


def test_close_flushes_and_is_idempotent(path: str) -> None:
    f = af.open(path, "w")
    f["x"] = np.arange(2)
    f.close()
    f.close()
    assert f.closed
    with af.open(path) as g:
        assert "x" in g


def leave_open(path: str) -> None:
    f = af.open(path, "w")
    f["x"] = np.arange(2)
    del f  # open, with a pending change
    gc.collect()


def test_garbage_collected_file_is_flushed_with_a_warning(path: str) -> None:
    with pytest.warns(ResourceWarning, match="not closed"):
        leave_open(path)
    with af.open(path) as g:
        assert_same(g["x"][...], np.arange(2))


def test_discard_drops_every_pending_change(path: str) -> None:
    with af.open(path, "w") as f:
        f.create_array("x", (4,), "f8", chunks=(2,), data=np.arange(4.0), attrs={"k": 1})
    f = af.open(path, "r+")
    f["x"][1:3] = -1
    f["x"].attrs["k"] = 2
    f["y"] = np.zeros(3)
    del f["x"]
    assert f.has_pending_changes
    f.discard()
    assert not f.has_pending_changes
    assert list(f) == ["x"]
    assert_same(f["x"][...], np.arange(4.0))
    assert f["x"].attrs["k"] == 1
    f.close()
    with af.open(path) as g:
        assert g.layer == 1


def test_delete_an_array(path: str) -> None:
    with af.open(path, "w") as f:
        f["x"] = np.arange(2)
        f["y"] = np.arange(3)
    with af.open(path, "r+") as f:
        del f["x"]
        assert "x" not in f
        with pytest.raises(KeyError):
            f["x"]
        f["x"] = np.array(["redefined"])  # the name is free again
    with af.open(path) as f:
        assert sorted(f) == ["x", "y"]
        assert_same(f["x"][...], np.array(["redefined"], dtype=object))


def test_refresh_sees_another_handles_commit(path: str) -> None:
    with af.open(path, "w") as f:
        f.create_array("x", (4,), "i4", chunks=(2,))
    reader = af.open(path)
    writer = af.open(path, "r+")
    mine = af.open(path, "r+")
    mine["x"][3] = 3  # a pending change in another chunk survives refresh
    writer["x"][0] = 1
    writer["y"] = np.ones(1)
    writer.flush()
    assert "y" not in reader
    assert_same(reader["x"][...], np.zeros(4, "i4"))
    reader.refresh()
    mine.refresh()
    assert "y" in reader
    assert_same(reader["x"][...], np.array([1, 0, 0, 0], "i4"))
    assert reader.layer == writer.layer
    assert_same(mine["x"][...], np.array([1, 0, 0, 3], "i4"))
    mine.flush()
    for f in (reader, writer, mine):
        f.close()
    with af.open(path) as f:
        assert_same(f["x"][...], np.array([1, 0, 0, 3], "i4"))


def test_conflict_keeps_pending_changes(path: str) -> None:
    with af.open(path, "w") as f:
        f.create_array("x", (4,), "i4", chunks=(2,))
    a = af.open(path, "r+")
    b = af.open(path, "r+")
    a["x"][0] = 1
    b["x"][1] = 2  # the same chunk
    a.flush()
    with pytest.raises(af.ConflictError):
        b.flush()
    assert b.has_pending_changes
    b.refresh()
    with pytest.raises(af.ConflictError):
        b.flush()  # the chunk was changed by another writer since b read it
    # b's pending chunk, written over the version it read, is still its view.
    assert_same(b["x"][...], np.array([0, 2, 0, 0], "i4"))
    b.discard()
    b["x"][3] = 4  # another chunk: no conflict
    b.flush()
    a.close()
    b.close()
    with af.open(path) as f:
        assert_same(f["x"][...], np.array([1, 0, 0, 4], "i4"))
