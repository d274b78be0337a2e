"""History: ``versions()`` and ``as_of``, which opens the file as it was
right after a layer was committed, read-only."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import arrayformat as af
import numpy as np
import pytest
from _support import assert_same


def three_commits(path: str) -> list[np.ndarray]:
    """Layers 1, 2, 3, each changing array ``x``; its content after each."""
    states = []
    with af.open(path, "w") as f:
        f.create_array("x", (4,), "i4", chunks=(2,), data=np.arange(4, dtype="i4"))
    states.append(np.arange(4, dtype="i4"))
    for k in (1, 2):
        with af.open(path, "r+") as f:
            f["x"][k] = 10 * k
            f["x"].attrs["k"] = k
        states.append(states[-1].copy())
        states[-1][k] = 10 * k
    return states


def test_versions_fields(path: str) -> None:
    before = datetime.now(timezone.utc) - timedelta(minutes=1)
    three_commits(path)
    with af.open(path) as f:
        v = f.versions()
        assert [x["layer"] for x in v] == [0, 1, 2, 3]
        assert [x["kind"] for x in v] == ["snapshot", "snapshot", "delta", "delta"]
        assert [x["visible"] for x in v] == [False, True, True, True]
        assert [x["generation"] for x in v] == [0, 1, 1, 1]
        assert [x["path"] for x in v] == ["test.af", "test.1.af", "test.2.af", "test.3.af"]
        for x in v:
            assert set(x) == {
                "layer",
                "kind",
                "generation",
                "size",
                "created",
                "visible",
                "path",
                "parts",
            }
            assert x["parts"] == 0  # committed by flush, not from staged parts
            assert isinstance(x["size"], int)
            assert x["size"] > 0
            assert x["created"].tzinfo is not None
            assert before <= x["created"] <= datetime.now(timezone.utc) + timedelta(minutes=1)
        assert [x["created"] for x in v] == sorted(x["created"] for x in v)
        assert f.layer == 3


def test_as_of_shows_each_layer(path: str) -> None:
    states = three_commits(path)
    with af.open(path, as_of=0) as f:
        assert list(f) == []
        assert f.layer == 0
    for layer, state in enumerate(states, start=1):
        with af.open(path, as_of=layer) as f:
            assert f.layer == layer
            assert f.read_only
            assert_same(f["x"][...], state)
            assert f["x"].attrs.get("k") == (layer - 1 if layer > 1 else None)
            assert [v["visible"] for v in f.versions()] == [False] + [
                0 < n <= layer for n in (1, 2, 3)
            ]


def test_as_of_is_read_only(path: str) -> None:
    three_commits(path)
    f = af.open(path, as_of=2)
    for change in (
        lambda: f["x"].__setitem__(0, 5),
        lambda: f.create_array("y", (1,), "i4"),
        lambda: f.__delitem__("x"),
        lambda: f["x"].attrs.__setitem__("k", 9),
        f.flush,
        f.compact,
        f.vacuum,
        f.discard,
    ):
        with pytest.raises(af.ReadOnlyError):
            change()
    with pytest.raises(af.InvalidOperationError):
        f.refresh()  # the view of a past version does not move
    assert_same(f["x"][...], np.array([0, 10, 2, 3], dtype="i4"))
    f.close()
    with pytest.raises(af.InvalidValueError, match="read-only"):
        af.open(path, "r+", as_of=1)


@pytest.mark.parametrize("layer", [4, 100])
def test_missing_layer(path: str, layer: int) -> None:
    three_commits(path)
    with pytest.raises(af.VersionNotFoundError) as e:
        af.open(path, as_of=layer)
    assert isinstance(e.value, LookupError)


def test_negative_layer_is_a_value_error(path: str) -> None:
    three_commits(path)
    with pytest.raises(af.InvalidValueError, match="as_of"):
        af.open(path, as_of=-1)


def test_layers_replaced_by_compaction_stay_for_the_retention(path: str) -> None:
    states = three_commits(path)
    with af.open(path, "r+") as f:
        f.compact()
        assert [x["layer"] for x in f.versions()] == [0, 1, 2, 3, 4]
    with af.open(path, as_of=2) as f:
        assert_same(f["x"][...], states[1])


def test_layers_replaced_by_compaction_are_gone_past_the_retention(path: str) -> None:
    states = three_commits(path)
    with af.open(path, "r+") as f:
        f.compact(retention=0)
        v = f.versions()
        assert [x["layer"] for x in v] == [0, 4]
        assert v[-1]["kind"] == "snapshot"
        assert v[-1]["visible"]
    with pytest.raises(af.VersionNotFoundError):
        af.open(path, as_of=2)
    with af.open(path, as_of=4) as f:
        assert_same(f["x"][...], states[-1])


def test_as_of_handle_keeps_its_version_while_the_file_moves_on(path: str) -> None:
    states = three_commits(path)
    old = af.open(path, as_of=2)
    with af.open(path, "r+") as f:
        f["x"][...] = -1
    assert_same(old["x"][...], states[1])
    old.close()


def test_a_damaged_newest_layer_is_reported_and_the_previous_version_opens(path: str) -> None:
    states = three_commits(path)
    newest = path.replace("test.af", "test.3.af")
    with open(newest, "r+b") as fh:
        fh.seek(-40, 2)  # in the footer
        byte = fh.read(1)
        fh.seek(-40, 2)
        fh.write(bytes([byte[0] ^ 1]))
    with pytest.raises(af.CorruptedError, match=r"test\.3\.af"):
        af.open(path)
    with af.open(path, as_of=2) as f:
        assert_same(f["x"][...], states[1])
        v = f.versions()
        assert "damage" not in v[2]
        assert v[3]["layer"] == 3
        assert "test.3.af" in v[3]["damage"]
