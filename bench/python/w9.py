"""W9: compression of real data: array-format's codec pipelines against HDF5
(h5py + hdf5plugin) and Zarr v3 (zarr-python 3), side by side in one run.

    bench/python/run_w9.sh                    # fetches the data, builds, runs
    AF_W9_REPS=1 python bench/python/w9.py    # in the venv, data already fetched

For every data set and every system + pipeline: compression ratio (raw
bytes / bytes stored on disk), write MB/s (raw MB per second, create + write
+ durable close, fsync'd) and read MB/s (open + read the whole array, in a
fresh process). MB = 10^6 bytes. Every system stores the same array with
the same chunk shape: about 1 MiB along the first axis, ``(k, rest...)``
with ``k = max(1, round(1 MiB / bytes of one first-axis slice))`` (at most
the array's length).

Data (real, from Debian packages; ``/work/shared/data/fetch-real-data.sh
DIR`` writes the first four as .npy, ``run_w9.sh`` calls it):

- ``coads_sst``, ``coads_airt``: 12 x 90 x 180 f32 (COADS climatology),
  missing values as NaN;
- ``ocean_atlas_temp``: 12 x 19 x 90 x 180 f32, NaN missing;
- ``fashion_mnist``: 60000 x 28 x 28 u8 images;
- kept aside (no pipeline was chosen looking at them), read here straight
  from the NetCDF files of the extracted ferret-datasets package, missing
  values to NaN as the fetch script does: ``etopo5_i16``, the ETOPO5
  topography (2161 x 4320, integer metres stored as f32 in the file, here
  as int16: every value is an integer in -10376..7833) and
  ``levitus_salt``, the Levitus climatology salinity (20 x 180 x 360 f32,
  45% NaN).

Each measurement runs in a child process of its own (``w9.py --child
JSON``), as in W8 (``w8.py``, whose helpers this reuses), so each read opens
the file anew in a fresh interpreter. Pipelines that the installed
arrayformat refuses when the array is created are reported as "not
available in this build"; lossless reads must equal the data (NaN-aware;
bitwise equality is recorded too) or the run fails. Lossy pipelines
(bitround) are reported apart with their max abs and max relative error.

Knobs (environment): AF_W9_REPS (default 3), AF_W9_DATA (the fetch
script's directory; default bench/python/.data), AF_W9_DATASETS (comma
list), AF_W9_SYSTEMS (comma list of af, h5py, zarr), AF_W9_DIR (scratch
directory; a fresh temporary one by default), AF_W9_OUT (result stem;
bench/results/w9 by default).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
import w8

REPS = int(os.environ.get("AF_W9_REPS") or 3)
DATA = Path(os.environ.get("AF_W9_DATA") or HERE / ".data")
MIB = 2**20
MB = 1e6
FERRET = "deb/x-ferret-datasets/usr/share/ferret-vis/data"
BITROUND_KEEP = (10, 16)

# ---------------------------------------------------------------------------
# data sets


def _nc(path: Path, var: str) -> np.ndarray:
    """A NetCDF-3 variable as f32, missing values NaN (as fetch-real-data.sh)."""
    from scipy.io import netcdf_file

    with netcdf_file(str(path), "r", mmap=False) as f:
        v = f.variables[var]
        a = np.array(v[:], dtype="f4")
        for key in ("missing_value", "_FillValue"):
            mv = getattr(v, key, None)
            if mv is not None:
                a[a == np.float32(np.asarray(mv).ravel()[0])] = np.nan
        return a


def _etopo5_i16() -> np.ndarray:
    a = _nc(DATA / FERRET / "etopo5.cdf", "ROSE")
    if np.isnan(a).any() or not np.array_equal(a, np.round(a)) or a.min() < -(2**15) or a.max() >= 2**15:
        raise RuntimeError("etopo5: expected integer metres without missing values")
    return a.astype(np.int16)


#: name -> (group, how to load it, where it comes from)
DATASETS: dict[str, tuple[str, Any, str]] = {
    "coads_sst": ("main", lambda: np.load(DATA / "coads_sst.npy"), "COADS climatology SST"),
    "coads_airt": ("main", lambda: np.load(DATA / "coads_airt.npy"), "COADS climatology air temperature"),
    "ocean_atlas_temp": ("main", lambda: np.load(DATA / "ocean_atlas_temp.npy"), "ocean atlas subset temperature"),
    "fashion_mnist": ("main", lambda: np.load(DATA / "fashion_mnist.npy"), "Fashion-MNIST training images"),
    "etopo5_i16": ("kept aside", _etopo5_i16, "ETOPO5 topography (etopo5.cdf ROSE) as int16"),
    "levitus_salt": (
        "kept aside",
        lambda: _nc(DATA / FERRET / "levitus_climatology.cdf", "SALT"),
        "Levitus climatology salinity (levitus_climatology.cdf SALT)",
    ),
}


def chunk_shape(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """About 1 MiB along the first axis: (k, rest...)."""
    slice_bytes = itemsize * math.prod(shape[1:])
    k = max(1, round(MIB / slice_bytes))
    return (min(k, shape[0]), *shape[1:])


# ---------------------------------------------------------------------------
# systems and pipelines

AF_LOSSLESS = [
    "default",  # no codec given: what arrayformat picks for the dtype
    "none",
    "lz4",
    "zstd:3",
    "zstd:5",
    "shuffle+lz4",
    "shuffle+zstd:3",
    "shuffle+zstd:5",
    "shuffle+zstd:9",
    "delta+shuffle+zstd:3",  # integers only
    "pco",
    "pco:12",
]
AF_LOSSY = [f"bitround:{n}+{tail}" for n in BITROUND_KEEP for tail in ("shuffle+zstd:5", "pco")]

H5_PIPELINES = ["gzip4+shuffle", "shuffle+zstd3", "blosc-zstd5-shuffle", "none"]
ZARR_LOSSLESS = ["default", "blosc-zstd5-shuffle", "pcodec", "pcodec:12"]
ZARR_LOSSY = [f"bitround:{n}+{tail}" for n in BITROUND_KEEP for tail in ("blosc-zstd5-shuffle", "pcodec")]

#: systems whose failure at creation or write is reported, not fatal
OPTIONAL = {("zarr", "pcodec"), ("zarr", "pcodec:12")} | {("zarr", p) for p in ZARR_LOSSY if p.endswith("pcodec")}

SYSTEM_NAMES = {"af": "arrayformat", "h5py": "HDF5 (h5py)", "zarr": "Zarr v3 (zarr-python)"}


def configs(dtype: np.dtype, systems: list[str]) -> list[tuple[str, str, bool]]:
    """(system, pipeline, lossy) for a data set of this dtype."""
    is_float = dtype.kind == "f"
    out: list[tuple[str, str, bool]] = []
    if "af" in systems:
        out += [("af", p, False) for p in AF_LOSSLESS if is_float is False or not p.startswith("delta+")]
        if is_float and dtype.itemsize == 4:
            out += [("af", p, True) for p in AF_LOSSY]
    if "h5py" in systems:
        out += [("h5py", p, False) for p in H5_PIPELINES]
    if "zarr" in systems:
        out += [("zarr", p, False) for p in ZARR_LOSSLESS]
        if is_float and dtype.itemsize == 4:
            out += [("zarr", p, True) for p in ZARR_LOSSY]
    return out


class Unavailable(Exception):
    """The installed build or library refuses this pipeline."""


def _af_write(path: str, data: np.ndarray, chunks: tuple[int, ...], pipeline: str) -> dict[str, Any]:
    import arrayformat

    # A bare codec ("zstd:3") takes the dtype's default filters (shuffle for
    # multi-byte numbers) unless told ``filters=[]``: here it means the codec
    # alone, the shuffled pipelines are asked for by name. "default" leaves
    # both out: the pipeline arrayformat picks for the dtype.
    kw: dict[str, Any] = {}
    if pipeline != "default":
        kw["codec"] = pipeline
        if "+" not in pipeline and "filters" in inspect.signature(arrayformat.File.create_array).parameters:
            kw["filters"] = []
    t0 = time.perf_counter()
    f = arrayformat.open(path, mode="w")
    try:
        f.create_array("a", data=data, chunks=chunks, **kw)
    except ValueError as e:
        if "a" in f:
            raise
        f.close()
        raise Unavailable(f"{type(e).__name__}: {e}") from e
    t1 = time.perf_counter()
    f.close()  # commits one layer, fsync'd
    t2 = time.perf_counter()
    with arrayformat.open(path) as g:
        stored = g["a"].codec
    return {"write_s": t1 - t0, "close_s": t2 - t1, "codec_stored": stored}


def _af_read(path: str) -> tuple[dict[str, float], np.ndarray]:
    import arrayformat

    t0 = time.perf_counter()
    f = arrayformat.open(path)
    t1 = time.perf_counter()
    out = f["a"][...]
    t2 = time.perf_counter()
    f.close()
    return {"open_s": t1 - t0, "read_s": t2 - t1}, out


def _h5_filter(pipeline: str) -> dict[str, Any]:
    import hdf5plugin

    if pipeline == "gzip4+shuffle":
        return {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    if pipeline == "shuffle+zstd3":
        return {"shuffle": True, **hdf5plugin.Zstd(clevel=3)}
    if pipeline == "blosc-zstd5-shuffle":
        return dict(hdf5plugin.Blosc(cname="zstd", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE))
    if pipeline == "none":
        return {}
    raise ValueError(pipeline)


def _h5_write(path: str, data: np.ndarray, chunks: tuple[int, ...], pipeline: str) -> dict[str, Any]:
    import h5py

    flt = _h5_filter(pipeline)
    t0 = time.perf_counter()
    f = h5py.File(path, "w")
    f.create_dataset("a", data=data, chunks=chunks, **flt)
    t1 = time.perf_counter()
    f.close()
    w8.fsync_tree(path)
    t2 = time.perf_counter()
    with h5py.File(path, "r") as g:
        filters = sorted(g["a"]._filters)
    return {"write_s": t1 - t0, "close_s": t2 - t1, "codec_stored": ",".join(map(str, filters)) or "none"}


def _h5_read(path: str) -> tuple[dict[str, float], np.ndarray]:
    import h5py
    import hdf5plugin  # noqa: F401  (registers the zstd and blosc filters)

    t0 = time.perf_counter()
    f = h5py.File(path, "r")
    t1 = time.perf_counter()
    out = f["a"][...]
    t2 = time.perf_counter()
    f.close()
    return {"open_s": t1 - t0, "read_s": t2 - t1}, out


def _zarr_codecs(pipeline: str, dtype: np.dtype) -> dict[str, Any]:
    from zarr.codecs import BloscCodec

    kw: dict[str, Any] = {}
    if pipeline.startswith("bitround:"):
        from zarr.codecs.numcodecs import BitRound

        head, pipeline = pipeline.split("+", 1)
        kw["filters"] = [BitRound(keepbits=int(head.split(":")[1]))]
    if pipeline == "default":
        pass  # zarr's own choice: compressors="auto" (zstd)
    elif pipeline == "blosc-zstd5-shuffle":
        kw["compressors"] = [BloscCodec(cname="zstd", clevel=5, shuffle="shuffle", typesize=dtype.itemsize)]
    elif pipeline in ("pcodec", "pcodec:12"):
        from zarr.codecs.numcodecs import PCodec

        kw["serializer"] = PCodec(level=12 if pipeline == "pcodec:12" else 8)
        kw["compressors"] = None
    else:
        raise ValueError(pipeline)
    return kw


def _zarr_write(path: str, data: np.ndarray, chunks: tuple[int, ...], pipeline: str) -> dict[str, Any]:
    import warnings

    import zarr
    from zarr.storage import LocalStore

    kw = _zarr_codecs(pipeline, data.dtype)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # numcodecs' codecs in zarr 3 warn that their spec may change.
        warnings.simplefilter("ignore")
        z = zarr.create_array(LocalStore(path), shape=data.shape, chunks=chunks, dtype=data.dtype, overwrite=True, **kw)
        z[...] = data
    t1 = time.perf_counter()
    w8.fsync_tree(path)
    t2 = time.perf_counter()
    codecs = [type(c).__name__ for c in z.metadata.codecs]
    return {"write_s": t1 - t0, "close_s": t2 - t1, "codec_stored": repr(z.metadata.codecs), "codec_names": codecs}


def _zarr_read(path: str) -> tuple[dict[str, float], np.ndarray]:
    import warnings

    import zarr
    from zarr.storage import LocalStore

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        z = zarr.open_array(LocalStore(path, read_only=True), mode="r")
        t1 = time.perf_counter()
        out = z[...]
        t2 = time.perf_counter()
    return {"open_s": t1 - t0, "read_s": t2 - t1}, out


WRITERS = {"af": _af_write, "h5py": _h5_write, "zarr": _zarr_write}
READERS = {"af": _af_read, "h5py": _h5_read, "zarr": _zarr_read}
EXT = {"af": ".af", "h5py": ".h5", "zarr": ".zarr"}


def du_dir(d: str) -> int:
    """Bytes of every file under ``d`` (an .af's layers, a zarr tree)."""
    total = 0
    for root, _dirs, files in os.walk(d):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def errors(orig: np.ndarray, out: np.ndarray) -> dict[str, Any]:
    """NaN-aware differences of a lossy read: NaN must stay NaN."""
    nan_o, nan_r = np.isnan(orig), np.isnan(out)
    ok = ~nan_o
    o = orig[ok].astype(np.float64)
    r = out[ok].astype(np.float64)
    diff = np.abs(r - o)
    nz = o != 0
    return {
        "nan_mismatch": int((nan_o != nan_r).sum()),
        "max_abs_err": float(diff.max()) if diff.size else 0.0,
        "max_rel_err": float((diff[nz] / np.abs(o[nz])).max()) if nz.any() else 0.0,
        "mean_abs_err": float(diff.mean()) if diff.size else 0.0,
    }


# ---------------------------------------------------------------------------
# the child: one write or one read


def child(task: dict[str, Any]) -> dict[str, Any]:
    system, pipeline, d = task["system"], task["pipeline"], task["dir"]
    data = np.load(task["npy"])
    path = os.path.join(d, "data" + EXT[system])
    if task["kind"] == "write":
        try:
            r = WRITERS[system](path, data, tuple(task["chunks"]), pipeline)
        except Unavailable as e:
            return {"unavailable": str(e)}
        except Exception as e:
            if (system, pipeline) in OPTIONAL:
                return {"unavailable": f"{type(e).__name__}: {e}"}
            raise
        r["stored_bytes"] = du_dir(d)
        return r
    r, out = READERS[system](path)
    out = np.asarray(out)
    r["shape_ok"] = out.shape == data.shape and out.dtype == data.dtype
    if data.dtype.kind == "f":
        r["equal"] = bool(r["shape_ok"] and np.array_equal(out, data, equal_nan=True))
        ui = np.dtype(f"u{data.dtype.itemsize}")
        r["bitwise_equal"] = bool(r["shape_ok"] and np.array_equal(out.view(ui), data.view(ui)))
    else:
        r["equal"] = r["bitwise_equal"] = bool(r["shape_ok"] and np.array_equal(out, data))
    if task["lossy"] and r["shape_ok"]:
        r.update(errors(data, out))
    return r


# ---------------------------------------------------------------------------
# the parent


def run_child(task: dict[str, Any]) -> dict[str, Any]:
    if task["kind"] == "write":
        os.sync()  # untimed: no earlier child's dirty pages inside this one's fsync
    env = dict(os.environ)
    # As w8.py: no workload uses BLAS, and OpenBLAS's idle threads would take
    # a share of the 2 cores.
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(task)]
    p = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise RuntimeError(f"child failed: {task}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _list_env(name: str, default: list[str]) -> list[str]:
    v = os.environ.get(name)
    return [s.strip() for s in v.split(",") if s.strip()] if v else default


def main() -> None:
    datasets = _list_env("AF_W9_DATASETS", list(DATASETS))
    systems = _list_env("AF_W9_SYSTEMS", ["af", "h5py", "zarr"])
    out_stem = Path(os.environ.get("AF_W9_OUT") or REPO / "bench" / "results" / "w9")
    given = os.environ.get("AF_W9_DIR")
    base = given or tempfile.mkdtemp(prefix="af-w9-")
    os.makedirs(base, exist_ok=True)
    machine = w8.machine()
    import importlib.metadata as md

    for p in ("pcodec", "scipy"):
        try:
            machine["versions"][p] = md.version(p)
        except md.PackageNotFoundError:
            machine["versions"][p] = None
    res: dict[str, Any] = {
        "config": {"reps": REPS, "datasets": {}, "systems": systems, "data_dir": str(DATA), "dir": base},
        "machine": machine,
        "runs": {},
    }
    t_start = time.time()
    try:
        # The data, once, as .npy in the scratch directory for the children.
        plans = []
        for name in datasets:
            group, load, what = DATASETS[name]
            a = np.ascontiguousarray(load())
            npy = os.path.join(base, f"{name}.npy")
            np.save(npy, a)
            chunks = chunk_shape(a.shape, a.dtype.itemsize)
            nan = float(np.isnan(a).mean()) if a.dtype.kind == "f" else 0.0
            res["config"]["datasets"][name] = {
                "group": group,
                "what": what,
                "shape": list(a.shape),
                "dtype": str(a.dtype),
                "nbytes": int(a.nbytes),
                "chunks": list(chunks),
                "nan_fraction": nan,
            }
            plans.append((name, npy, a.nbytes, chunks, configs(a.dtype, systems)))
            log(f"{name}: {a.dtype} {a.shape}, chunks {chunks}, {nan:.0%} NaN, {a.nbytes / MB:.1f} MB")
        unavailable: set[tuple[str, str, str]] = set()
        for rep in range(REPS):
            for name, npy, nbytes, chunks, cfgs in plans:
                for system, pipeline, lossy in cfgs:
                    key = f"{system}|{pipeline}"
                    if (name, system, pipeline) in unavailable:
                        continue
                    d = os.path.join(base, name, key.replace("|", "-").replace(":", "").replace("+", "_"))
                    shutil.rmtree(d, ignore_errors=True)
                    os.makedirs(d)
                    task = {
                        "system": system,
                        "pipeline": pipeline,
                        "lossy": lossy,
                        "npy": npy,
                        "chunks": list(chunks),
                        "dir": d,
                    }
                    w = run_child({**task, "kind": "write"})
                    entry: dict[str, Any] = {"lossy": lossy, "write": w}
                    if "unavailable" in w:
                        unavailable.add((name, system, pipeline))
                        res["runs"].setdefault(name, {})[key] = [entry]
                        log(f"{name} {key}: not available: {w['unavailable']}")
                        continue
                    r = run_child({**task, "kind": "read"})
                    entry["read"] = r
                    res["runs"].setdefault(name, {}).setdefault(key, []).append(entry)
                    ratio = nbytes / w["stored_bytes"]
                    secs_r = r["open_s"] + r["read_s"]
                    log(
                        f"rep {rep} {name} {key}: ratio {ratio:.3f}, write "
                        f"{nbytes / MB / (w['write_s'] + w['close_s']):.0f} MB/s, read {nbytes / MB / secs_r:.0f} MB/s"
                        + (f", max rel err {r.get('max_rel_err', 0):.2e}" if lossy else "")
                    )
                    if not r["shape_ok"]:
                        raise RuntimeError(f"{name} {key}: read back a different shape or dtype")
                    if not lossy and not r["equal"]:
                        raise RuntimeError(f"{name} {key}: lossless pipeline read back different data")
                    if lossy and r.get("nan_mismatch"):
                        raise RuntimeError(f"{name} {key}: lossy pipeline changed which values are NaN")
                    shutil.rmtree(d, ignore_errors=True)
    finally:
        if not given:
            shutil.rmtree(base, ignore_errors=True)
    res["config"]["wall_s"] = time.time() - t_start
    res["machine"]["load_at_end"] = os.getloadavg()
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    Path(str(out_stem) + ".json").write_text(json.dumps(res, indent=1) + "\n")
    md_text = report(res)
    Path(str(out_stem) + ".md").write_text(md_text)
    print(md_text)


# ---------------------------------------------------------------------------
# the report


def summarize(res: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """Medians per data set and system|pipeline."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, by_key in res["runs"].items():
        nbytes = res["config"]["datasets"][name]["nbytes"]
        for key, entries in by_key.items():
            e0 = entries[0]
            if "unavailable" in e0["write"]:
                out.setdefault(name, {})[key] = {"unavailable": e0["write"]["unavailable"], "lossy": e0["lossy"]}
                continue
            ws = [e["write"] for e in entries]
            rs = [e["read"] for e in entries]
            s: dict[str, Any] = {
                "lossy": e0["lossy"],
                "stored_bytes": statistics.median(w["stored_bytes"] for w in ws),
                "write_mb_s": nbytes / MB / statistics.median(w["write_s"] + w["close_s"] for w in ws),
                "read_mb_s": nbytes / MB / statistics.median(r["open_s"] + r["read_s"] for r in rs),
                "bitwise_equal": all(r["bitwise_equal"] for r in rs),
                "codec_stored": ws[-1].get("codec_stored"),
                "reps": len(entries),
            }
            s["ratio"] = nbytes / s["stored_bytes"]
            if e0["lossy"]:
                for k in ("max_abs_err", "max_rel_err", "mean_abs_err"):
                    s[k] = max(r[k] for r in rs)
            out.setdefault(name, {})[key] = s
    return out


def _label(key: str, v: dict[str, Any] | None = None) -> str:
    """The system and pipeline cells; for arrayformat, the spec the array
    recorded when it differs from the one asked for (``pco`` is ``pco:8``)."""
    system, pipeline = key.split("|", 1)
    cell = f"`{pipeline}`"
    stored = (v or {}).get("codec_stored")
    if system == "af" and stored and stored != pipeline:
        cell += f" (= `{stored}`)"
    return f"{SYSTEM_NAMES[system]} | {cell}"


def _why_cell(v: dict[str, Any]) -> str:
    """What a refused pipeline's row says: an unknown spec is one this build
    lacks; any other refusal (say, a codec for another dtype) is told below."""
    return "not available in this build" if "unknown codec" in v["unavailable"] else "refused (see below)"


def _rel(x: float, ref: float) -> str:
    r = x / ref
    return "-" if math.isnan(r) else f"{r:.3f}"


def _geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def report(res: dict[str, Any]) -> str:
    fmt = w8._fmt
    summ = summarize(res)
    cfg = res["config"]
    m = res["machine"]
    vers = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v and k != "tensorstore")
    lines = ["# W9: compression of real data: array-format pipelines against HDF5 and Zarr\n"]
    lines.append(
        f"One run, every system and pipeline side by side, {cfg['reps']} repetitions (each write and each "
        f"read in a fresh process); **medians** of the repetitions. Commit {m['commit']}, {m['cores']} cores "
        f"({m['cpu']}), Python {m['python']}; {vers}. Load average at start {m['load_at_start'][0]:.2f}"
        + (f", at end {m['load_at_end'][0]:.2f}" if "load_at_end" in m else "")
        + "; "
        f"run took {cfg.get('wall_s', 0) / 60:.1f} min.\n"
    )
    lines.append(
        "**ratio** = raw bytes / bytes on disk (every file of the .af, the .h5, or the zarr directory tree); "
        "**write** = raw MB (10^6 bytes) per second for create + write + durable close (fsync'd); "
        "**read** = raw MB per second for open + read of the whole array, in a fresh process. "
        "**vs Zarr** and **vs HDF5** = this ratio / the ratio of Zarr with its default compressor (zstd) "
        "and of HDF5 gzip level 4 + shuffle. Every system uses the same chunk shape. Every lossless read "
        "is checked equal to the data (NaN-aware); `bitwise` says whether it was also bit for bit.\n"
    )
    best_rows = []
    for name, info in cfg["datasets"].items():
        s = summ.get(name, {})
        zd = s.get("zarr|default", {}).get("ratio", float("nan"))
        hg = s.get("h5py|gzip4+shuffle", {}).get("ratio", float("nan"))
        lines.append(
            f"## {name} ({info['group']})\n\n{info['what']}: {info['dtype']} {tuple(info['shape'])}, "
            f"{info['nbytes'] / MB:.2f} MB, {info['nan_fraction']:.0%} NaN; chunks {tuple(info['chunks'])}.\n"
        )
        lines.append("| system | pipeline | ratio | write MB/s | read MB/s | vs Zarr default | vs HDF5 gzip4+shuffle | bitwise |")
        lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
        lossless = [(k, v) for k, v in s.items() if not v["lossy"]]
        lossy = [(k, v) for k, v in s.items() if v["lossy"]]
        for k, v in lossless:
            if "unavailable" in v:
                lines.append(f"| {_label(k)} | {_why_cell(v)} | | | | | |")
                continue
            lines.append(
                f"| {_label(k, v)} | {v['ratio']:.3f} | {fmt(v['write_mb_s'])} | {fmt(v['read_mb_s'])} | "
                f"{_rel(v['ratio'], zd)} | {_rel(v['ratio'], hg)} | {'yes' if v['bitwise_equal'] else 'no (NaN payloads)'} |"
            )
        lines.append("")
        if lossy:
            lines.append("Lossy (bitround keeps N mantissa bits of the f32's 23; excluded from the best lossless):\n")
            lines.append(
                "| system | pipeline | ratio | write MB/s | read MB/s | vs Zarr default | vs HDF5 gzip4+shuffle | max abs err | max rel err |"
            )
            lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for k, v in lossy:
                if "unavailable" in v:
                    lines.append(f"| {_label(k)} | {_why_cell(v)} | | | | | | |")
                    continue
                lines.append(
                    f"| {_label(k, v)} | {v['ratio']:.3f} | {fmt(v['write_mb_s'])} | {fmt(v['read_mb_s'])} | "
                    f"{_rel(v['ratio'], zd)} | {_rel(v['ratio'], hg)} | {v['max_abs_err']:.3g} | {v['max_rel_err']:.3g} |"
                )
            lines.append("")
        ours = [(k, v) for k, v in lossless if k.startswith("af|") and "ratio" in v]
        peers = [(k, v) for k, v in lossless if not k.startswith("af|") and "ratio" in v]
        if ours and peers:
            bo = max(ours, key=lambda kv: kv[1]["ratio"])
            bp = max(peers, key=lambda kv: kv[1]["ratio"])
            best_rows.append((name, info["group"], bo, bp))
        unavail = [k for k, v in s.items() if "unavailable" in v]
        if unavail:
            # One line per distinct reason, the pipeline's own name elided.
            why: dict[str, list[str]] = {}
            for k in unavail:
                msg = s[k]["unavailable"].replace(k.split("|", 1)[1], "...")
                why.setdefault(msg, []).append(f"`{k.split('|', 1)[1]}` ({SYSTEM_NAMES[k.split('|')[0]]})")
            lines.append("Not available or refused:\n")
            lines.extend(f"- {', '.join(ks)}: {msg}" for msg, ks in why.items())
            lines.append("")
    if best_rows:
        lines.append("## Summary: best lossless pipeline per data set\n")
        lines.append(
            "| data set | group | best arrayformat pipeline | ratio | write / read MB/s | best peer | ratio | write / read MB/s | ours / peer |"
        )
        lines.append("| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: |")
        for name, group, (ko, vo), (kp, vp) in best_rows:
            lines.append(
                f"| {name} | {group} | {_label(ko, vo).split(' | ', 1)[1]} | {vo['ratio']:.3f} | {fmt(vo['write_mb_s'])} / {fmt(vo['read_mb_s'])} | "
                f"{SYSTEM_NAMES[kp.split('|')[0]]} `{kp.split('|', 1)[1]}` | {vp['ratio']:.3f} | "
                f"{fmt(vp['write_mb_s'])} / {fmt(vp['read_mb_s'])} | {vo['ratio'] / vp['ratio']:.3f} |"
            )
        lines.append("")
        for label, groups in (
            ("all data sets", ("main", "kept aside")),
            ("the four main data sets", ("main",)),
            ("the kept-aside data sets", ("kept aside",)),
        ):
            xs = [vo["ratio"] / vp["ratio"] for _n, g, (_ko, vo), (_kp, vp) in best_rows if g in groups]
            if xs:
                lines.append(
                    f"- geometric mean of best-ours ratio / best-peer ratio over {label} ({len(xs)}): **{_geomean(xs):.3f}**"
                )
        lines.append("")
    lines.append(
        "Reproduce: `bench/python/run_w9.sh` (`AF_W9_REPS=1` for a quick run). Raw figures of every "
        "repetition: `bench/results/w9.json`.\n"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        print(json.dumps(child(json.loads(sys.argv[2]))))
    elif len(sys.argv) >= 2 and sys.argv[1] == "--report":
        print(report(json.loads(Path(sys.argv[2]).read_text())))
    else:
        main()
