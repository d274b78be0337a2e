//! `arrayformat._native`: the compiled core of the Python package
//! `arrayformat`.
//!
//! It exposes one class, `NativeFile`, a thin layer
//! over [`array_format::ArrayFile`] that releases the GIL for every call and
//! moves array data between numpy and the library without copies. The
//! Python API users see (`arrayformat.open`, `File`, `Array`, indexing,
//! the xarray backend, Dask) is written in Python on top of it, in
//! `python/arrayformat/`.

mod errors;
mod file;
mod io;
mod runtime;
mod values;

use pyo3::prelude::*;

/// The canonical form of a built-in codec spec (`"zstd"` gives
/// `"zstd:3"`); `InvalidValueError` for anything else.
#[pyfunction]
fn canonical_codec(spec: &str) -> PyResult<String> {
    spec.parse::<array_format::BuiltinCodec>()
        .map(|c| c.to_string())
        .map_err(|e| errors::raise("InvalidValueError", format!("codec {spec:?}: {e}")))
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<file::NativeFile>()?;
    m.add_function(wrap_pyfunction!(canonical_codec, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("FORMAT_VERSION", array_format::FORMAT_VERSION)?;
    Ok(())
}
