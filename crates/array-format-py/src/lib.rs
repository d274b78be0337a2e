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

/// The canonical form of a pipeline spec (`"zstd"` gives `"zstd:3"`,
/// `"Shuffle+ZSTD"` gives `"shuffle+zstd:3"`); with `kind` (a dtype name),
/// also checked against that element type. `InvalidValueError` saying why
/// for anything else, a custom codec's name included (Python has none).
#[pyfunction]
#[pyo3(signature = (spec, kind=None))]
fn canonical_codec(spec: &str, kind: Option<&str>) -> PyResult<String> {
    let invalid = |why: String| errors::raise("InvalidValueError", format!("codec {spec:?}: {why}"));
    let pipeline = spec
        .parse::<array_format::Pipeline>()
        .map_err(|e| invalid(e.to_string()))?;
    if let array_format::PipelineCodec::Custom(name) = pipeline.codec() {
        return Err(invalid(format!(
            "unknown codec {name:?}: use none, lz4, zstd, zstd:LEVEL, pco or pco:LEVEL, \
             after filters bitround:N, delta, shuffle (joined by +)"
        )));
    }
    if let Some(kind) = kind {
        let dtype = array_format::DType::from_name(kind)
            .ok_or_else(|| invalid(format!("unknown element type {kind:?}")))?;
        pipeline
            .check_dtype(dtype)
            .map_err(|e| invalid(e.to_string()))?;
    }
    Ok(pipeline.to_string())
}

/// The pipeline measured best for element type `kind` (a dtype name),
/// which arrays created without a codec get.
#[pyfunction]
fn default_pipeline(kind: &str) -> PyResult<String> {
    let dtype = array_format::DType::from_name(kind).ok_or_else(|| {
        errors::raise("InvalidValueError", format!("unknown element type {kind:?}"))
    })?;
    Ok(array_format::Pipeline::default_for(dtype).to_string())
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<file::NativeFile>()?;
    m.add_function(wrap_pyfunction!(canonical_codec, m)?)?;
    m.add_function(wrap_pyfunction!(default_pipeline, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("FORMAT_VERSION", array_format::FORMAT_VERSION)?;
    Ok(())
}
