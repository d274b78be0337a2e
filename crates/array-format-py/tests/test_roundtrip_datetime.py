"""datetime64 of any unit is stored as nanoseconds and read back as
``datetime64[ns]``; NaT survives; times nanoseconds cannot hold are refused."""

from __future__ import annotations

import arrayformat as af
import numpy as np
import pytest
from _support import assert_same, reopen

TIMES = ["2020-02-29T12:34:56", "NaT", "1969-12-31T23:59:59", "1970-01-01", "2262-01-01"]


@pytest.mark.parametrize("unit", ["D", "s", "ms", "us", "ns"])
@pytest.mark.parametrize("shape", [(), (5,), (5, 1), (1, 5, 1), (1, 1, 5, 1)])
def test_units_read_back_as_nanoseconds(path: str, unit: str, shape) -> None:
    n = int(np.prod(shape))
    data = np.array(TIMES[:n], dtype=f"datetime64[{unit}]").reshape(shape)
    f = af.open(path, "w")
    f["t"] = data
    expected = data.astype("datetime64[ns]")
    assert f["t"].dtype == np.dtype("datetime64[ns]")
    assert_same(f["t"][...], expected)
    f = reopen(f, "r+")
    assert_same(f["t"][...], expected)
    f.compact()
    assert_same(f["t"][...], expected)
    f.close()


def test_nat_and_unwritten_elements(new_file: af.File) -> None:
    a = new_file.create_array("t", (4,), "datetime64[ms]", chunks=(2,), fill_value="NaT")
    assert np.isnat(a.fill_value)
    a[1] = np.datetime64("2001-01-01T00:00:00.123", "ms")
    new_file.flush()
    expected = np.array(["NaT", "2001-01-01T00:00:00.123", "NaT", "NaT"], dtype="datetime64[ns]")
    assert_same(a[...], expected)
    assert_same(a[1], np.datetime64("2001-01-01T00:00:00.123000000", "ns"))


def test_create_array_takes_any_unit(new_file: af.File) -> None:
    a = new_file.create_array("t", (2,), "datetime64[s]")
    assert a.dtype == np.dtype("datetime64[ns]")
    assert a.element_type == "timestamp_ns"
    a[...] = np.array(["2000-01-01", "2000-01-02"], dtype="datetime64[D]")
    assert_same(a[...], np.array(["2000-01-01", "2000-01-02"], dtype="datetime64[ns]"))
    assert_same(a.fill_value, np.datetime64(0, "ns"))


@pytest.mark.parametrize("when", ["3000-01-01", "1500-06-01"])
def test_times_outside_the_nanosecond_range_are_refused(new_file: af.File, when: str) -> None:
    a = new_file.create_array("t", (2,), "datetime64[ns]")
    with pytest.raises(ValueError, match="outside the range"):
        a[...] = np.array([when, "2000-01-01"], dtype="datetime64[s]")
    with pytest.raises(ValueError, match="outside the range"):
        new_file["u"] = np.array([when], dtype="datetime64[D]")
    with pytest.raises(ValueError, match="outside the range"):
        new_file.create_array("v", (1,), "datetime64[ns]", fill_value=np.datetime64(when))
    assert_same(a[...], np.zeros(2, dtype="datetime64[ns]"))


def test_numbers_and_strings_are_not_times(new_file: af.File) -> None:
    a = new_file.create_array("t", (2,), "datetime64[ns]")
    with pytest.raises(TypeError):
        a[...] = np.array([1.5, 2.5])
    with pytest.raises(TypeError):
        a[0] = "2020-01-01"
