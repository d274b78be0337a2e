"""compact, vacuum and verify."""

from __future__ import annotations

import os
import shutil

import arrayformat as af
import numpy as np
import pytest
from _support import assert_same


def layered(path: str) -> np.ndarray:
    """A file of five layers; the content of its array ``x``."""
    data = np.zeros((6, 6), "f4")
    with af.open(path, "w") as f:
        f.create_array("x", data.shape, "f4", chunks=(3, 3), fill_value=np.nan)
    data[:] = np.nan
    for k in range(4):
        with af.open(path, "r+") as f:
            f["x"][k] = k
        data[k] = k
    return data


def test_compact_merges_layers_into_a_snapshot(path: str) -> None:
    expected = layered(path)
    f = af.open(path, "r+")
    f["x"][5, 5] = 5.0  # pending: compact commits it first
    expected[5, 5] = 5.0
    f.compact(retention=0)
    assert not f.has_pending_changes
    v = f.versions()
    assert [x["visible"] for x in v] == [False, True]
    assert v[-1]["kind"] == "snapshot"
    assert_same(f["x"][...], expected)
    f.close()
    assert sorted(os.listdir(os.path.dirname(path))) == ["test.7.af", "test.af"]
    with af.open(path) as g:
        assert_same(g["x"][...], expected)


def test_compaction_keeps_the_replaced_layers_for_the_retention(path: str) -> None:
    expected = layered(path)
    reader = af.open(path, cache_bytes=0, io_cache_bytes=0)  # elsewhere, of layer 5
    with af.open(path, "r+") as f:
        f["x"][5] = 5.0
        f.compact()
        assert [(v["layer"], v["visible"]) for v in f.versions()] == [
            (0, False),
            (1, False),
            (2, False),
            (3, False),
            (4, False),
            (5, False),
            (6, False),
            (7, True),
        ]
        assert f.vacuum().deleted == []
    # The reader of layer 5 reads on, and time travel reaches layer 5.
    assert_same(reader["x"][...], expected)
    with af.open(path, as_of=5) as old:
        assert_same(old["x"][...], expected)
    with af.open(path, "r+") as f:
        with pytest.raises(af.InvalidValueError):
            f.vacuum(retention=-1)
        report = f.vacuum(retention=0)
        assert sorted(report.deleted) == [f"test.{n}.af" for n in range(1, 7)]
    # A local reader holds its layers' files open: it reads on even then.
    assert_same(reader["x"][...], expected)
    reader.close()
    assert sorted(os.listdir(os.path.dirname(path))) == ["test.7.af", "test.af"]


def test_vacuum_deletes_layers_no_version_needs(path: str) -> None:
    expected = layered(path)
    folder = os.path.dirname(path)
    shutil.copy(os.path.join(folder, "test.2.af"), os.path.join(folder, "saved"))
    with af.open(path, "r+") as f:
        f.compact(retention=0)
        assert f.vacuum().deleted == []
    # A layer a compaction left behind (as after a crash) is redundant.
    shutil.move(os.path.join(folder, "saved"), os.path.join(folder, "test.2.af"))
    with af.open(path, "r+") as f:
        assert [v["layer"] for v in f.versions()] == [0, 2, 6]
        assert f.vacuum().deleted == []  # replaced a moment ago
        report = f.vacuum(retention=0)
        assert report.deleted == ["test.2.af"]
        assert report.bytes > 0
        assert [v["layer"] for v in f.versions()] == [0, 6]
        assert_same(f["x"][...], expected)
    assert sorted(os.listdir(folder)) == ["test.6.af", "test.af"]


def test_verify_a_sound_file(path: str) -> None:
    layered(path)
    with af.open(path) as f:
        report = f.verify()
    assert report.ok
    assert report.damaged == []
    assert report.layers == 5
    assert report.chunks >= 4
    assert report.frames >= 1
    assert report.bytes > 0


def flip(file: str, offset: int) -> None:
    with open(file, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0x10]))


def test_verify_reports_a_flipped_byte_in_a_frame(path: str) -> None:
    with af.open(path, "w") as f:
        f.create_array("x", (64,), "i8", chunks=(8,), data=np.arange(64))
    layer = os.path.join(os.path.dirname(path), "test.1.af")
    flip(layer, 0)  # the first frame starts the layer object
    with af.open(path) as f:  # the footer is intact: the file opens
        report = f.verify()
        assert not report.ok
        assert len(report.damaged) == 1
        d = report.damaged[0]
        assert d.path == "test.1.af"
        assert d.frame == 0
        assert d.offset == 0
        assert d.length > 0
        assert "checksum" in d.what
        with pytest.raises(af.CorruptedError):
            f["x"][...]


def test_compact_refuses_a_damaged_frame(path: str) -> None:
    with af.open(path, "w") as f:
        f.create_array("x", (64,), "i8", chunks=(8,), data=np.arange(64))
    with af.open(path, "r+") as f:
        f["x"][60] = 0  # a second layer, for compaction to merge
    flip(os.path.join(os.path.dirname(path), "test.1.af"), 3)
    with af.open(path, "r+") as f:
        with pytest.raises(af.CorruptedError):
            f.compact()
        assert [v["layer"] for v in f.versions()] == [0, 1, 2]
