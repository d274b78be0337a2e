//! Library errors as Python exceptions of the right class.
//!
//! The classes live in `arrayformat/_errors.py`, where each also derives
//! from the built-in a Python user expects (`KeyError` for a missing
//! array, `IndexError` for a region outside it, ...), which a
//! `create_exception!` class, with one base, could not.

use array_format::Error;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// The `arrayformat._errors` class for `e`.
fn class_name(e: &Error) -> &'static str {
    match e {
        Error::ArrayNotFound { .. } => "ArrayNotFoundError",
        Error::ArrayAlreadyExists { .. } => "ArrayExistsError",
        Error::FileNotFound { .. } => "FileMissingError",
        Error::FileExists { .. } => "FileAlreadyExistsError",
        Error::Conflict { .. } => "ConflictError",
        Error::CommitUnconfirmed { .. } => "CommitUnconfirmedError",
        Error::Corrupted { .. } => "CorruptedError",
        Error::UnsupportedVersion { .. } => "UnsupportedVersionError",
        Error::Vanished { .. } => "VanishedError",
        Error::VersionNotFound { .. } => "VersionNotFoundError",
        Error::UnknownCodec { .. } | Error::Codec { .. } => "CodecError",
        Error::DTypeMismatch { .. } => "DTypeError",
        Error::RankMismatch { .. } | Error::OutOfBounds { .. } => "BoundsError",
        Error::InvalidPath { .. }
        | Error::InvalidCodec { .. }
        | Error::InvalidName { .. }
        | Error::InvalidShape { .. }
        | Error::InvalidFillValue { .. }
        | Error::ChunkTooLarge { .. } => "InvalidValueError",
        Error::Io { .. } | Error::Storage { .. } => "StorageError",
        Error::InvalidOperation { .. } | Error::NotStageable { .. } => "InvalidOperationError",
        Error::PartNotFound { .. } | Error::ForeignPart { .. } => "PartError",
        Error::Internal { .. } => "InternalError",
        _ => "ArrayFormatError",
    }
}

/// Converts a library error into the Python exception of its class, its
/// message the library's (which names the array, object or value).
pub fn to_py(e: Error) -> PyErr {
    Python::attach(|py| {
        let message = e.to_string();
        match exception_class(py, class_name(&e)) {
            Ok(class) => PyErr::from_type(class, message),
            // The package's own module is missing: the extension was loaded
            // outside it. Still an exception, never a panic.
            Err(_) => pyo3::exceptions::PyRuntimeError::new_err(message),
        }
    })
}

/// A Python exception of `arrayformat._errors` class `class`.
pub fn raise(class: &str, message: String) -> PyErr {
    Python::attach(|py| match exception_class(py, class) {
        Ok(class) => PyErr::from_type(class, message),
        Err(_) => pyo3::exceptions::PyRuntimeError::new_err(message),
    })
}

fn exception_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    Ok(py
        .import("arrayformat._errors")?
        .getattr(name)?
        .cast_into::<PyType>()?)
}

/// Extension trait: `result.py()?` in place of `.map_err(to_py)?`.
pub trait IntoPy<T> {
    /// The result with its error as a Python exception.
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for array_format::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
