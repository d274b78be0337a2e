"""Arrays with zero-length axes: created, written, read and indexed like
numpy's empty arrays."""

from __future__ import annotations

import arrayformat as af
import numpy as np
import pytest
from _support import assert_same, reopen


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4), (2, 0, 3), (0, 0, 0, 0)])
@pytest.mark.parametrize("dtype", ["int16", "float64", "bool", "datetime64[ns]", "U3", "S3"])
def test_empty_arrays_round_trip(path: str, shape, dtype: str) -> None:
    data = np.zeros(shape, dtype=dtype)
    expected = data.astype(object) if data.dtype.kind in "US" else data
    f = af.open(path, "w")
    f["e"] = data
    a = f["e"]
    assert a.shape == shape
    assert a.size == 0
    assert a.nbytes == 0
    assert_same(a[...], expected)
    f = reopen(f)
    assert_same(f["e"][...], expected)
    assert_same(np.asarray(f["e"]), expected)
    f.close()


def test_indexing_an_empty_array_matches_numpy(new_file: af.File) -> None:
    expected = np.zeros((2, 0, 3), dtype="f4")
    a = new_file.create_array("e", expected.shape, "f4", chunks=(1, 1, 2))
    keys = [
        (1,),
        (slice(None), slice(2, 5)),
        (-1, slice(None), 2),
        (Ellipsis, 0),
        (None, 0),
        (slice(None, None, -1),),
    ]
    for key in keys:
        assert_same(a[key], expected[key])
    with pytest.raises(IndexError):
        a[0, 0]
    a[...] = 1.0  # writes nothing, and is no error
    a[1] = np.zeros((0, 3), dtype="f4")
    assert_same(a[...], expected)


def test_len_of_an_empty_array(new_file: af.File) -> None:
    new_file.create_array("e", (0, 5), "i4")
    assert len(new_file["e"]) == 0


def test_empty_object_arrays_need_a_dtype(new_file: af.File) -> None:
    with pytest.raises(TypeError):
        new_file["e"] = np.array([], dtype=object)
    a = new_file.create_array("e", (0,), str, data=np.array([], dtype=object))
    assert_same(a[...], np.array([], dtype=object))
