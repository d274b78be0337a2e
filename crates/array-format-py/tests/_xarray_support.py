"""Helpers the xarray test modules import."""

from __future__ import annotations

import os
from typing import Any

import xarray as xr


def open_af(path: str | os.PathLike[str], **kwargs: Any) -> xr.Dataset:
    """The file at ``path`` through the xarray backend, loaded into memory;
    the file is closed again."""
    with xr.open_dataset(path, engine="arrayformat", **kwargs) as ds:
        return ds.load()


def assert_identical(got: xr.Dataset, expected: xr.Dataset) -> None:
    """``xr.testing.assert_identical``, which compares values only, and the
    same dtype for every variable and the same Python type for every
    element of object variables."""
    xr.testing.assert_identical(got, expected)
    for name, var in expected.variables.items():
        have = got.variables[name]
        assert have.dtype == var.dtype, (name, have.dtype, var.dtype)
        if var.dtype.kind == "O":
            assert [type(v) for v in have.values.ravel()] == [
                type(v) for v in var.values.ravel()
            ], name


def cftime_decoding() -> dict[str, Any]:
    """``open_dataset`` arguments that decode every time to cftime objects,
    as the installed xarray wants them."""
    coders = getattr(xr, "coders", None)
    if coders is not None and hasattr(coders, "CFDatetimeCoder"):
        return {"decode_times": coders.CFDatetimeCoder(use_cftime=True)}
    return {"use_cftime": True}
