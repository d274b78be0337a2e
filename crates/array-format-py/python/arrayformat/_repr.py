"""Text and HTML views of files and arrays, laid out like ``af ls``."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from . import _dtypes

if TYPE_CHECKING:
    from ._array import Array
    from ._file import File


def _shape(values: Any) -> str:
    return "x".join(str(v) for v in values) if len(values) else "()"


def _fill(meta: dict[str, Any]) -> str:
    if meta["fill"] is None:
        return "-"
    value = _dtypes.decode_fill(meta["dtype"], meta["fill"])
    return repr(value) if isinstance(value, (str, bytes)) else str(value)


def _rows(f: File) -> list[list[str]]:
    return [
        [
            m["name"],
            m["dtype"],
            _shape(m["shape"]),
            _shape(m["chunks"]),
            ",".join(m["dims"]),
            _fill(m),
        ]
        for m in f._native_handle().arrays()
    ]


HEADER = ["NAME", "DTYPE", "SHAPE", "CHUNKS", "DIMS", "FILL"]


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [HEADER, *rows]]
    return "\n".join(lines)


def _title(f: File) -> str:
    if f.closed:
        return f"<arrayformat.File {f.path!r} (closed)>"
    n = len(f)
    return (
        f"<arrayformat.File {f.path!r} mode={f.mode!r} layer={f.layer} "
        f"{n} array{'s' if n != 1 else ''}>"
    )


def file_text(f: File) -> str:
    """``repr(file)``: a title line and, for an open file, its arrays."""
    if f.closed:
        return _title(f)
    rows = _rows(f)
    return _title(f) if not rows else _title(f) + "\n" + _table(rows)


def file_html(f: File) -> str:
    """The file as an HTML table, for notebooks."""
    if f.closed:
        return f"<pre>{html.escape(_title(f))}</pre>"
    head = "".join(f"<th>{h}</th>" for h in HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in _rows(f)
    )
    return (
        f"<div><b>{html.escape(_title(f))}</b>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def array_text(a: Array) -> str:
    """``repr(array)``: name, dtype, shape, chunks, dims."""
    try:
        m = a._meta()
    except Exception as e:  # noqa: BLE001 - a repr must not raise
        return f"<arrayformat.Array {a.name!r} ({e})>"
    return (
        f"<arrayformat.Array {m['name']!r} {m['dtype']} shape={_shape(m['shape'])} "
        f"chunks={_shape(m['chunks'])} dims=({', '.join(m['dims'])}) fill={_fill(m)}>"
    )


def array_html(a: Array) -> str:
    """The array as HTML, for notebooks."""
    text = array_text(a)
    attrs = ""
    try:
        items = a.attrs.asdict()
        if items:
            attrs = (
                "<ul>"
                + "".join(
                    f"<li><b>{html.escape(k)}</b>: {html.escape(repr(v))}</li>"
                    for k, v in items.items()
                )
                + "</ul>"
            )
    except Exception:  # noqa: BLE001 - a repr must not raise
        attrs = ""
    return f"<div><pre>{html.escape(text)}</pre>{attrs}</div>"
