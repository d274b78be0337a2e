//! Attribute and fill values between Python and the library.
//!
//! The Python side decides the type of a value (a Python `int` is an `i64`,
//! a `numpy.float32` an `f32`, a numpy array of `int16` an `i16[]`, ...) and
//! passes it here tagged with the library's type name
//! ([`AttributeValue::type_name`]); lists arrive as Python lists. Values go
//! back the same way, and the Python side rebuilds numpy scalars and arrays
//! from the tags.

use array_format::{AttributeValue as A, FillValue};
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

fn bytes_of(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    Ok(value.cast::<PyBytes>()?.as_bytes().to_vec())
}

/// The attribute value of type `tag` held by `value`.
pub fn attr_from_py(tag: &str, value: &Bound<'_, PyAny>) -> PyResult<A> {
    Ok(match tag {
        "bool" => A::Bool(value.extract()?),
        "i8" => A::Int8(value.extract()?),
        "i16" => A::Int16(value.extract()?),
        "i32" => A::Int32(value.extract()?),
        "i64" => A::Int64(value.extract()?),
        "u8" => A::UInt8(value.extract()?),
        "u16" => A::UInt16(value.extract()?),
        "u32" => A::UInt32(value.extract()?),
        "u64" => A::UInt64(value.extract()?),
        "f32" => A::Float32(value.extract()?),
        "f64" => A::Float64(value.extract()?),
        "string" => A::String(value.extract()?),
        "binary" => A::Binary(bytes_of(value)?),
        "bool[]" => A::BoolList(value.extract()?),
        "i8[]" => A::Int8List(value.extract()?),
        "i16[]" => A::Int16List(value.extract()?),
        "i32[]" => A::Int32List(value.extract()?),
        "i64[]" => A::Int64List(value.extract()?),
        "u8[]" => A::UInt8List(value.extract()?),
        "u16[]" => A::UInt16List(value.extract()?),
        "u32[]" => A::UInt32List(value.extract()?),
        "u64[]" => A::UInt64List(value.extract()?),
        "f32[]" => A::Float32List(value.extract()?),
        "f64[]" => A::Float64List(value.extract()?),
        "string[]" => A::StringList(value.extract()?),
        other => {
            return Err(PyTypeError::new_err(format!("no attribute type {other:?}")));
        }
    })
}

/// `value` as `(tag, Python value)`; lists as Python lists.
pub fn attr_to_py<'py>(py: Python<'py>, value: &A) -> PyResult<(&'static str, Bound<'py, PyAny>)> {
    let list = |items: Vec<Bound<'py, PyAny>>| PyList::new(py, items)?.into_bound_py_any(py);
    macro_rules! items {
        ($v:expr) => {
            list(
                $v.iter()
                    .map(|x| x.into_bound_py_any(py))
                    .collect::<PyResult<Vec<_>>>()?,
            )?
        };
    }
    let out = match value {
        A::Bool(v) => v.into_bound_py_any(py)?,
        A::Int8(v) => v.into_bound_py_any(py)?,
        A::Int16(v) => v.into_bound_py_any(py)?,
        A::Int32(v) => v.into_bound_py_any(py)?,
        A::Int64(v) => v.into_bound_py_any(py)?,
        A::UInt8(v) => v.into_bound_py_any(py)?,
        A::UInt16(v) => v.into_bound_py_any(py)?,
        A::UInt32(v) => v.into_bound_py_any(py)?,
        A::UInt64(v) => v.into_bound_py_any(py)?,
        A::Float32(v) => v.into_bound_py_any(py)?,
        A::Float64(v) => v.into_bound_py_any(py)?,
        A::String(v) => v.into_bound_py_any(py)?,
        A::Binary(v) => PyBytes::new(py, v).into_any(),
        A::BoolList(v) => items!(v),
        A::Int8List(v) => items!(v),
        A::Int16List(v) => items!(v),
        A::Int32List(v) => items!(v),
        A::Int64List(v) => items!(v),
        // Not `Vec<u8>`'s own conversion, which makes `bytes`.
        A::UInt8List(v) => items!(v),
        A::UInt16List(v) => items!(v),
        A::UInt32List(v) => items!(v),
        A::UInt64List(v) => items!(v),
        A::Float32List(v) => items!(v),
        A::Float64List(v) => items!(v),
        A::StringList(v) => items!(v),
    };
    Ok((value.type_name(), out))
}

/// The fill value of kind `tag` (`bool`, `int`, `uint`, `float`, `string`,
/// `binary`, `timestamp_ns`) held by `value`.
pub fn fill_from_py(tag: &str, value: &Bound<'_, PyAny>) -> PyResult<FillValue> {
    Ok(match tag {
        "bool" => FillValue::Bool(value.extract()?),
        "int" => FillValue::Int(value.extract()?),
        "uint" => FillValue::UInt(value.extract()?),
        "float" => FillValue::Float(value.extract()?),
        "string" => FillValue::String(value.extract()?),
        "binary" => FillValue::Binary(bytes_of(value)?),
        "timestamp_ns" => FillValue::TimestampNs(value.extract()?),
        "complex" => {
            let (re, im): (f64, f64) = value.extract()?;
            FillValue::Complex(re, im)
        }
        other => {
            return Err(PyTypeError::new_err(format!(
                "no fill value kind {other:?}"
            )));
        }
    })
}

/// `fill` as `(kind, Python value)`, the kinds of [`fill_from_py`].
pub fn fill_to_py<'py>(
    py: Python<'py>,
    fill: &FillValue,
) -> PyResult<(&'static str, Bound<'py, PyAny>)> {
    Ok(match fill {
        FillValue::Bool(v) => ("bool", v.into_bound_py_any(py)?),
        FillValue::Int(v) => ("int", v.into_bound_py_any(py)?),
        FillValue::UInt(v) => ("uint", v.into_bound_py_any(py)?),
        FillValue::Float(v) => ("float", v.into_bound_py_any(py)?),
        FillValue::String(v) => ("string", v.into_bound_py_any(py)?),
        FillValue::Binary(v) => ("binary", PyBytes::new(py, v).into_any()),
        FillValue::TimestampNs(v) => ("timestamp_ns", v.into_bound_py_any(py)?),
        FillValue::Complex(re, im) => ("complex", (re, im).into_bound_py_any(py)?),
    })
}
