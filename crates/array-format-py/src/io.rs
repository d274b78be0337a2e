//! Reading and writing array data: numpy arrays in and out, dispatched on
//! the array's element type.
//!
//! Fixed-width types are decoded straight into the vector that becomes the
//! returned numpy array (no second copy), and written from the caller's
//! C-contiguous numpy array in place. Timestamps travel as `int64` (the
//! Python side views them as `datetime64[ns]`); strings and byte strings as
//! flat Python lists, which the Python side shapes into object arrays.

use array_format::{ArrayElement, ArrayFile, DType, FillValue, TimestampNs};
use ndarray::{ArcArray, ArrayView, IxDyn};
use numpy::{Element, PyArray, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::file::NativeFile;

/// Calls `$body` with `$t` bound to the Rust element type of `$dtype`.
macro_rules! with_dtype {
    ($dtype:expr, $t:ident => $body:expr) => {
        match $dtype {
            DType::Bool => {
                type $t = bool;
                $body
            }
            DType::Int8 => {
                type $t = i8;
                $body
            }
            DType::Int16 => {
                type $t = i16;
                $body
            }
            DType::Int32 => {
                type $t = i32;
                $body
            }
            DType::Int64 => {
                type $t = i64;
                $body
            }
            DType::UInt8 => {
                type $t = u8;
                $body
            }
            DType::UInt16 => {
                type $t = u16;
                $body
            }
            DType::UInt32 => {
                type $t = u32;
                $body
            }
            DType::UInt64 => {
                type $t = u64;
                $body
            }
            DType::Float32 => {
                type $t = f32;
                $body
            }
            DType::Float64 => {
                type $t = f64;
                $body
            }
            DType::String => {
                type $t = String;
                $body
            }
            DType::Binary => {
                type $t = Vec<u8>;
                $body
            }
            DType::TimestampNs => {
                type $t = TimestampNs;
                $body
            }
        }
    };
}

/// Defines array `name` of element type `dtype`.
pub fn define(
    file: &mut ArrayFile,
    dtype: DType,
    name: &str,
    dims: Vec<String>,
    shape: Vec<usize>,
    chunks: Option<Vec<usize>>,
    fill: Option<FillValue>,
) -> array_format::Result<()> {
    with_dtype!(dtype, T => file.define_array::<T>(name, dims, shape, chunks, fill))
}

/// A region: `(start, shape)`.
pub type Region = (Vec<usize>, Vec<usize>);

fn read_region<T: ArrayElement + Send + Sync>(
    this: &NativeFile,
    py: Python<'_>,
    name: &str,
    regions: Vec<Region>,
) -> PyResult<Vec<ArcArray<T, IxDyn>>> {
    this.with_file(py, |f, rt| {
        rt.block_on(futures::future::try_join_all(
            regions
                .into_iter()
                .map(|(start, shape)| f.read_array::<T>(name, start, shape)),
        ))
    })
}

/// A fixed-width array handed to numpy without a copy.
fn to_numpy<'py, T: Element + Clone>(py: Python<'py>, a: ArcArray<T, IxDyn>) -> Bound<'py, PyAny> {
    PyArray::from_owned_array(py, a.into_owned()).into_any()
}

fn timestamps_to_numpy<'py>(
    py: Python<'py>,
    a: ArcArray<TimestampNs, IxDyn>,
) -> PyResult<Bound<'py, PyAny>> {
    let shape = a.shape().to_vec();
    let (raw, _) = a.into_owned().into_raw_vec_and_offset();
    let nanos: Vec<i64> = bytemuck::allocation::cast_vec(raw);
    let owned = ndarray::Array::from_shape_vec(IxDyn(&shape), nanos)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(PyArray::from_owned_array(py, owned).into_any())
}

fn objects<'py, T>(
    py: Python<'py>,
    a: ArcArray<T, IxDyn>,
    one: impl Fn(&T) -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let items = a.iter().map(one).collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any())
}

/// The methods of [`NativeFile`] that move data; `file.rs` exposes them.
impl NativeFile {
    /// Reads the regions `(start, shape)` of array `name`, all at once;
    /// one numpy array (or, for strings and bytes, one flat list) each.
    pub fn read_regions<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        regions: Vec<Region>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let dtype = self.dtype_of(py, name)?;
        match dtype {
            DType::TimestampNs => read_region::<TimestampNs>(self, py, name, regions)?
                .into_iter()
                .map(|a| timestamps_to_numpy(py, a))
                .collect(),
            DType::String => read_region::<String>(self, py, name, regions)?
                .into_iter()
                .map(|a| objects(py, a, |s| s.into_bound_py_any(py)))
                .collect(),
            DType::Binary => read_region::<Vec<u8>>(self, py, name, regions)?
                .into_iter()
                .map(|a| objects(py, a, |b| Ok(PyBytes::new(py, b).into_any())))
                .collect(),
            DType::Bool => numeric::<bool>(self, py, name, regions),
            DType::Int8 => numeric::<i8>(self, py, name, regions),
            DType::Int16 => numeric::<i16>(self, py, name, regions),
            DType::Int32 => numeric::<i32>(self, py, name, regions),
            DType::Int64 => numeric::<i64>(self, py, name, regions),
            DType::UInt8 => numeric::<u8>(self, py, name, regions),
            DType::UInt16 => numeric::<u16>(self, py, name, regions),
            DType::UInt32 => numeric::<u32>(self, py, name, regions),
            DType::UInt64 => numeric::<u64>(self, py, name, regions),
            DType::Float32 => numeric::<f32>(self, py, name, regions),
            DType::Float64 => numeric::<f64>(self, py, name, regions),
        }
    }

    /// Writes `data` (a C-contiguous numpy array of the array's element
    /// type, `int64` for timestamps) at `start` of array `name`.
    pub fn write_numpy(
        &self,
        py: Python<'_>,
        name: &str,
        start: Vec<usize>,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let dtype = self.dtype_of(py, name)?;
        match dtype {
            DType::TimestampNs => {
                let ro: PyReadonlyArrayDyn<'_, i64> = data.extract()?;
                let nanos = ro.as_slice().map_err(|_| not_contiguous())?;
                let view = ArrayView::from_shape(
                    IxDyn(ro.shape()),
                    bytemuck::cast_slice::<i64, TimestampNs>(nanos),
                )
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
                write_view(self, py, name, start, view)
            }
            DType::String | DType::Binary => Err(PyTypeError::new_err(format!(
                "array {name:?} holds {}: write it from a list",
                dtype.name()
            ))),
            DType::Bool => write_numeric::<bool>(self, py, name, start, data),
            DType::Int8 => write_numeric::<i8>(self, py, name, start, data),
            DType::Int16 => write_numeric::<i16>(self, py, name, start, data),
            DType::Int32 => write_numeric::<i32>(self, py, name, start, data),
            DType::Int64 => write_numeric::<i64>(self, py, name, start, data),
            DType::UInt8 => write_numeric::<u8>(self, py, name, start, data),
            DType::UInt16 => write_numeric::<u16>(self, py, name, start, data),
            DType::UInt32 => write_numeric::<u32>(self, py, name, start, data),
            DType::UInt64 => write_numeric::<u64>(self, py, name, start, data),
            DType::Float32 => write_numeric::<f32>(self, py, name, start, data),
            DType::Float64 => write_numeric::<f64>(self, py, name, start, data),
        }
    }

    /// Writes strings or byte strings (a flat list in C order) of `shape`
    /// at `start` of array `name`.
    pub fn write_list(
        &self,
        py: Python<'_>,
        name: &str,
        start: Vec<usize>,
        shape: Vec<usize>,
        values: &Bound<'_, PyList>,
    ) -> PyResult<()> {
        let dtype = self.dtype_of(py, name)?;
        match dtype {
            DType::String => {
                let v: Vec<String> = values.extract()?;
                write_owned(self, py, name, start, &shape, v)
            }
            DType::Binary => {
                let v = values
                    .iter()
                    .map(|b| Ok(b.cast::<PyBytes>()?.as_bytes().to_vec()))
                    .collect::<PyResult<Vec<Vec<u8>>>>()?;
                write_owned(self, py, name, start, &shape, v)
            }
            other => Err(PyTypeError::new_err(format!(
                "array {name:?} holds {}: write it from a numpy array",
                other.name()
            ))),
        }
    }
}

fn numeric<'py, T: ArrayElement + Element + Clone + Send + Sync>(
    this: &NativeFile,
    py: Python<'py>,
    name: &str,
    regions: Vec<Region>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    Ok(read_region::<T>(this, py, name, regions)?
        .into_iter()
        .map(|a| to_numpy(py, a))
        .collect())
}

fn not_contiguous() -> PyErr {
    PyValueError::new_err("the data must be a C-contiguous array")
}

fn write_numeric<T: ArrayElement + Element + Send + Sync>(
    this: &NativeFile,
    py: Python<'_>,
    name: &str,
    start: Vec<usize>,
    data: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let ro: PyReadonlyArrayDyn<'_, T> = data.extract()?;
    write_view(this, py, name, start, ro.as_array())
}

fn write_view<T: ArrayElement + Send + Sync>(
    this: &NativeFile,
    py: Python<'_>,
    name: &str,
    start: Vec<usize>,
    view: ArrayView<'_, T, IxDyn>,
) -> PyResult<()> {
    this.with_file_mut(py, |f, rt| rt.block_on(f.write_array(name, start, view)))
}

fn write_owned<T: ArrayElement + Send + Sync>(
    this: &NativeFile,
    py: Python<'_>,
    name: &str,
    start: Vec<usize>,
    shape: &[usize],
    values: Vec<T>,
) -> PyResult<()> {
    let n = values.len();
    let a = ndarray::Array::from_shape_vec(IxDyn(shape), values)
        .map_err(|e| PyValueError::new_err(format!("{n} values for shape {shape:?}: {e}")))?;
    write_view(this, py, name, start, a.view())
}
