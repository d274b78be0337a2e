"""Default chunk shapes."""

from __future__ import annotations

#: Bytes a default chunk aims at: large enough that a read of one chunk is
#: worth a request to an object store and compresses well, small enough
#: that a window read decodes little it does not need.
TARGET = 1 << 20


def guess(shape: tuple[int, ...], itemsize: int, target: int = TARGET) -> tuple[int, ...]:
    """Chunks of at most about ``target`` bytes for an array of ``shape``.

    Halves the longest axis, the first of equals, until a chunk fits: rows
    of a 2-D array stay whole as long as they can, and a time series is cut
    along time first when time is its longest axis.
    """
    chunk = [max(int(s), 1) for s in shape]
    itemsize = max(int(itemsize), 1)

    def nbytes() -> int:
        n = itemsize
        for c in chunk:
            n *= c
        return n

    while nbytes() > target:
        longest = max(range(len(chunk)), key=lambda i: chunk[i])
        if chunk[longest] == 1:
            break
        chunk[longest] = (chunk[longest] + 1) // 2
    return tuple(chunk)
