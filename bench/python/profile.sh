#!/usr/bin/env bash
# Profiles arrayformat alone on each W8 phase, in the venv run.sh made:
#
#   bench/python/profile.sh                       # every phase
#   bench/python/profile.sh elem mem-read         # some phases
#
# Phases: w1-read-lz4 w1-read-none w1-write w2-windows elem mem-read (see
# profile_af.py). For each, in $AF_PYBENCH_PROFILE_DIR (default
# /tmp/af-pybench-profile):
#   PHASE.cprofile.txt  cProfile, the 30 functions with the most own time
#   PHASE.pyspy.txt     py-spy record --native, collapsed stacks, and
#   PHASE.pyspy-top.txt its summary (stacks.py: inclusive / self shares)
#   PHASE.perf.txt      perf record (cpu-clock, DWARF call graphs): the
#                       symbols with the most inclusive time (where perf runs)
# The files profiled are written first by `w8.py --child` (arrayformat only).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
py="$here/.venv/bin/python"
dir="${AF_PYBENCH_PROFILE_DIR:-/tmp/af-pybench-profile}"
mkdir -p "$dir"
export OPENBLAS_NUM_THREADS=1
cd "$here"

phases=("$@")
if [ ${#phases[@]} -eq 0 ]; then
    phases=(w1-read-lz4 w1-read-none w1-write w2-windows elem mem-read)
fi

child() { "$py" w8.py --child "$1" >/dev/null; }
[ -e "$dir/w1-lz4.af" ] || child "{\"kind\":\"w1_write\",\"system\":\"af\",\"codec\":\"lz4\",\"n\":2000,\"dir\":\"$dir\"}"
[ -e "$dir/w1-none.af" ] || child "{\"kind\":\"w1_write\",\"system\":\"af\",\"codec\":\"none\",\"n\":2000,\"dir\":\"$dir\"}"
[ -e "$dir/w2.af" ] || child "{\"kind\":\"w2_write\",\"system\":\"af\",\"side\":4096,\"dir\":\"$dir\"}"
[ -e "$dir/mem.af" ] || child "{\"kind\":\"mem_write\",\"system\":\"af\",\"side\":16384,\"dir\":\"$dir\"}"

repeat_of() {
    case "$1" in
        elem) echo 20 ;;
        w2-windows) echo 3 ;;
        mem-read) echo 3 ;;
        *) echo 10 ;;
    esac
}

for phase in "${phases[@]}"; do
    n="$(repeat_of "$phase")"
    echo "== $phase (x$n)" >&2
    "$py" -c "
import cProfile, pstats, sys
sys.argv = ['profile_af.py', '$dir', '$phase', '$n']
sys.path.insert(0, '.')
import profile_af
cProfile.run('profile_af.main()', '$dir/$phase.pstats')
with open('$dir/$phase.cprofile.txt', 'w') as f:
    pstats.Stats('$dir/$phase.pstats', stream=f).sort_stats('tottime').print_stats(30)
"
    if [ -x "$here/.venv/bin/py-spy" ]; then
        "$here/.venv/bin/py-spy" record --native -r 1000 -f raw -o "$dir/$phase.pyspy.txt" -- \
            "$py" profile_af.py "$dir" "$phase" "$n" >/dev/null 2>&1 || true
        "$py" stacks.py "$dir/$phase.pyspy.txt" --within profile_af.py --top 60 >"$dir/$phase.pyspy-top.txt" || true
    fi
    if command -v perf >/dev/null 2>&1; then
        perf record -q -e cpu-clock -F 2000 --call-graph dwarf,16384 -o "$dir/$phase.perf.data" -- \
            "$py" profile_af.py "$dir" "$phase" "$n" >/dev/null 2>&1 || true
        perf report -i "$dir/$phase.perf.data" --children --sort sym --stdio -g none 2>/dev/null \
            | grep '%' | head -120 >"$dir/$phase.perf.txt" || true
    fi
done
echo "profiles in $dir" >&2
