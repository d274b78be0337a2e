"""Open modes, as h5py: r, r+, a, w, w- (and x)."""

from __future__ import annotations

import os

import arrayformat as af
import numpy as np
import pytest
from _support import assert_same


def make(path: str) -> None:
    with af.open(path, "w") as f:
        f["x"] = np.arange(3)


def test_r_reads_and_refuses_changes(path: str) -> None:
    make(path)
    with af.open(path) as f:
        assert f.mode == "r"
        assert f.read_only
        assert_same(f["x"][...], np.arange(3))
        with pytest.raises(af.ReadOnlyError):
            f["x"][0] = 1
        with pytest.raises(af.ReadOnlyError):
            f["y"] = np.zeros(1)
        with pytest.raises(af.ReadOnlyError):
            del f["x"]
        assert not f.has_pending_changes


def test_r_and_r_plus_need_the_file(path: str) -> None:
    for mode in ("r", "r+"):
        with pytest.raises(FileNotFoundError) as e:
            af.open(path, mode)
        assert isinstance(e.value, af.FileMissingError)
    assert not os.path.exists(path)


def test_r_plus_changes_an_existing_file(path: str) -> None:
    make(path)
    with af.open(path, "r+") as f:
        assert not f.read_only
        f["x"][0] = 7
        f["y"] = np.ones(2)
    with af.open(path) as f:
        assert sorted(f) == ["x", "y"]
        assert_same(f["x"][...], np.array([7, 1, 2]))


def test_a_creates_or_opens(path: str) -> None:
    with af.open(path, "a") as f:
        assert list(f) == []
        f["x"] = np.arange(3)
    with af.open(path, "a") as f:
        assert_same(f["x"][...], np.arange(3))
        f["y"] = np.zeros(1)
    with af.open(path) as f:
        assert sorted(f) == ["x", "y"]


def test_w_replaces_the_file(path: str) -> None:
    make(path)
    with af.open(path, "r+") as f:
        f["x"][0] = 5  # a second layer
    with af.open(path, "w") as f:
        assert list(f) == []
        assert f.layer == 0
    with af.open(path) as f:
        assert list(f) == []
        assert [v["layer"] for v in f.versions()] == [0]
    assert sorted(os.listdir(os.path.dirname(path))) == ["test.af"]


@pytest.mark.parametrize("mode", ["w-", "x"])
def test_w_minus_creates_only_new_files(path: str, mode: str) -> None:
    with af.open(path, mode) as f:
        f["x"] = np.arange(3)
    with pytest.raises(FileExistsError) as e:
        af.open(path, mode)
    assert isinstance(e.value, af.ArrayFormatError)
    with af.open(path) as f:
        assert_same(f["x"][...], np.arange(3))


@pytest.mark.parametrize("mode", ["rw", "", "R", "wb"])
def test_unknown_modes(path: str, mode: str) -> None:
    with pytest.raises(af.InvalidValueError, match="unknown mode"):
        af.open(path, mode)
    assert not os.path.exists(path)


def test_paths_may_be_pathlike(tmp_path) -> None:
    p = tmp_path / "p.af"
    with af.open(p, "w") as f:
        f["x"] = np.arange(2)
        assert f.path == str(p)
    with af.open(f"file://{p}") as f:
        assert_same(f["x"][...], np.arange(2))
    with pytest.raises(TypeError):
        af.open(3)  # type: ignore[arg-type]


def test_storage_options_are_refused_for_local_files(path: str) -> None:
    with pytest.raises(af.InvalidValueError, match="region"):
        af.open(path, "w", storage_options={"region": "eu-west-1"})


def test_w_minus_never_replaces_what_is_there(path: str) -> None:
    with open(path, "wb") as fh:
        fh.write(b"not an array-format file, but a file" * 3)
    with pytest.raises(FileExistsError):
        af.open(path, "w-")
    with open(path, "rb") as fh:
        assert fh.read().startswith(b"not an array-format file")
