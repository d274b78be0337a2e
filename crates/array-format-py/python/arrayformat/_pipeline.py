"""The pipeline an array's chunks are stored with: filters, then a codec."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import _native


def pipeline(kind: str, codec: Any = None, filters: Any = None) -> str:
    """The canonical pipeline spec for an array of element type ``kind``.

    ``codec`` is a codec (``"zstd:5"``, ``"lz4"``, ``"pco"``, ...) or a
    whole pipeline (``"shuffle+zstd:5"``); ``filters`` a sequence of filters
    (``["bitround:10", "shuffle"]``, or ``[]`` for none). What is not given
    comes from the pipeline measured best for ``kind``: its codec, and its
    filters with ``lz4`` and ``zstd`` (pco finds patterns in numbers
    itself, ``none`` gains nothing from them). A whole pipeline takes no
    further filters. ``InvalidValueError`` says why a pipeline does not
    suit ``kind``.
    """
    if codec is not None and not isinstance(codec, str):
        raise TypeError(f"a codec is named by a str, not {type(codec).__name__}")
    if filters is not None:
        if isinstance(filters, str) or not isinstance(filters, Sequence):
            raise TypeError(f"filters are a list of str, not {type(filters).__name__}")
        for f in filters:
            if not isinstance(f, str):
                raise TypeError(f"a filter is named by a str, not {type(f).__name__}")
    return _native.compose_pipeline(kind, codec, None if filters is None else list(filters))
