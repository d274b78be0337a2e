#!/usr/bin/env bash
# W9: compression of real data, array-format's codec pipelines against HDF5
# (h5py) and Zarr v3 (zarr-python), side by side in one run (see README.md
# beside this script).
#
#   bench/python/run_w9.sh                  # 3 repetitions (about 10 minutes on 2 cores)
#   AF_W9_REPS=1 bench/python/run_w9.sh     # a quick run
#
# 1. fetches the real data (Debian packages ferret-datasets and
#    dataset-fashion-mnist) into AF_W9_DATA (default bench/python/.data,
#    git-ignored) with the shared fetch-real-data.sh (AF_W9_FETCH names
#    another copy of it); a second run reuses what is there;
# 2. makes the venv and builds arrayformat in release mode as run.sh does
#    (AF_PYBENCH_NO_BUILD=1 skips that, AF_PYBENCH_SRC builds another
#    checkout);
# 3. runs w9.py, which writes bench/results/w9.md and w9.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export AF_W9_DATA="${AF_W9_DATA:-$here/.data}"
fetch="${AF_W9_FETCH:-$repo/../shared/data/fetch-real-data.sh}"

echo "== real data into $AF_W9_DATA ($fetch)" >&2
bash "$fetch" "$AF_W9_DATA" >&2

AF_PYBENCH_SCRIPT=w9.py exec "$here/run.sh" "$@"
