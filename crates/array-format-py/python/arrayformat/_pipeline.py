"""The pipeline an array's chunks are stored with: filters, then a codec."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import _native
from ._errors import InvalidValueError

#: Codecs after which the default filters are left out: pco finds patterns
#: in numbers itself, and bytes stored as they are gain nothing from them.
_NO_DEFAULT_FILTERS = ("pco", "none")


def pipeline(kind: str, codec: Any = None, filters: Any = None) -> str:
    """The canonical pipeline spec for an array of element type ``kind``.

    ``codec`` is a codec (``"zstd:5"``, ``"lz4"``, ``"pco"``, ...) or a
    whole pipeline (``"shuffle+zstd:5"``); ``filters`` a sequence of filters
    (``["bitround:10", "shuffle"]``, or ``[]`` for none). What is not given
    comes from the pipeline measured best for ``kind``
    (``_native.default_pipeline``): its codec, and its filters unless the
    codec is pco or none, which gain nothing from them. A whole pipeline takes no further
    filters. ``InvalidValueError`` says why a pipeline does not suit
    ``kind``.
    """
    if codec is not None and not isinstance(codec, str):
        raise TypeError(f"a codec is named by a str, not {type(codec).__name__}")
    if filters is not None:
        if isinstance(filters, str) or not isinstance(filters, Sequence):
            raise TypeError(f"filters are a list of str, not {type(filters).__name__}")
        for f in filters:
            if not isinstance(f, str):
                raise TypeError(f"a filter is named by a str, not {type(f).__name__}")
    if codec is not None and "+" in codec:
        if filters:
            raise InvalidValueError(
                f"codec {codec!r} names its filters already: give them there or in "
                "filters, not both"
            )
        return _native.canonical_codec(codec, kind)
    default_filters, _, default_codec = _native.default_pipeline(kind).rpartition("+")
    if codec is None:
        codec = default_codec
    if filters is None:
        bare = codec.strip().lower().startswith(_NO_DEFAULT_FILTERS)
        filters = [] if bare or not default_filters else default_filters.split("+")
    return _native.canonical_codec("+".join([*filters, codec]), kind)
