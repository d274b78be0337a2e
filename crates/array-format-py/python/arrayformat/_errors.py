"""The exceptions arrayformat raises.

Every error of the library is an :class:`ArrayFormatError`. Most also derive
from the built-in exception a Python user would catch for the same mistake:
a missing array is a :class:`KeyError`, a region outside an array an
:class:`IndexError`, a value of the wrong type a :class:`TypeError`, a bad
shape or name a :class:`ValueError`, a failed read or write of storage an
:class:`OSError`.
"""

from __future__ import annotations

__all__ = [
    "ArrayExistsError",
    "ArrayFormatError",
    "ArrayNotFoundError",
    "BoundsError",
    "CodecError",
    "CommitUnconfirmedError",
    "ConflictError",
    "CorruptedError",
    "DTypeError",
    "FileAlreadyExistsError",
    "FileMissingError",
    "InternalError",
    "InvalidOperationError",
    "InvalidValueError",
    "PartError",
    "ReadOnlyError",
    "StorageError",
    "UnsupportedVersionError",
    "VanishedError",
    "VersionNotFoundError",
]


class ArrayFormatError(Exception):
    """Base class of every error arrayformat raises."""


class ConflictError(ArrayFormatError):
    """Another writer committed a change to the same chunk, attribute or
    array first, or took the layer number this flush tried to create.
    Nothing is lost: the pending changes are kept; ``refresh()`` and flush
    again."""


class CommitUnconfirmedError(ArrayFormatError):
    """A layer was written but whether it became part of the file's history
    could not be settled; the next ``flush()`` settles it."""


class CorruptedError(ArrayFormatError):
    """Stored bytes failed their checks: damaged, truncated or not this
    format. The message names the object and what is wrong."""


class UnsupportedVersionError(ArrayFormatError):
    """The file was written by a format version this build cannot read."""


class VanishedError(ArrayFormatError):
    """A layer this handle reads was removed by a compaction or vacuum
    elsewhere; ``refresh()`` or open the file again."""


class VersionNotFoundError(ArrayFormatError, LookupError):
    """The version (layer) asked for with ``as_of`` does not exist."""


class CodecError(ArrayFormatError):
    """A compression codec failed, or is not known to this build."""


class ArrayNotFoundError(ArrayFormatError, KeyError):
    """No array of that name."""

    def __str__(self) -> str:
        # KeyError quotes its argument; the message is a sentence.
        return str(self.args[0]) if self.args else ""


class ArrayExistsError(ArrayFormatError, ValueError):
    """An array of that name exists already."""


class FileMissingError(ArrayFormatError, FileNotFoundError):
    """No array-format file at that path."""


class FileAlreadyExistsError(ArrayFormatError, FileExistsError):
    """The file exists and mode ``"w-"`` creates only new files."""


class DTypeError(ArrayFormatError, TypeError):
    """Data of another element type than the array's."""


class BoundsError(ArrayFormatError, IndexError):
    """An index or region outside the array, or of the wrong rank."""


class InvalidValueError(ArrayFormatError, ValueError):
    """A name, shape, chunk shape, fill value or path that is not
    acceptable."""


class StorageError(ArrayFormatError, OSError):
    """Reading or writing storage failed (disk, network, object store)."""


class PartError(ArrayFormatError):
    """A staged part handed to ``commit_parts`` is missing (never written, or
    reclaimed) or is not a part of this file."""


class InternalError(ArrayFormatError, RuntimeError):
    """An invariant of the library's own state did not hold: a bug in
    array-format (please report it), not damage to the file or misuse.
    Nothing was written."""


class InvalidOperationError(ArrayFormatError):
    """The operation is not possible on the file in its current state."""


class ReadOnlyError(InvalidOperationError):
    """A change to a file opened read-only (mode ``"r"`` or ``as_of``)."""
