"""Fixtures and helpers shared by the tests of the Python API."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

import arrayformat as af


@pytest.fixture
def path(tmp_path: Path) -> str:
    """The path of a file that does not exist yet."""
    return str(tmp_path / "test.af")


@pytest.fixture
def new_file(path: str) -> Iterator[af.File]:
    """A new, empty file open in mode ``w``; closed (and so flushed) after
    the test unless the test closed it."""
    f = af.open(path, "w")
    yield f
    if not f.closed:
        f.close()


@pytest.fixture(scope="session")
def fresh_path(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], str]:
    """Makes a new file path on every call: for hypothesis tests, whose
    examples share one function-scoped fixture."""
    root = tmp_path_factory.mktemp("examples")
    counter = itertools.count()
    return lambda: str(root / f"example{next(counter)}.af")
