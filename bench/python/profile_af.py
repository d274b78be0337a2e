"""One W8 phase of arrayformat alone, in a loop long enough to profile.

    python profile_af.py DIR PHASE [REPEAT]

PHASE is one of w1-read-lz4, w1-read-none, w1-write, w2-windows, elem,
mem-read; DIR holds the files ``w8.py --child`` wrote (profile.sh makes
them). Run it under cProfile, py-spy or perf (profile.sh does all three).
"""

from __future__ import annotations

import sys
import time

import numpy as np

import arrayformat as af
import w8


def main() -> None:
    base, phase = sys.argv[1], sys.argv[2]
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    t0 = time.perf_counter()
    if phase.startswith("w1-read"):
        codec = phase.rsplit("-", 1)[1]
        for _ in range(repeat):
            f = af.open(f"{base}/w1-{codec}.af")
            out = [f[f"a{i}"][...] for i in range(w8.W1_ARRAYS)]
            f.close()
        del out
    elif phase == "w1-write":
        data = w8.w1_data(w8.W1_ARRAYS)
        t0 = time.perf_counter()
        for _ in range(repeat):
            f = af.open(f"{base}/w1-prof.af", mode="w")
            for i in range(len(data)):
                f.create_array(f"a{i}", data=data[i], chunks=(w8.W1_LEN,), codec="lz4")
            f.close()
    elif phase == "w2-windows":
        offs = w8.w2_offsets(w8.W2_SIDE, w8.W2_WINDOWS).tolist()
        for _ in range(repeat):
            f = af.open(f"{base}/w2.af", cache_bytes=0, io_cache_bytes=0)
            a = f["w2"]
            for r, c in offs:
                a[r : r + w8.W2_WINDOW, c : c + w8.W2_WINDOW]
            f.close()
    elif phase == "elem":
        f = af.open(f"{base}/w2.af")
        a = f["w2"]
        np.asarray(a)
        pos = w8.elem_positions(w8.W2_SIDE, w8.ELEM_READS).tolist()
        t0 = time.perf_counter()
        for _ in range(repeat):
            for i, j in pos:
                a[i, j]
    elif phase == "mem-read":
        for _ in range(repeat):
            f = af.open(f"{base}/mem.af")
            x = np.asarray(f["m"])
            del x
            f.close()
    else:
        raise SystemExit(f"unknown phase {phase}")
    print(f"{phase}: {(time.perf_counter() - t0) / repeat:.4f} s per pass", file=sys.stderr)


if __name__ == "__main__":
    main()
