"""Element types: the library's names, numpy dtypes, and fill values.

========================  =====================  ===========================
library                   numpy                  notes
========================  =====================  ===========================
``bool``                  ``bool``
``i8`` ... ``i64``        ``int8`` ... ``int64``
``u8`` ... ``u64``        ``uint8`` ... ``uint64``
``f16``, ``f32``, ``f64``  ``float16`` ... ``float64``
``bf16``                  ``ml_dtypes.bfloat16``  needs the ``ml_dtypes``
                                                 package (``pip install
                                                 arrayformat[ml]``)
``c64``, ``c128``         ``complex64``,
                          ``complex128``
``timestamp_ns``          ``datetime64[ns]``     any datetime64 unit is
                                                 accepted on write
``string``                ``object`` (of ``str``)  ``U`` and ``StringDType``
                                                 arrays are accepted on write
``binary``                ``object`` (of ``bytes``)  ``S`` arrays too
========================  =====================  ===========================
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._errors import DTypeError, InvalidValueError

_TO_NUMPY: dict[str, np.dtype[Any]] = {
    "bool": np.dtype("bool"),
    "i8": np.dtype("int8"),
    "i16": np.dtype("int16"),
    "i32": np.dtype("int32"),
    "i64": np.dtype("int64"),
    "u8": np.dtype("uint8"),
    "u16": np.dtype("uint16"),
    "u32": np.dtype("uint32"),
    "u64": np.dtype("uint64"),
    "f16": np.dtype("float16"),
    "f32": np.dtype("float32"),
    "f64": np.dtype("float64"),
    "c64": np.dtype("complex64"),
    "c128": np.dtype("complex128"),
    "timestamp_ns": np.dtype("datetime64[ns]"),
    "string": np.dtype("O"),
    "binary": np.dtype("O"),
}

_FROM_NUMPY: dict[str, str] = {
    "b": "bool",
    "i1": "i8",
    "i2": "i16",
    "i4": "i32",
    "i8": "i64",
    "u1": "u8",
    "u2": "u16",
    "u4": "u32",
    "u8": "u64",
    "f2": "f16",
    "f4": "f32",
    "f8": "f64",
    "c8": "c64",
    "c16": "c128",
}

#: The library's names of element types that hold Python objects.
OBJECT_TYPES = ("string", "binary")

NAT = np.iinfo(np.int64).min


def to_numpy(name: str) -> np.dtype[Any]:
    """The numpy dtype of the library's element type ``name``; bfloat16
    through ``ml_dtypes``, which a ``DTypeError`` asks for when missing."""
    dt = _TO_NUMPY.get(name)
    if dt is None and name == "bf16":
        dt = _TO_NUMPY["bf16"] = np.dtype(_ml_dtypes().bfloat16)
    if dt is None:
        raise DTypeError(f"no element type {name!r}")
    return dt


def _ml_dtypes() -> Any:
    try:
        import ml_dtypes
    except ImportError:
        raise DTypeError(
            "bf16 (bfloat16) arrays need the ml_dtypes package, which gives numpy "
            "a bfloat16 type: pip install ml_dtypes (or arrayformat[ml])"
        ) from None
    return ml_dtypes


def for_create(name: str) -> Any:
    """What ``create_array(dtype=...)`` takes for the library's element type
    ``name``: a numpy dtype, or ``str``/``bytes``."""
    if name == "string":
        return str
    if name == "binary":
        return bytes
    return to_numpy(name)


def from_numpy(dtype: Any) -> str:
    """The library's element type for a numpy dtype (or anything
    ``numpy.dtype`` accepts, and ``str``/``bytes``)."""
    if dtype is str:
        return "string"
    if dtype is bytes:
        return "binary"
    if isinstance(dtype, np.dtype):
        known = _BY_DTYPE.get(dtype)
        if known is not None:
            return known
    dt = np.dtype(dtype)
    name = _from_dtype(dt)
    if len(_BY_DTYPE) < 64:
        _BY_DTYPE[dt] = name
    return name


# Element types of the numpy dtypes met so far (a handful per program).
_BY_DTYPE: dict[np.dtype, str] = {}


def _from_dtype(dt: np.dtype) -> str:
    if dt.kind == "b":
        return "bool"
    if dt.kind in "iufc":
        code = f"{dt.kind}{dt.itemsize}"
        if code in _FROM_NUMPY:
            return _FROM_NUMPY[code]
    if dt.name == "bfloat16":
        return "bf16"
    if dt.kind == "M":
        return "timestamp_ns"
    if dt.kind == "U" or dt.kind == "T":
        return "string"
    if dt.kind == "S":
        return "binary"
    if dt.kind == "O":
        raise DTypeError(
            "an object dtype does not say what it holds: pass dtype=str or dtype=bytes"
        )
    raise DTypeError(
        f"numpy dtype {dt} has no array-format element type "
        "(supported: bool, int8-int64, uint8-uint64, float16-float64, bfloat16, "
        "complex64, complex128, datetime64, str, bytes)"
    )


def infer(data: np.ndarray) -> str:
    """The element type to store ``data`` as; object arrays by content."""
    if data.dtype.kind == "O":
        flat = data.ravel()
        if flat.size and all(isinstance(v, str) for v in flat):
            return "string"
        if flat.size and all(isinstance(v, bytes) for v in flat):
            return "binary"
        raise DTypeError("an object array must hold only str or only bytes to be stored")
    return from_numpy(data.dtype)


def to_ns(data: np.ndarray) -> np.ndarray:
    """The ``datetime64`` array ``data`` (any unit) as ``datetime64[ns]``;
    an :class:`InvalidValueError` for times outside what nanoseconds since
    1970 in 64 bits hold (years 1678 to 2261), which numpy's conversion
    would silently wrap around."""
    ns = data.astype("datetime64[ns]")
    if data.dtype != ns.dtype and np.can_cast(data.dtype, ns.dtype, casting="safe"):
        # A coarser unit: the conversion is exact unless it overflowed.
        bad = (ns.astype(data.dtype) != data) & ~np.isnat(data)
        if bad.any():
            raise InvalidValueError(
                f"time {data[bad].ravel()[0]} is outside the range of datetime64[ns] "
                f"({np.datetime64(NAT + 1, 'ns')} to {np.datetime64(2**63 - 1, 'ns')})"
            )
    return ns


def encode_fill(name: str, value: Any) -> tuple[str, Any] | None:
    """The fill value ``value`` for element type ``name`` as the native layer
    takes it: ``(kind, value)``, or ``None`` for the default."""
    if value is None:
        return None
    try:
        if name == "bool":
            if not isinstance(value, (bool, np.bool_)) and value not in (0, 1):
                raise InvalidValueError(f"fill value {value!r} of a bool array must be a bool")
            return ("bool", bool(value))
        if name in ("f16", "bf16", "f32", "f64"):
            return ("float", float(value))
        if name in ("c64", "c128"):
            c = complex(value)
            return ("complex", (c.real, c.imag))
        if name[0] in "iu":
            if isinstance(value, (float, np.floating)) and (
                not math.isfinite(value) or value != int(value)
            ):
                raise InvalidValueError(
                    f"fill value {value!r} is not an integer, as element type {name} needs"
                )
            v = int(value)
            info = np.iinfo(to_numpy(name))
            if not int(info.min) <= v <= int(info.max):
                raise InvalidValueError(
                    f"fill value {value!r} is outside the range of element type {name} "
                    f"({info.min} to {info.max})"
                )
            return ("int", v) if name[0] == "i" else ("uint", v)
        if name == "timestamp_ns":
            ts = np.datetime64(value)
            if np.isnat(ts):
                return ("timestamp_ns", NAT)
            try:
                ns = to_ns(np.asarray(ts))
            except InvalidValueError as e:
                raise InvalidValueError(f"fill value {value!r}: {e}") from None
            return ("timestamp_ns", int(ns.astype(np.int64)))
        if name == "string":
            if not isinstance(value, str):
                raise InvalidValueError(f"fill value {value!r} of a string array must be a str")
            return ("string", value)
        if name == "binary":
            if not isinstance(value, bytes):
                raise InvalidValueError(f"fill value {value!r} of a bytes array must be bytes")
            return ("binary", value)
    except (TypeError, ValueError, OverflowError) as e:
        if isinstance(e, InvalidValueError):
            raise
        raise InvalidValueError(
            f"fill value {value!r} does not fit element type {name}: {e}"
        ) from e
    raise DTypeError(f"no element type {name!r}")


def decode_fill(name: str, fill: tuple[str, Any] | None) -> Any:
    """The fill value as a numpy scalar of the array's dtype (``str`` or
    ``bytes`` for object types); the dtype's zero when none was set."""
    if name == "string":
        return "" if fill is None else fill[1]
    if name == "binary":
        return b"" if fill is None else fill[1]
    dt = to_numpy(name)
    if fill is None:
        return np.datetime64(0, "ns") if name == "timestamp_ns" else dt.type(0)
    kind, value = fill
    if kind == "timestamp_ns":
        return np.int64(value).view("datetime64[ns]")
    if kind == "complex":
        return dt.type(complex(*value))
    return dt.type(value)
