"""Attributes: Python values to the library's typed values and back, and the
mutable mapping ``Array.attrs`` (and ``File.attrs``) present them as.

Values stored, and what reading gives back:

==============================================  ===================================
written                                         read back
==============================================  ===================================
``bool``, ``numpy.bool_``                       ``bool``
``int`` (``numpy.int64``)                       ``int``
``float`` (``numpy.float64``)                   ``float``
other numpy integer and float scalars           the same numpy scalar type
``numpy.float16`` scalars and arrays            ``numpy.float32`` (exactly)
``str``, ``bytes``                              ``str``, ``bytes``
a list or 1-d array of numbers or bools         a 1-d numpy array of that dtype
                                                (``int64``/``float64`` for lists)
a list or 1-d array of ``str``                  ``list[str]``
==============================================  ===================================
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any, Callable

import numpy as np

from ._errors import DTypeError

_SCALAR_TAGS = {
    "b1": "bool",
    "i1": "i8",
    "i2": "i16",
    "i4": "i32",
    "i8": "i64",
    "u1": "u8",
    "u2": "u16",
    "u4": "u32",
    "u8": "u64",
    "f4": "f32",
    "f8": "f64",
}
_NUMPY_OF_TAG = {tag: np.dtype(code) for code, tag in _SCALAR_TAGS.items()}

_I64 = (-(2**63), 2**63 - 1)
_U64_MAX = 2**64 - 1


def _int_tag(values: list[int]) -> str:
    if all(_I64[0] <= v <= _I64[1] for v in values):
        return "i64"
    if all(0 <= v <= _U64_MAX for v in values):
        return "u64"
    raise DTypeError(f"an integer attribute must fit in 64 bits: {values}")


def encode(key: str, value: Any) -> tuple[str, Any]:
    """``value`` as ``(type, value)`` for the native layer."""
    if isinstance(value, (bool, np.bool_)):
        return ("bool", bool(value))
    if isinstance(value, np.generic):
        dt = value.dtype
        code = f"{dt.kind}{dt.itemsize}"
        if code in _SCALAR_TAGS:
            return (_SCALAR_TAGS[code], value.item())
        if code == "f2":
            # Attributes have no 16-bit float; float32 holds every value.
            return ("f32", float(value))
        if dt.kind == "U":
            return ("string", str(value))
        if dt.kind == "S":
            return ("binary", value.tobytes())
    elif isinstance(value, int):
        return (_int_tag([value]), value)
    elif isinstance(value, float):
        return ("f64", value)
    elif isinstance(value, str):
        return ("string", value)
    elif isinstance(value, bytes):
        return ("binary", value)
    elif isinstance(value, np.ndarray):
        if value.ndim == 0:
            return encode(key, value[()])
        if value.ndim == 1:
            return _encode_list(key, value)
    elif isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return ("string[]", list(value))
        if all(isinstance(v, (bool, np.bool_)) for v in value):
            return ("bool[]", [bool(v) for v in value])
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return (f"{_int_tag(list(value))}[]", list(value))
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return ("f64[]", [float(v) for v in value])
        if all(isinstance(v, np.generic) for v in value):
            return _encode_list(key, np.asarray(value))
    raise DTypeError(
        f"attribute {key!r}: a {type(value).__name__} cannot be stored; use bool, int, "
        "float, str, bytes, a numpy scalar, or a list or 1-d array of them"
    )


def _encode_list(key: str, arr: np.ndarray) -> tuple[str, Any]:
    dt = arr.dtype
    code = f"{dt.kind}{dt.itemsize}"
    if code in _SCALAR_TAGS:
        return (f"{_SCALAR_TAGS[code]}[]", arr.tolist())
    if code == "f2":
        return ("f32[]", arr.astype(np.float32).tolist())
    if dt.kind in "UT" or (dt.kind == "O" and all(isinstance(v, str) for v in arr)):
        return ("string[]", [str(v) for v in arr])
    raise DTypeError(f"attribute {key!r}: an array of {dt} cannot be stored")


def decode(tag: str, value: Any) -> Any:
    """The Python value of a ``(type, value)`` from the native layer."""
    if tag in ("bool", "i64", "f64", "string", "binary"):
        return value
    if tag == "string[]":
        return list(value)
    if tag.endswith("[]"):
        return np.array(value, dtype=_NUMPY_OF_TAG[tag[:-2]])
    return _NUMPY_OF_TAG[tag].type(value)


class Attributes(MutableMapping[str, Any]):
    """The attributes of an array or of the file: a mutable mapping whose
    changes are committed by the file's next ``flush()``."""

    def __init__(
        self,
        read: Callable[[], list[tuple[str, str, Any]]],
        write: Callable[[str, str, Any], None],
        remove: Callable[[str], bool],
        owner: str,
    ) -> None:
        self._read = read
        self._write = write
        self._remove = remove
        self._owner = owner

    def _all(self) -> dict[str, Any]:
        return {k: decode(t, v) for k, t, v in self._read()}

    def __getitem__(self, key: str) -> Any:
        for k, t, v in self._read():
            if k == key:
                return decode(t, v)
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"attribute keys are str, not {type(key).__name__}")
        tag, v = encode(key, value)
        self._write(key, tag, v)

    def __delitem__(self, key: str) -> None:
        if not self._remove(key):
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter([k for k, _, _ in self._read()])

    def __len__(self) -> int:
        return len(self._read())

    def __contains__(self, key: object) -> bool:
        return any(k == key for k, _, _ in self._read())

    def update(self, *args: Any, **kwargs: Any) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def asdict(self) -> dict[str, Any]:
        """Every attribute, as a plain dict."""
        return self._all()

    def __repr__(self) -> str:
        return f"<Attributes of {self._owner}: {self._all()!r}>"
