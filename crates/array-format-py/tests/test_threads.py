"""One ``Array`` read from many Python threads: correct results, and reads
that run at the same time (the GIL released, the handle shared)."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import arrayformat as af
import numpy as np
from _s3_stub import S3Stub


def test_parallel_reads_are_correct(path: str) -> None:
    rng = np.random.default_rng(0)
    data = rng.standard_normal((64, 50)).astype("f4")
    with af.open(path, "w") as f:
        f.create_array("x", data.shape, "f4", chunks=(8, 7), data=data)
    with af.open(path, "r+") as f:
        f["x"][10:20, 5] = -1  # a second layer
    data[10:20, 5] = -1
    f = af.open(path, cache_bytes=0)
    a = f["x"]

    def work(seed: int) -> int:
        r = np.random.default_rng(seed)
        for _ in range(40):
            i, j = sorted(r.integers(0, 64, 2))
            k = int(r.integers(0, 50))
            step = int(r.integers(1, 4))
            np.testing.assert_array_equal(a[i : j + 1 : step, k:], data[i : j + 1 : step, k:])
            rows = r.integers(-64, 64, 5)
            np.testing.assert_array_equal(a.oindex[rows, [k, 0]], data[np.ix_(rows, [k, 0])])
        np.testing.assert_array_equal(np.asarray(a), data)
        return seed

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(work, range(16))) == list(range(16))
    f.close()


def test_reads_from_threads_overlap(tmp_path: Path, s3: S3Stub) -> None:
    """Each of N threads reads one chunk; the S3 server holds every request
    until N have arrived. The reads can only all complete if N of them are
    in flight at once, each having released the GIL (the server's own
    threads need it) and none waiting for the others to finish."""
    n = 4
    (tmp_path / "d").mkdir()
    data = np.random.default_rng(1).standard_normal((n, 8192))  # 64 KiB chunks: a frame each
    with af.open(str(tmp_path / "d" / "t.af"), "w") as f:
        f.create_array("x", data.shape, "f8", chunks=(1, 8192), data=data)
    f = af.open(s3.url("d/t.af"), storage_options=s3.options(), cache_bytes=0, io_cache_bytes=0)
    a = f["x"]

    barrier = threading.Barrier(n, timeout=30)  # only reached if the reads do not overlap
    ranges: list[str | None] = []
    broken = threading.Event()

    def hold(key: str, byte_range: str | None) -> None:
        ranges.append(byte_range)
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            broken.set()

    s3.on_get = hold
    results: dict[int, np.ndarray] = {}

    def read(i: int) -> None:
        results[i] = a[i]

    threads = [threading.Thread(target=read, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    s3.on_get = None
    assert not broken.is_set(), "the reads did not run at the same time"
    assert len(ranges) == n
    assert len(set(ranges)) == n  # one request per chunk, none repeated
    for i in range(n):
        np.testing.assert_array_equal(results[i], data[i])
    f.close()


def test_strided_writes_from_threads_lose_nothing(tmp_path: Path) -> None:
    """Threads writing interleaved elements of the same chunk (each write
    reads, patches and writes back a region) must not undo each other."""
    n_threads, rounds, width = 2, 300, 20
    f = af.open(str(tmp_path / "t.af"), "w")
    a = f.create_array("x", (n_threads * (rounds + width),), "i4", chunks=(4096,))
    expected = np.zeros(a.shape, "i4")
    for t in range(n_threads):
        for k in range(rounds):
            start = t + n_threads * k
            expected[start : start + n_threads * width : n_threads] = t + 1
            expected[start + n_threads * width] = t + 1

    def work(t: int, barrier: threading.Barrier) -> None:
        barrier.wait()
        for k in range(rounds):
            start = t + n_threads * k
            a[start : start + n_threads * width : n_threads] = t + 1
            a.oindex[[start + n_threads * width]] = t + 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: a lost update shows
    try:
        for _ in range(5):
            a[...] = 0
            barrier = threading.Barrier(n_threads)
            with ThreadPoolExecutor(n_threads) as pool:
                list(pool.map(work, range(n_threads), [barrier] * n_threads))
            np.testing.assert_array_equal(a[...], expected)
    finally:
        sys.setswitchinterval(interval)
    f.close()
