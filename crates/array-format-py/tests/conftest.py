"""Fixtures and helpers shared by the tests of the Python API."""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import arrayformat as af
import pytest
from _s3_stub import S3Stub


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
def fresh_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """Makes a new file path on every call: for hypothesis tests, whose
    examples share one function-scoped fixture. The files are on a tmpfs
    where there is one, since every commit to a local file is fsynced."""
    counter = itertools.count()
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        with tempfile.TemporaryDirectory(prefix="arrayformat-tests-", dir="/dev/shm") as root:
            yield lambda: os.path.join(root, f"example{next(counter)}.af")
    else:
        root = tmp_path_factory.mktemp("examples")
        yield lambda: str(root / f"example{next(counter)}.af")


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Stub]:
    """A local S3 server over ``tmp_path``: write a file at
    ``tmp_path / KEY`` and open ``s3.url(KEY)`` with ``s3.options()``."""
    stub = S3Stub(str(tmp_path))
    yield stub
    stub.close()
