#!/usr/bin/env bash
# W8: array-format from Python against h5py, zarr-python 3 and tensorstore,
# side by side in one run (see README.md beside this script).
#
#   bench/python/run.sh                         # full size (about 10 minutes on 2 cores)
#   AF_PYBENCH_SCALE=0.1 bench/python/run.sh    # a quick run (a few minutes)
#   AF_PYBENCH_SYSTEMS=af,h5py AF_PYBENCH_WORKLOADS=w2,elem bench/python/run.sh
#
# 1. makes bench/python/.venv (python3 -m venv; PYTHON picks another
#    interpreter) and installs the pinned peers of requirements.txt;
# 2. builds arrayformat in release mode into it:
#    maturin develop --release -m crates/array-format-py/Cargo.toml
#    (from this checkout, or from AF_PYBENCH_SRC, another checkout of the
#    project; CARGO_TARGET_DIR as set, else the workspace's target/);
#    AF_PYBENCH_NO_BUILD=1 skips steps 1 and 2 when the venv is ready;
# 3. runs w8.py, which writes bench/results/python-w8.md and .json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
src="$(cd "${AF_PYBENCH_SRC:-$repo}" && pwd)"
venv="$here/.venv"

if [ -z "${AF_PYBENCH_NO_BUILD:-}" ]; then
    echo "== virtual environment $venv" >&2
    if [ ! -x "$venv/bin/python" ]; then
        "${PYTHON:-python3}" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -r "$here/requirements.txt"

    echo "== arrayformat from $src, release build (maturin develop --release)" >&2
    (
        cd "$src"
        VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" \
            maturin develop --release -m crates/array-format-py/Cargo.toml
    )
fi

# The commit the measured arrayformat was built from (w8.py records it).
if commit="$(git -C "$src" rev-parse --short HEAD 2>/dev/null)"; then
    if ! git -C "$src" diff --quiet HEAD -- crates 2>/dev/null; then
        commit="$commit+changes"
    fi
    export AF_PYBENCH_COMMIT="$commit"
fi

echo "== benchmarks (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
# AF_PYBENCH_SCRIPT: another benchmark of this directory to run in the same
# venv and build (run_w9.sh runs w9.py so).
exec "$venv/bin/python" "$here/${AF_PYBENCH_SCRIPT:-w8.py}" "$@"
