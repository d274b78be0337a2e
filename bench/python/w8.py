"""W8: array-format from Python, side by side with h5py, zarr-python 3 and
tensorstore, in one run.

    python bench/python/w8.py                 # everything, default sizes
    AF_PYBENCH_SCALE=0.1 python bench/python/w8.py

Every measurement runs in a child process of its own (a fresh interpreter,
so reads start with the library's caches empty and open the file anew),
systems alternating within each repetition, so a slow stretch of the shared
machine hits every system alike. The parent collects the children's JSON
and writes a markdown table with ratios (``bench/results/python-w8.md``)
and the raw figures (``bench/results/python-w8.json``).

Workloads (same data and compression for every system):

- ``w1``: N arrays of 10,000 random int32, one chunk each, lz4 and none;
  write everything and close (durable: fsync'd), then in a fresh process
  open and read every array whole, one call per array.
- ``w2``: one 4096 x 4096 f32 array (a seeded random-walk field) in
  256 x 256 chunks, zstd level 3; in a fresh process with caches off, read
  2,000 random 256 x 256 windows at random (unaligned) offsets.
- ``elem``: ``a[i, j]`` at random positions of the W2 array, caches on and
  warm (the whole array read once first).
- ``mem``: a 16384 x 16384 f32 array (1 GiB, lz4) read whole into numpy;
  peak RSS growth over the process's RSS before the read.

Knobs (environment): AF_PYBENCH_SCALE (default 1), AF_PYBENCH_W1_ARRAYS,
AF_PYBENCH_REPS (default 5), AF_PYBENCH_SYSTEMS (comma list of af, h5py,
zarr, tensorstore), AF_PYBENCH_WORKLOADS (comma list of w1, w2, elem, mem,
limits), AF_PYBENCH_DIR (scratch directory; a fresh temporary one by
default), AF_PYBENCH_OUT (result stem; bench/results/python-w8 by default).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

# ---------------------------------------------------------------------------
# sizes


def _env_float(name: str, default: float) -> float:
    v = os.environ.get(name)
    return float(v) if v else default


def _env_int(name: str, default: int) -> int:
    v = os.environ.get(name)
    return int(v) if v else default


SCALE = _env_float("AF_PYBENCH_SCALE", 1.0)
REPS = _env_int("AF_PYBENCH_REPS", 5)
W1_LEN = 10_000
W1_ARRAYS = _env_int("AF_PYBENCH_W1_ARRAYS", max(10, round(2_000 * SCALE)))
W1_ROWS_PER_SHARD = 1_000
W2_SIDE = 4096 if SCALE >= 0.25 else 2048
W2_CHUNK = 256
W2_WINDOW = 256
W2_WINDOWS = max(50, round(2_000 * SCALE))
W2_SHARD_CHUNKS = 8  # zarr / tensorstore shards of 8 x 8 chunks
W2_ZSTD_LEVEL = 3
ELEM_READS = max(200, round(5_000 * SCALE))
MEM_SIDE = 16384 if SCALE >= 0.5 else 8192
MEM_CHUNK = 1024
ALL_SYSTEMS = ("af", "h5py", "zarr", "tensorstore", "zarr_chunks", "ts_chunks")
NAMES = {
    "af": "arrayformat",
    "h5py": "h5py",
    "zarr": "zarr-python",
    "tensorstore": "tensorstore",
    "zarr_chunks": "zarr-python, chunk files",
    "ts_chunks": "tensorstore, chunk files",
}
GIB = 1024**3

# ---------------------------------------------------------------------------
# data (generated in each child from fixed seeds; never timed)


def w1_data(n: int) -> np.ndarray:
    """N rows of 10,000 random int32: row i is array i."""
    rng = np.random.default_rng(1)
    return rng.integers(-(2**31), 2**31, size=(n, W1_LEN), dtype=np.int32)


def w2_field(side: int) -> np.ndarray:
    """A seeded random-walk field: the 2-D running sum of Gaussian steps,
    rounded to 1/1024 (a measured quantity's resolution), as f32."""
    rng = np.random.default_rng(2)
    steps = rng.standard_normal((side, side), dtype=np.float32)
    np.cumsum(steps, axis=0, out=steps)
    np.cumsum(steps, axis=1, out=steps)
    steps *= np.float32(1.0 / side)
    np.round(steps * 1024, out=steps)
    steps *= np.float32(1.0 / 1024)
    return steps


def w2_offsets(side: int, count: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, side - W2_WINDOW + 1, size=(count, 2))


def elem_positions(side: int, count: int) -> np.ndarray:
    rng = np.random.default_rng(4)
    return rng.integers(0, side, size=(count, 2))


def mem_data(side: int) -> np.ndarray:
    """1 GiB of f32 (at full size) that lz4 compresses about 2x: a smooth
    ramp plus a small seeded noise, rounded."""
    rows = np.arange(side, dtype=np.float32)[:, None] * np.float32(0.25)
    out = np.empty((side, side), dtype=np.float32)
    rng = np.random.default_rng(5)
    band = 512
    cols = np.arange(side, dtype=np.float32)[None, :] * np.float32(0.5)
    for r0 in range(0, side, band):
        noise = rng.integers(0, 16, size=(band, side)).astype(np.float32)
        out[r0 : r0 + band] = rows[r0 : r0 + band] + cols + noise
    return out


# ---------------------------------------------------------------------------
# durability of the peers' writes


def fsync_tree(path: str) -> None:
    """fsync every file under ``path`` (or the file itself) and every
    directory up to and including its parent: what array-format does for
    each commit, done here for the peers that do not."""
    p = Path(path)
    dirs = [p.parent]
    if p.is_dir():
        for root, _dirnames, files in os.walk(p):
            dirs.append(Path(root))
            for f in files:
                fd = os.open(os.path.join(root, f), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
    else:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for d in dirs:
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def du(path: str) -> int:
    p = Path(path)
    if p.is_file():
        total = p.stat().st_size
        if p.suffix == ".af":  # array-format's layers sit beside the base: {stem}.N.af
            total += sum(q.stat().st_size for q in p.parent.glob(f"{p.stem}.*.af"))
        return total
    total = 0
    for root, _d, files in os.walk(p):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


# ---------------------------------------------------------------------------
# the systems


def af_check_codec(path: str, codec: str) -> dict[str, Any]:
    """Checks that every array of the file at ``path`` records ``codec``,
    the one ``create_array`` was asked for."""
    import arrayformat

    with arrayformat.open(path) as f:
        have = sorted({str(f[name].codec) for name in f})
    if have != [codec]:
        raise RuntimeError(f"{path}: the arrays record codecs {have}, not {codec!r}")
    return {"codec_stored": codec}


class ArrayFormat:
    name = "af"

    def __init__(self) -> None:
        import arrayformat

        self.af = arrayformat

    def check_codec(self, path: str, codec: str) -> dict[str, Any]:
        return af_check_codec(path, codec)

    def path(self, base: str, what: str) -> str:
        return os.path.join(base, f"{what}.af")

    def w1_write(self, path: str, data: np.ndarray, codec: str) -> dict[str, float]:
        af = self.af
        t0 = time.perf_counter()
        f = af.open(path, mode="w")
        for i in range(len(data)):
            f.create_array(f"a{i}", data=data[i], chunks=(W1_LEN,), codec=codec)
        t1 = time.perf_counter()
        f.close()  # flush: one durable (fsync'd) layer
        t2 = time.perf_counter()
        return {"write_s": t1 - t0, "close_s": t2 - t1}

    def w1_read(self, path: str, n: int) -> tuple[dict[str, float], list[np.ndarray]]:
        t0 = time.perf_counter()
        f = self.af.open(path)
        t1 = time.perf_counter()
        out = [f[f"a{i}"][...] for i in range(n)]
        t2 = time.perf_counter()
        return {"open_s": t1 - t0, "read_s": t2 - t1}, out

    def w2_write(self, path: str, field: np.ndarray) -> None:
        with self.af.open(path, mode="w") as f:
            f.create_array(
                "w2", data=field, chunks=(W2_CHUNK, W2_CHUNK), codec=f"zstd:{W2_ZSTD_LEVEL}"
            )

    def open_2d(self, path: str, cache: bool) -> Any:
        if cache:
            f = self.af.open(path)
        else:
            f = self.af.open(path, cache_bytes=0, io_cache_bytes=0)
        self._keep = f
        return f["w2"]

    def window(self, a: Any, r: int, c: int) -> np.ndarray:
        return a[r : r + W2_WINDOW, c : c + W2_WINDOW]

    def element(self, a: Any, i: int, j: int) -> Any:
        return a[i, j]

    def whole(self, a: Any) -> np.ndarray:
        return np.asarray(a)

    def mem_write(self, path: str, data: np.ndarray) -> None:
        with self.af.open(path, mode="w") as f:
            f.create_array("m", data=data, chunks=(MEM_CHUNK, MEM_CHUNK), codec="lz4")

    def open_mem(self, path: str) -> Any:
        f = self.af.open(path)
        self._keep = f
        return f["m"]


class H5py:
    name = "h5py"

    def __init__(self) -> None:
        import h5py
        import hdf5plugin

        self.h5py = h5py
        self.plugin = hdf5plugin

    def path(self, base: str, what: str) -> str:
        return os.path.join(base, f"{what}.h5")

    def _filter(self, codec: str) -> dict[str, Any]:
        if codec == "lz4":
            return dict(self.plugin.LZ4())
        if codec == "zstd":
            return dict(self.plugin.Zstd(clevel=W2_ZSTD_LEVEL))
        return {}

    def w1_write(self, path: str, data: np.ndarray, codec: str) -> dict[str, float]:
        flt = self._filter(codec)
        t0 = time.perf_counter()
        f = self.h5py.File(path, "w")
        for i in range(len(data)):
            f.create_dataset(f"a{i}", data=data[i], chunks=(W1_LEN,), **flt)
        t1 = time.perf_counter()
        f.close()
        fsync_tree(path)
        t2 = time.perf_counter()
        return {"write_s": t1 - t0, "close_s": t2 - t1}

    def w1_read(self, path: str, n: int) -> tuple[dict[str, float], list[np.ndarray]]:
        t0 = time.perf_counter()
        f = self.h5py.File(path, "r")
        t1 = time.perf_counter()
        out = [f[f"a{i}"][...] for i in range(n)]
        t2 = time.perf_counter()
        self._keep = f
        return {"open_s": t1 - t0, "read_s": t2 - t1}, out

    def w2_write(self, path: str, field: np.ndarray) -> None:
        with self.h5py.File(path, "w") as f:
            f.create_dataset("w2", data=field, chunks=(W2_CHUNK, W2_CHUNK), **self._filter("zstd"))

    def open_2d(self, path: str, cache: bool) -> Any:
        if cache:
            # A chunk cache that holds the whole array (the default 1 MiB
            # holds four of its 256 KiB chunks).
            f = self.h5py.File(path, "r", rdcc_nbytes=256 * 2**20, rdcc_nslots=10007)
        else:
            f = self.h5py.File(path, "r", rdcc_nbytes=0)
        self._keep = f
        return f["w2"]

    def window(self, a: Any, r: int, c: int) -> np.ndarray:
        return a[r : r + W2_WINDOW, c : c + W2_WINDOW]

    def element(self, a: Any, i: int, j: int) -> Any:
        return a[i, j]

    def whole(self, a: Any) -> np.ndarray:
        return a[...]

    def mem_write(self, path: str, data: np.ndarray) -> None:
        with self.h5py.File(path, "w") as f:
            f.create_dataset("m", data=data, chunks=(MEM_CHUNK, MEM_CHUNK), **self._filter("lz4"))

    def open_mem(self, path: str) -> Any:
        f = self.h5py.File(path, "r")
        self._keep = f
        return f["m"]


def _zarr_codec(codec: str) -> list[Any] | None:
    from zarr.codecs import BloscCodec, ZstdCodec

    if codec == "lz4":
        # Plain lz4 inside blosc (no shuffle), as array-format and h5py's
        # LZ4 filter store it.
        return [BloscCodec(cname="lz4", clevel=5, shuffle="noshuffle", typesize=4)]
    if codec == "zstd":
        return [ZstdCodec(level=W2_ZSTD_LEVEL, checksum=False)]
    return None


class Zarr:
    """zarr-python 3 on a LocalStore. W1's N arrays are the rows of one
    [N, 10000] array with row chunks, 1,000 rows to a shard (the layout of
    the Rust benchmarks' zarrs peer: one file per array is what the single
    file avoids); W2's array is sharded 8 x 8 chunks to a shard."""

    name = "zarr"

    def __init__(self) -> None:
        import zarr

        self.zarr = zarr

    def path(self, base: str, what: str) -> str:
        return os.path.join(base, f"{what}.zarr")

    def _store(self, path: str, mode: str) -> Any:
        from zarr.storage import LocalStore

        return LocalStore(path, read_only=mode == "r")

    def w1_write(self, path: str, data: np.ndarray, codec: str) -> dict[str, float]:
        n = len(data)
        t0 = time.perf_counter()
        z = self.zarr.create_array(
            self._store(path, "w"),
            shape=(n, W1_LEN),
            chunks=(1, W1_LEN),
            shards=(min(W1_ROWS_PER_SHARD, n), W1_LEN),
            dtype="int32",
            compressors=_zarr_codec(codec),
            fill_value=0,
            overwrite=True,
        )
        for r0 in range(0, n, W1_ROWS_PER_SHARD):
            z[r0 : r0 + W1_ROWS_PER_SHARD] = data[r0 : r0 + W1_ROWS_PER_SHARD]
        t1 = time.perf_counter()
        fsync_tree(path)
        t2 = time.perf_counter()
        return {"write_s": t1 - t0, "close_s": t2 - t1}

    def w1_read(self, path: str, n: int) -> tuple[dict[str, float], list[np.ndarray]]:
        t0 = time.perf_counter()
        z = self.zarr.open_array(self._store(path, "r"), mode="r")
        t1 = time.perf_counter()
        out = [z[i] for i in range(n)]
        t2 = time.perf_counter()
        return {"open_s": t1 - t0, "read_s": t2 - t1}, out

    def w2_write(self, path: str, field: np.ndarray) -> None:
        side = field.shape[0]
        shard = min(W2_CHUNK * W2_SHARD_CHUNKS, side)
        z = self.zarr.create_array(
            self._store(path, "w"),
            shape=field.shape,
            chunks=(W2_CHUNK, W2_CHUNK),
            shards=(shard, shard),
            dtype="float32",
            compressors=_zarr_codec("zstd"),
            fill_value=0.0,
            overwrite=True,
        )
        z[...] = field

    def open_2d(self, path: str, cache: bool) -> Any:
        # zarr-python 3 has no chunk cache: both cases read alike.
        return self.zarr.open_array(self._store(path, "r"), mode="r")

    def window(self, a: Any, r: int, c: int) -> np.ndarray:
        return a[r : r + W2_WINDOW, c : c + W2_WINDOW]

    def element(self, a: Any, i: int, j: int) -> Any:
        return a[i, j]

    def whole(self, a: Any) -> np.ndarray:
        return a[...]

    def mem_write(self, path: str, data: np.ndarray) -> None:
        z = self.zarr.create_array(
            self._store(path, "w"),
            shape=data.shape,
            chunks=(MEM_CHUNK, MEM_CHUNK),
            dtype="float32",
            compressors=_zarr_codec("lz4"),
            fill_value=0.0,
            overwrite=True,
        )
        z[...] = data

    def open_mem(self, path: str) -> Any:
        return self.zarr.open_array(self._store(path, "r"), mode="r")


def _ts_codecs(codec: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"name": "bytes", "configuration": {"endian": "little"}}]
    if codec == "lz4":
        out.append(
            {
                "name": "blosc",
                "configuration": {
                    "cname": "lz4",
                    "clevel": 5,
                    "shuffle": "noshuffle",
                    "typesize": 4,
                    "blocksize": 0,
                },
            }
        )
    elif codec == "zstd":
        out.append({"name": "zstd", "configuration": {"level": W2_ZSTD_LEVEL, "checksum": False}})
    return out


def _ts_sharded(shape: list[int], shard: list[int], chunk: list[int], dtype: str, codec: str) -> dict[str, Any]:
    return {
        "shape": shape,
        "data_type": dtype,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": shard}},
        "chunk_key_encoding": {"name": "default"},
        "fill_value": 0,
        "codecs": [
            {
                "name": "sharding_indexed",
                "configuration": {
                    "chunk_shape": chunk,
                    "codecs": _ts_codecs(codec),
                    "index_codecs": [
                        {"name": "bytes", "configuration": {"endian": "little"}},
                        {"name": "crc32c"},
                    ],
                    "index_location": "end",
                },
            }
        ],
    }


class TensorStore:
    """tensorstore's zarr3 driver on its file kvstore (which fsyncs what it
    writes by default), the same layouts and codecs as the zarr peer."""

    name = "tensorstore"

    def __init__(self) -> None:
        import tensorstore

        self.ts = tensorstore

    def path(self, base: str, what: str) -> str:
        return os.path.join(base, f"{what}.ts.zarr")

    def _open(self, path: str, metadata: dict[str, Any] | None = None, cache: int = 0) -> Any:
        spec: dict[str, Any] = {
            "driver": "zarr3",
            "kvstore": {"driver": "file", "path": path},
        }
        if metadata is not None:
            spec.update(metadata=metadata, create=True, delete_existing=True)
        ctx = self.ts.Context({"cache_pool": {"total_bytes_limit": cache}})
        return self.ts.open(spec, context=ctx).result()

    def w1_write(self, path: str, data: np.ndarray, codec: str) -> dict[str, float]:
        n = len(data)
        t0 = time.perf_counter()
        meta = _ts_sharded([n, W1_LEN], [min(W1_ROWS_PER_SHARD, n), W1_LEN], [1, W1_LEN], "int32", codec)
        t = self._open(path, meta)
        for r0 in range(0, n, W1_ROWS_PER_SHARD):
            r1 = min(r0 + W1_ROWS_PER_SHARD, n)
            t[r0:r1].write(data[r0:r1]).result()
        t1 = time.perf_counter()
        fsync_tree(path)  # its own writes are fsync'd; this adds the directories
        t2 = time.perf_counter()
        return {"write_s": t1 - t0, "close_s": t2 - t1}

    def w1_read(self, path: str, n: int) -> tuple[dict[str, float], list[np.ndarray]]:
        t0 = time.perf_counter()
        t = self._open(path)
        t1 = time.perf_counter()
        out = [t[i].read().result() for i in range(n)]
        t2 = time.perf_counter()
        return {"open_s": t1 - t0, "read_s": t2 - t1}, out

    def w2_write(self, path: str, field: np.ndarray) -> None:
        side = field.shape[0]
        shard = min(W2_CHUNK * W2_SHARD_CHUNKS, side)
        meta = _ts_sharded([side, side], [shard, shard], [W2_CHUNK, W2_CHUNK], "float32", "zstd")
        t = self._open(path, meta)
        t.write(field).result()

    def open_2d(self, path: str, cache: bool) -> Any:
        return self._open(path, cache=256 * 2**20 if cache else 0)

    def window(self, a: Any, r: int, c: int) -> np.ndarray:
        return a[r : r + W2_WINDOW, c : c + W2_WINDOW].read().result()

    def element(self, a: Any, i: int, j: int) -> Any:
        return a[i, j].read().result()

    def whole(self, a: Any) -> np.ndarray:
        return a.read().result()

    def mem_write(self, path: str, data: np.ndarray) -> None:
        side = data.shape[0]
        meta = {
            "shape": [side, side],
            "data_type": "float32",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [MEM_CHUNK, MEM_CHUNK]}},
            "chunk_key_encoding": {"name": "default"},
            "fill_value": 0,
            "codecs": _ts_codecs("lz4"),
        }
        t = self._open(path, meta)
        t.write(data).result()

    def open_mem(self, path: str) -> Any:
        return self._open(path)


class ZarrChunks(Zarr):
    """zarr-python 3 with W2's array unsharded: one file per chunk (no
    shard index to read first). Runs W2 and the one-element reads only."""

    name = "zarr_chunks"

    def path(self, base: str, what: str) -> str:
        return os.path.join(base, f"{what}.chunks.zarr")

    def w2_write(self, path: str, field: np.ndarray) -> None:
        z = self.zarr.create_array(
            self._store(path, "w"),
            shape=field.shape,
            chunks=(W2_CHUNK, W2_CHUNK),
            dtype="float32",
            compressors=_zarr_codec("zstd"),
            fill_value=0.0,
            overwrite=True,
        )
        z[...] = field


class TensorStoreChunks(TensorStore):
    """tensorstore with W2's array unsharded: one file per chunk. Runs W2
    and the one-element reads only."""

    name = "ts_chunks"

    def path(self, base: str, what: str) -> str:
        return os.path.join(base, f"{what}.chunks.ts.zarr")

    def w2_write(self, path: str, field: np.ndarray) -> None:
        side = field.shape[0]
        meta = {
            "shape": [side, side],
            "data_type": "float32",
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [W2_CHUNK, W2_CHUNK]}},
            "chunk_key_encoding": {"name": "default"},
            "fill_value": 0,
            "codecs": _ts_codecs("zstd"),
        }
        t = self._open(path, meta)
        t.write(field).result()


SYSTEMS: dict[str, Callable[[], Any]] = {
    "af": ArrayFormat,
    "h5py": H5py,
    "zarr": Zarr,
    "tensorstore": TensorStore,
    "zarr_chunks": ZarrChunks,
    "ts_chunks": TensorStoreChunks,
}
#: Systems that run W2 and the one-element reads only.
W2_ONLY = ("zarr_chunks", "ts_chunks")

# ---------------------------------------------------------------------------
# memory measurement


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# the child: one measurement of one system


def child(task: dict[str, Any]) -> dict[str, Any]:
    kind = task["kind"]
    base = task["dir"]
    if kind == "limits":
        return limits(task)
    sys_ = SYSTEMS[task["system"]]()
    if kind == "w1_write":
        data = w1_data(task["n"])
        path = sys_.path(base, f"w1-{task['codec']}")
        r = sys_.w1_write(path, data, task["codec"])
        r["stored_bytes_as_written"] = du(path)
        if hasattr(sys_, "check_codec"):
            r.update(sys_.check_codec(path, task["codec"]))
        r["stored_bytes"] = du(path)
        return r
    if kind == "w1_read":
        n = task["n"]
        path = sys_.path(base, f"w1-{task['codec']}")
        r, out = sys_.w1_read(path, n)
        data = w1_data(n)
        r["ok"] = len(out) == n and all(np.array_equal(np.asarray(o).reshape(-1), data[i]) for i, o in enumerate(out))
        return r
    if kind == "w2_write":
        field = w2_field(task["side"])
        path = sys_.path(base, "w2")
        t0 = time.perf_counter()
        sys_.w2_write(path, field)
        r = {"write_s": time.perf_counter() - t0, "stored_bytes_as_written": du(path)}
        if hasattr(sys_, "check_codec"):
            r.update(sys_.check_codec(path, f"zstd:{W2_ZSTD_LEVEL}"))
        r["stored_bytes"] = du(path)
        return r
    if kind == "w2_windows":
        side = task["side"]
        path = sys_.path(base, "w2")
        t0 = time.perf_counter()
        a = sys_.open_2d(path, cache=False)
        open_s = time.perf_counter() - t0
        offs = w2_offsets(side, task["count"])
        times = np.empty(len(offs))
        checks = []
        for k, (r, c) in enumerate(offs.tolist()):
            t = time.perf_counter()
            w = sys_.window(a, r, c)
            times[k] = time.perf_counter() - t
            if k % 97 == 0:
                checks.append((r, c, np.asarray(w)))
        field = w2_field(side)
        ok = all(np.array_equal(w, field[r : r + W2_WINDOW, c : c + W2_WINDOW]) for r, c, w in checks)
        return {
            "open_s": open_s,
            "mean_ms": float(times.mean() * 1e3),
            "p50_ms": float(np.percentile(times, 50) * 1e3),
            "p99_ms": float(np.percentile(times, 99) * 1e3),
            "ok": ok,
        }
    if kind == "elem":
        side = task["side"]
        path = sys_.path(base, "w2")
        a = sys_.open_2d(path, cache=True)
        whole = np.asarray(sys_.whole(a))
        pos = elem_positions(side, task["count"]).tolist()
        # Warm: one untimed pass over the same positions puts every chunk
        # they touch in the caches (a whole-array read need not: arrayformat
        # decodes whole chunks straight into the output, past its cache).
        for i, j in pos:
            sys_.element(a, i, j)
        t0 = time.perf_counter()
        vals = [sys_.element(a, i, j) for i, j in pos]
        secs = time.perf_counter() - t0
        ok = all(float(np.asarray(v)) == float(whole[i, j]) for v, (i, j) in zip(vals[:200], pos[:200]))
        return {"mean_us": secs / len(pos) * 1e6, "ok": ok}
    if kind == "mem_write":
        data = mem_data(task["side"])
        path = sys_.path(base, "mem")
        t0 = time.perf_counter()
        sys_.mem_write(path, data)
        r = {"write_s": time.perf_counter() - t0, "stored_bytes_as_written": du(path)}
        if hasattr(sys_, "check_codec"):
            r.update(sys_.check_codec(path, "lz4"))
        r["stored_bytes"] = du(path)
        return r
    if kind == "mem_read":
        side = task["side"]
        path = sys_.path(base, "mem")
        a = sys_.open_mem(path)
        reset = _reset_peak()
        before = _status("VmRSS")
        t0 = time.perf_counter()
        x = sys_.whole(a)
        secs = time.perf_counter() - t0
        peak = _status("VmHWM")
        after = _status("VmRSS")
        nbytes = side * side * 4
        ok = x.shape == (side, side) and x.dtype == np.float32
        ok = ok and float(x[side // 3, side // 5]) == float(mem_data_point(side // 3, side // 5, side))
        return {
            "read_s": secs,
            "gib_s": nbytes / GIB / secs,
            "peak_growth_bytes": peak - before,
            "rss_growth_bytes": after - before,
            "nbytes": nbytes,
            "peak_ratio": (peak - before) / nbytes,
            "hwm_reset": reset,
            "ok": bool(ok),
        }
    raise ValueError(kind)


def mem_data_point(i: int, j: int, side: int) -> float:
    # The value mem_data puts at (i, j), without building the whole array.
    rng = np.random.default_rng(5)
    band = 512
    for r0 in range(0, side, band):
        noise = rng.integers(0, 16, size=(band, side)).astype(np.float32)
        if r0 <= i < r0 + band:
            return float(np.float32(i) * np.float32(0.25) + np.float32(j) * np.float32(0.5) + noise[i - r0, j])
    raise IndexError(i)


def limits(task: dict[str, Any]) -> dict[str, Any]:
    """The machine's limits for the same bytes, on one thread, from Python."""
    import numcodecs

    out: dict[str, Any] = {}
    # W1: copying each 40 KB array into a fresh numpy array, one call per
    # array (the cost of a read that only copies), and one large memcpy.
    n = task["n"]
    data = w1_data(n)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        copies = [row.copy() for row in data]
        best = min(best, time.perf_counter() - t0)
        del copies
    out["w1_copy_per_array_gib_s"] = data.nbytes / GIB / best
    dst = np.empty_like(data)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(dst, data)
        best = min(best, time.perf_counter() - t0)
    out["w1_memcpy_gib_s"] = data.nbytes / GIB / best
    lz4 = numcodecs.LZ4(acceleration=1)
    frames = [lz4.encode(row) for row in data]
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for fr in frames:
            lz4.decode(fr)
        best = min(best, time.perf_counter() - t0)
    out["w1_lz4_decode_gib_s"] = data.nbytes / GIB / best
    # W2: zstd decoding, on one thread, of the chunks each window touches.
    side = task["side"]
    field = w2_field(side)
    zstd = numcodecs.Zstd(level=W2_ZSTD_LEVEL)
    nc = side // W2_CHUNK
    chunks = {
        (i, j): zstd.encode(np.ascontiguousarray(field[i * W2_CHUNK : (i + 1) * W2_CHUNK, j * W2_CHUNK : (j + 1) * W2_CHUNK]))
        for i in range(nc)
        for j in range(nc)
    }
    out["w2_zstd_ratio"] = field.nbytes / sum(len(c) for c in chunks.values())
    offs = w2_offsets(side, task["count"])
    touched = 0
    t0 = time.perf_counter()
    for r, c in offs.tolist():
        for i in range(r // W2_CHUNK, (r + W2_WINDOW - 1) // W2_CHUNK + 1):
            for j in range(c // W2_CHUNK, (c + W2_WINDOW - 1) // W2_CHUNK + 1):
                zstd.decode(chunks[(i, j)])
                touched += 1
    secs = time.perf_counter() - t0
    out["w2_zstd_window_ms"] = secs / len(offs) * 1e3
    out["w2_chunks_per_window"] = touched / len(offs)
    # One element: numpy indexing of an in-memory array.
    pos = elem_positions(side, task["elems"]).tolist()
    t0 = time.perf_counter()
    for i, j in pos:
        field[i, j]
    out["elem_numpy_us"] = (time.perf_counter() - t0) / len(pos) * 1e6
    # Memory: a fresh 1 GiB numpy array filled by one copy.
    return out


# ---------------------------------------------------------------------------
# the parent


def run_child(task: dict[str, Any]) -> dict[str, Any]:
    # Durable writes time their fsyncs: the dirty pages an earlier child
    # left to the kernel's writeback would otherwise be flushed inside
    # whichever system's fsync comes next (untimed here, for every system).
    if task["kind"].endswith("_write"):
        os.sync()
    env = dict(os.environ)
    # No workload uses BLAS; OpenBLAS's idle threads spinning after numpy's
    # import took 6% of a 2-core machine in `perf` (every system alike).
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(task)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise RuntimeError(f"child failed: {task}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def drop_dir(base: str, system: Any, what: str) -> None:
    p = system.path(base, what)
    if os.path.isdir(p):
        shutil.rmtree(p)
    elif os.path.exists(p):
        os.remove(p)
    # array-format's layers sit beside the base: {stem}.N.af
    stem = Path(p).name[: -len(".af")] if p.endswith(".af") else None
    if stem:
        for q in Path(base).glob(f"{stem}.*.af"):
            q.unlink()


class _Paths:
    """Just the path naming of each system, without importing it."""

    ext = {
        "af": ".af",
        "h5py": ".h5",
        "zarr": ".zarr",
        "tensorstore": ".ts.zarr",
        "zarr_chunks": ".chunks.zarr",
        "ts_chunks": ".chunks.ts.zarr",
    }

    def __init__(self, name: str) -> None:
        self.name = name

    def path(self, base: str, what: str) -> str:
        return os.path.join(base, what + self.ext[self.name])


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main() -> None:
    systems = [s.strip() for s in os.environ.get("AF_PYBENCH_SYSTEMS", ",".join(ALL_SYSTEMS)).split(",") if s.strip()]
    workloads = [
        w.strip()
        for w in os.environ.get("AF_PYBENCH_WORKLOADS", "w1,w2,elem,mem,limits").split(",")
        if w.strip()
    ]
    out_stem = Path(os.environ.get("AF_PYBENCH_OUT", str(REPO / "bench" / "results" / "python-w8")))
    given = os.environ.get("AF_PYBENCH_DIR")
    base = given or tempfile.mkdtemp(prefix="af-pybench-")
    os.makedirs(base, exist_ok=True)
    res: dict[str, Any] = {
        "config": {
            "scale": SCALE,
            "reps": REPS,
            "w1_arrays": W1_ARRAYS,
            "w2_side": W2_SIDE,
            "w2_windows": W2_WINDOWS,
            "elem_reads": ELEM_READS,
            "mem_side": MEM_SIDE,
            "systems": systems,
            "workloads": workloads,
            "dir": base,
        },
        "machine": machine(),
        "runs": {},
    }
    runs: dict[str, Any] = res["runs"]

    def add(key: str, system: str, r: dict[str, Any]) -> None:
        runs.setdefault(key, {}).setdefault(system, []).append(r)
        if r.get("ok") is False:
            raise RuntimeError(f"{key} {system}: wrong data read")

    t_start = time.time()
    try:
        if "w1" in workloads:
            w1_systems = [s for s in systems if s not in W2_ONLY]
            for codec in ("lz4", "none"):
                for rep in range(REPS):
                    for s in w1_systems:
                        drop_dir(base, _Paths(s), f"w1-{codec}")
                        r = run_child({"kind": "w1_write", "system": s, "codec": codec, "n": W1_ARRAYS, "dir": base})
                        add(f"w1_write_{codec}", s, r)
                        log(f"w1 write {codec} rep {rep} {s}: {r}")
                for rep in range(REPS):
                    for s in w1_systems:
                        r = run_child({"kind": "w1_read", "system": s, "codec": codec, "n": W1_ARRAYS, "dir": base})
                        add(f"w1_read_{codec}", s, r)
                        log(f"w1 read {codec} rep {rep} {s}: {r}")
                for s in w1_systems:
                    drop_dir(base, _Paths(s), f"w1-{codec}")
        if "w2" in workloads or "elem" in workloads:
            for s in systems:
                drop_dir(base, _Paths(s), "w2")
                r = run_child({"kind": "w2_write", "system": s, "side": W2_SIDE, "dir": base})
                add("w2_write", s, r)
                log(f"w2 write {s}: {r}")
            for rep in range(REPS):
                for s in systems:
                    if "w2" in workloads:
                        r = run_child({"kind": "w2_windows", "system": s, "side": W2_SIDE, "count": W2_WINDOWS, "dir": base})
                        add("w2_windows", s, r)
                        log(f"w2 windows rep {rep} {s}: {r}")
                    if "elem" in workloads:
                        r = run_child({"kind": "elem", "system": s, "side": W2_SIDE, "count": ELEM_READS, "dir": base})
                        add("elem", s, r)
                        log(f"elem rep {rep} {s}: {r}")
        if "mem" in workloads:
            mem_systems = [s for s in systems if s not in W2_ONLY]
            for s in mem_systems:
                drop_dir(base, _Paths(s), "mem")
                r = run_child({"kind": "mem_write", "system": s, "side": MEM_SIDE, "dir": base})
                add("mem_write", s, r)
                log(f"mem write {s}: {r}")
            for rep in range(min(REPS, 3)):
                for s in mem_systems:
                    r = run_child({"kind": "mem_read", "system": s, "side": MEM_SIDE, "dir": base})
                    add("mem_read", s, r)
                    log(f"mem read rep {rep} {s}: {r}")
            for s in mem_systems:
                drop_dir(base, _Paths(s), "mem")
        if "limits" in workloads:
            for rep in range(min(REPS, 3)):
                r = run_child({"kind": "limits", "n": W1_ARRAYS, "side": W2_SIDE, "count": W2_WINDOWS, "elems": ELEM_READS, "dir": base})
                add("limits", "limit", r)
                log(f"limits rep {rep}: {r}")
    finally:
        if not given:
            shutil.rmtree(base, ignore_errors=True)
    res["config"]["wall_s"] = time.time() - t_start
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    Path(str(out_stem) + ".json").write_text(json.dumps(res, indent=1) + "\n")
    md = report(res)
    Path(str(out_stem) + ".md").write_text(md)
    print(md)


def machine() -> dict[str, Any]:
    import importlib.metadata as md

    versions = {}
    for p in ("arrayformat", "numpy", "h5py", "hdf5plugin", "zarr", "numcodecs", "tensorstore"):
        try:
            versions[p] = md.version(p)
        except md.PackageNotFoundError:
            versions[p] = None
    try:
        import h5py

        versions["libhdf5"] = h5py.version.hdf5_version
    except ImportError:
        pass
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    commit = os.environ.get("AF_PYBENCH_COMMIT") or subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_at_start": os.getloadavg(),
        "commit": commit,
        "versions": versions,
    }


# ---------------------------------------------------------------------------
# the report


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def _fmt(x: float, digits: int = 3) -> str:
    if x != x:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}g}" if x < 1 else f"{x:.{digits - 1}f}"


def _table(rows: list[tuple[str, dict[str, float], bool, str]], systems: list[str]) -> list[str]:
    lines = ["| workload | unit | " + " | ".join(NAMES[s] for s in systems) + " |"]
    lines.append("| --- | --- | " + " | ".join("---:" for _ in systems) + " |")
    for label, v, higher, unit in rows:
        if not any(s in v for s in systems):
            continue
        cells = []
        ours = v.get("af", float("nan"))
        for s in systems:
            x = v.get(s, float("nan"))
            if s == "af" or x != x or ours != ours:
                cells.append(_fmt(x))
                continue
            ratio = ours / x if higher else x / ours
            if unit == "x":
                tag = "af less" if ratio > 1 else "peer less"
            else:
                tag = "af faster" if ratio > 1 else "peer faster"
            cells.append(f"{_fmt(x)} ({ratio:.2f}x, {tag})")
        lines.append(f"| {label} | {unit} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def report(res: dict[str, Any]) -> str:
    runs = res["runs"]
    cfg = res["config"]
    systems = list(cfg["systems"])

    def med(key: str, system: str, field: str) -> float:
        rs = runs.get(key, {}).get(system)
        if not rs:
            return float("nan")
        return _median([r[field] for r in rs])

    rows: list[tuple[str, dict[str, float], bool, str]] = []  # (label, value per system, higher is better, unit)

    n = cfg["w1_arrays"]
    w1_bytes = n * W1_LEN * 4
    for codec in ("lz4", "none"):
        if f"w1_write_{codec}" in runs:
            v = {}
            for s in systems:
                rs = runs[f"w1_write_{codec}"].get(s, [])
                if rs:
                    v[s] = w1_bytes / GIB / _median([r["write_s"] + r["close_s"] for r in rs])
            rows.append((f"W1 write + close (durable), {codec}", v, True, "GiB/s"))
        if f"w1_read_{codec}" in runs:
            v = {s: w1_bytes / GIB / med(f"w1_read_{codec}", s, "read_s") for s in systems if s in runs[f"w1_read_{codec}"]}
            rows.append((f"W1 read every array, {codec}", v, True, "GiB/s"))
            v = {s: med(f"w1_read_{codec}", s, "open_s") * 1e3 for s in systems if s in runs[f"w1_read_{codec}"]}
            rows.append((f"W1 open, {codec}", v, False, "ms"))
    if "w2_windows" in runs:
        for field, label in (("mean_ms", "mean"), ("p50_ms", "p50"), ("p99_ms", "p99")):
            v = {s: med("w2_windows", s, field) for s in systems if s in runs["w2_windows"]}
            rows.append((f"W2 window, caches off, {label}", v, False, "ms"))
    if "elem" in runs:
        v = {s: med("elem", s, "mean_us") for s in systems if s in runs["elem"]}
        rows.append(("one element a[i, j], warm", v, False, "us"))
    if "mem_read" in runs:
        v = {s: med("mem_read", s, "peak_ratio") for s in systems if s in runs["mem_read"]}
        rows.append((f"memory: peak RSS growth / {MEM_SIDE}x{MEM_SIDE} f32 read", v, False, "x"))
        v = {s: med("mem_read", s, "gib_s") for s in systems if s in runs["mem_read"]}
        rows.append(("memory: read whole, lz4", v, True, "GiB/s"))

    lim = {}
    if "limits" in runs:
        lr = runs["limits"]["limit"]
        lim = {k: (max if "gib_s" in k or "ratio" in k else min)(r[k] for r in lr) for k in lr[0]}

    lines = []
    lines.append("# W8: array-format from Python against h5py, zarr-python and tensorstore\n")
    m = res["machine"]
    vers = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    lines.append(
        f"One run, every system side by side, {cfg['reps']} repetitions alternating systems "
        f"(each in a fresh process); **medians** of the repetitions. Commit {m['commit']}, "
        f"{m['cores']} cores ({m['cpu']}), Python {m['python']}; {vers}. "
        f"Load average at start {m['load_at_start'][0]:.2f}; run took {cfg['wall_s'] / 60:.1f} min.\n"
    )
    lines.append(
        f"Sizes: W1 {n} arrays x {W1_LEN} i32 ({w1_bytes / 2**20:.0f} MiB); W2 {cfg['w2_side']}^2 f32 in "
        f"{W2_CHUNK}^2 chunks, zstd {W2_ZSTD_LEVEL}, {cfg['w2_windows']} windows of {W2_WINDOW}^2; "
        f"one-element reads: {cfg['elem_reads']}; memory: {cfg['mem_side']}^2 f32 "
        f"({cfg['mem_side'] ** 2 * 4 / GIB:.2f} GiB), lz4, {MEM_CHUNK}^2 chunks.\n"
    )
    lines.append(
        "Ratios are arrayformat / peer as speed (above 1: arrayformat faster; for memory, above 1: "
        "arrayformat uses less).\n"
    )
    main_sys = [s for s in systems if s not in W2_ONLY]
    lines.extend(_table(rows, main_sys))
    extra = [s for s in systems if s in W2_ONLY]
    if extra:
        w2_rows = [r for r in rows if r[0].startswith(("W2", "one element"))]
        lines.append(
            "W2 and the one-element read again, against zarr-python and tensorstore with the W2 "
            "array unsharded (one file per 256 x 256 chunk; same run):\n"
        )
        lines.extend(_table(w2_rows, ["af", *extra]))
    if lim:
        lines.append("Limits of this machine from Python, one thread (best of the runs):\n")
        lines.append("| limit | value | arrayformat against it |")
        lines.append("| --- | ---: | ---: |")
        af_r = {label: v.get("af", float("nan")) for label, v, _h, _u in rows}
        r_lz4 = af_r.get("W1 read every array, lz4", float("nan"))
        r_none = af_r.get("W1 read every array, none", float("nan"))
        lines.append(
            f"| W1: copy each 40 KB array into a new numpy array, one call each | {lim['w1_copy_per_array_gib_s']:.2f} GiB/s | "
            f"read none at {r_none / lim['w1_copy_per_array_gib_s']:.2f}x, lz4 at {r_lz4 / lim['w1_copy_per_array_gib_s']:.2f}x |"
        )
        lines.append(f"| W1: one memcpy of all {w1_bytes / 2**20:.0f} MiB (np.copyto) | {lim['w1_memcpy_gib_s']:.2f} GiB/s | read none at {r_none / lim['w1_memcpy_gib_s']:.2f}x |")
        lines.append(f"| W1: lz4 decode of each array alone (numcodecs) | {lim['w1_lz4_decode_gib_s']:.2f} GiB/s | read lz4 at {r_lz4 / lim['w1_lz4_decode_gib_s']:.2f}x |")
        w2m = af_r.get("W2 window, caches off, mean", float("nan"))
        lines.append(
            f"| W2: zstd decode of the {lim['w2_chunks_per_window']:.2f} chunks a window touches (numcodecs; ratio {lim['w2_zstd_ratio']:.2f}) | "
            f"{lim['w2_zstd_window_ms']:.3f} ms | window at {w2m / lim['w2_zstd_window_ms']:.2f}x the time |"
        )
        el = af_r.get("one element a[i, j], warm", float("nan"))
        lines.append(f"| one element: numpy `x[i, j]` on an in-memory array | {lim['elem_numpy_us']:.3f} us | {el / lim['elem_numpy_us']:.0f}x the time |")
        lines.append("")
    # stored bytes
    st = []
    for key in ("w1_write_lz4", "w1_write_none", "w2_write", "mem_write"):
        if key in runs:
            st.append(
                f"| {key} | "
                + " | ".join(
                    f"{runs[key][s][-1]['stored_bytes'] / 2**20:.1f}" if s in runs[key] else "-" for s in systems
                )
                + " |"
            )
    if st:
        lines.append("Stored MiB:\n")
        lines.append("| data | " + " | ".join(NAMES[s] for s in systems) + " |")
        lines.append("| --- | " + " | ".join("---:" for _ in systems) + " |")
        lines.extend(st)
        lines.append("")
    lines.append(
        "Reproduce: `bench/python/run.sh` (full size; `AF_PYBENCH_SCALE=0.1 bench/python/run.sh` "
        "for a quick run). Raw figures of every repetition: `bench/results/python-w8.json`.\n"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        print(json.dumps(child(json.loads(sys.argv[2]))))
    elif len(sys.argv) >= 2 and sys.argv[1] == "--report":
        print(report(json.loads(Path(sys.argv[2]).read_text())))
    else:
        main()
