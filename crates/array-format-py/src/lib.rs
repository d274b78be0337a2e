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

/// The canonical pipeline for arrays of element type `kind` (a dtype name)
/// from `codec` (a codec or a whole pipeline) and `filters`, the rest
/// from the pipeline measured best for `kind`
/// ([`array_format::Pipeline::compose`]). `InvalidValueError` saying why
/// for anything else, a custom codec's name included (Python has none).
#[pyfunction]
#[pyo3(signature = (kind, codec=None, filters=None))]
fn compose_pipeline(
    kind: &str,
    codec: Option<&str>,
    filters: Option<Vec<String>>,
) -> PyResult<String> {
    let invalid = |why: String| errors::raise("InvalidValueError", why);
    let dtype = array_format::DType::from_name(kind)
        .ok_or_else(|| invalid(format!("unknown element type {kind:?}")))?;
    let filters: Option<Vec<&str>> = filters
        .as_ref()
        .map(|f| f.iter().map(String::as_str).collect());
    let pipeline = array_format::Pipeline::compose(dtype, codec, filters.as_deref())
        .map_err(|e| invalid(format!("codec {:?}: {e}", codec.unwrap_or_default())))?;
    if let array_format::PipelineCodec::Custom(name) = pipeline.codec() {
        return Err(invalid(format!(
            "unknown codec {name:?}: use none, lz4, zstd, zstd:LEVEL, pco or pco:LEVEL, \
             after filters bitround:N, delta, shuffle (joined by +)"
        )));
    }
    Ok(pipeline.to_string())
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<file::NativeFile>()?;
    m.add_function(wrap_pyfunction!(compose_pipeline, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("FORMAT_VERSION", array_format::FORMAT_VERSION)?;
    Ok(())
}
