"""``repr`` and ``_repr_html_`` of files and arrays name the arrays, their
element types, shapes and chunks."""

from __future__ import annotations

import arrayformat as af
import numpy as np


def fill(f: af.File) -> None:
    f.create_array(
        "temperature",
        (48, 90, 180),
        "f4",
        chunks=(12, 45, 45),
        fill_value=np.nan,
        dims=("time", "lat", "lon"),
    )
    f.create_array("names", (12,), str, fill_value="")
    f.create_array("flag<&>", (), bool)


def test_file_repr(new_file: af.File) -> None:
    fill(new_file)
    text = repr(new_file)
    lines = text.splitlines()
    assert new_file.path in lines[0]
    assert "mode='w'" in lines[0]
    assert "3 arrays" in lines[0]
    assert lines[1].split() == ["NAME", "DTYPE", "SHAPE", "CHUNKS", "DIMS", "FILL"]
    assert lines[2].split() == [
        "temperature",
        "f32",
        "48x90x180",
        "12x45x45",
        "time,lat,lon",
        "nan",
    ]
    assert lines[3].split() == ["names", "string", "12", "12", "dim0", "''"]
    assert lines[4].split() == ["flag<&>", "bool", "()", "()", "-"]


def test_empty_and_closed_file_repr(path: str) -> None:
    f = af.open(path, "w")
    assert repr(f) == f"<arrayformat.File {path!r} mode='w' layer=0 0 arrays>"
    f.close()
    assert repr(f) == f"<arrayformat.File {path!r} (closed)>"
    assert "(closed)" in f._repr_html_()


def test_array_repr(new_file: af.File) -> None:
    fill(new_file)
    assert repr(new_file["temperature"]) == (
        "<arrayformat.Array 'temperature' f32 shape=48x90x180 chunks=12x45x45 "
        "dims=(time, lat, lon) fill=nan>"
    )
    assert repr(new_file["flag<&>"]) == (
        "<arrayformat.Array 'flag<&>' bool shape=() chunks=() dims=() fill=->"
    )


def test_file_html(new_file: af.File) -> None:
    fill(new_file)
    html = new_file._repr_html_()
    assert html.startswith("<div>")
    assert html.count("<tr>") == 4  # the header and three arrays
    for cell in ("temperature", "f32", "48x90x180", "12x45x45", "names", "string"):
        assert f"<td>{cell}</td>" in html
    assert "<td>flag&lt;&amp;&gt;</td>" in html  # escaped
    assert "flag<&>" not in html


def test_array_html(new_file: af.File) -> None:
    fill(new_file)
    a = new_file["temperature"]
    a.attrs["units"] = "<K>"
    html = a._repr_html_()
    assert "temperature" in html
    assert "f32" in html
    assert "shape=48x90x180" in html
    assert "chunks=12x45x45" in html
    assert "units" in html
    assert "&lt;K&gt;" in html
    assert "<K>" not in html
