"""Helpers the test modules import (fixtures are in ``conftest.py``)."""

from __future__ import annotations

import os
from typing import Any

import arrayformat as af
import numpy as np
from hypothesis import HealthCheck, settings

#: Settings of the property tests: modest example counts keep the suite
#: fast (AF_HYPOTHESIS_EXAMPLES=2000 for a longer hunt); no deadline, since
#: a first call may start the library's threads.
HYPOTHESIS = settings(
    max_examples=int(os.environ.get("AF_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def reopen(f: af.File, mode: str = "r") -> af.File:
    """Closes ``f`` (flushing it) and opens its path again."""
    f.close()
    return af.open(f.path, mode)


def assert_same(got: Any, expected: Any) -> None:
    """``got`` equals numpy's ``expected`` in value, dtype, shape and
    scalar-ness (NaN equal to NaN, NaT to NaT, element types of object
    arrays equal)."""
    if not isinstance(expected, np.ndarray):
        assert not isinstance(got, np.ndarray), f"expected a scalar, got an array {got!r}"
        assert type(got) is type(expected), (type(got), type(expected))
        if isinstance(expected, np.generic):
            assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
            np.testing.assert_array_equal(got, expected)
        else:
            assert got == expected, (got, expected)
        return
    assert isinstance(got, np.ndarray), f"expected an array, got {type(got).__name__} {got!r}"
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    if expected.dtype.kind in "fM":
        np.testing.assert_array_equal(got, expected)  # NaN and NaT compare equal here
    else:
        assert np.array_equal(got, expected), (got, expected)
    if expected.dtype.kind == "O":
        for g, e in zip(got.ravel(), expected.ravel()):
            assert type(g) is type(e), (g, e)
