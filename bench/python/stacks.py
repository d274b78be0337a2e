"""Summarises collapsed stacks (py-spy ``-f raw``, or ``perf script`` through
stackcollapse): the share of samples that include each frame (inclusive)
and that end in it (self).

    python stacks.py FILE [--within SUBSTRING] [--top N] [--match SUBSTRING]

``--within`` keeps only the stacks that contain SUBSTRING (the timed loop,
say ``__getitem__``); ``--match`` lists only frames containing SUBSTRING.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter


def short(frame: str) -> str:
    # py-spy frames: "function (path/to/file.py:line)"; native ones: "symbol (lib.so)".
    frame = re.sub(r"\(/[^)]*/site-packages/", "(", frame)
    frame = re.sub(r"\(/[^)]*/(arrayformat|crates|rustc|library|\.cargo/registry/src/[^/]+)/", r"(\1/", frame)
    frame = re.sub(r"::h[0-9a-f]{16}", "", frame)
    return frame


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--within", action="append", default=[])
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--match", default="")
    ap.add_argument("--self", action="store_true", help="sort by self samples")
    args = ap.parse_args()
    incl: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    total = 0
    with open(args.file) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count = line.rpartition(" ")
            n = int(count)
            if args.within and not all(w in stack for w in args.within):
                continue
            frames = [short(x) for x in stack.split(";")]
            total += n
            for fr in set(frames):
                incl[fr] += n
            self_[frames[-1]] += n
    print(f"{total} samples")
    key = self_ if args.self else incl
    shown = 0
    for fr, _n in key.most_common():
        if args.match and args.match not in fr:
            continue
        print(f"{100 * incl[fr] / total:6.1f}% incl {100 * self_[fr] / total:6.1f}% self  {fr[:200]}")
        shown += 1
        if shown >= args.top:
            break


if __name__ == "__main__":
    main()
