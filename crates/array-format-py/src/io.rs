//! Reading and writing array data: numpy arrays in and out, dispatched on
//! the array's element type.
//!
//! Fixed-width types are decoded straight into the vector that becomes the
//! returned numpy array (no second copy), and written from the caller's
//! C-contiguous numpy array in place. Timestamps travel as `int64` (the
//! Python side views them as `datetime64[ns]`); strings and byte strings as
//! flat Python lists, which the Python side shapes into object arrays.

use array_format::half::{bf16, f16};
use array_format::num_complex::Complex;
use array_format::{ArrayElement, ArrayFile, DType, TimestampNs};
use ndarray::{ArcArray, ArrayView, IxDyn};
use numpy::{Element, PyArray, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyList, PyTuple};

use crate::file::NativeFile;
use crate::runtime::run;

/// A region: `(start, shape)`.
pub type Region = (Vec<usize>, Vec<usize>);

/// Regions read, of one element type.
enum Read {
    Bool(Vec<ArcArray<bool, IxDyn>>),
    I8(Vec<ArcArray<i8, IxDyn>>),
    I16(Vec<ArcArray<i16, IxDyn>>),
    I32(Vec<ArcArray<i32, IxDyn>>),
    I64(Vec<ArcArray<i64, IxDyn>>),
    U8(Vec<ArcArray<u8, IxDyn>>),
    U16(Vec<ArcArray<u16, IxDyn>>),
    U32(Vec<ArcArray<u32, IxDyn>>),
    U64(Vec<ArcArray<u64, IxDyn>>),
    F32(Vec<ArcArray<f32, IxDyn>>),
    F64(Vec<ArcArray<f64, IxDyn>>),
    F16(Vec<ArcArray<f16, IxDyn>>),
    BF16(Vec<ArcArray<bf16, IxDyn>>),
    C64(Vec<ArcArray<Complex<f32>, IxDyn>>),
    C128(Vec<ArcArray<Complex<f64>, IxDyn>>),
    Timestamp(Vec<ArcArray<TimestampNs, IxDyn>>),
    String(Vec<ArcArray<String, IxDyn>>),
    Binary(Vec<ArcArray<Vec<u8>, IxDyn>>),
}

async fn regions_of<T: ArrayElement>(
    f: &ArrayFile,
    name: &str,
    regions: Vec<Region>,
) -> array_format::Result<Vec<ArcArray<T, IxDyn>>> {
    futures::future::try_join_all(
        regions
            .into_iter()
            .map(|(start, shape)| f.read_array::<T>(name, start, shape)),
    )
    .await
}

/// Reads `regions` of array `name`, concurrently, as its element type.
async fn read_any(f: &ArrayFile, name: &str, regions: Vec<Region>) -> array_format::Result<Read> {
    Ok(match f.get_array(name)?.dtype {
        DType::Bool => Read::Bool(regions_of(f, name, regions).await?),
        DType::Int8 => Read::I8(regions_of(f, name, regions).await?),
        DType::Int16 => Read::I16(regions_of(f, name, regions).await?),
        DType::Int32 => Read::I32(regions_of(f, name, regions).await?),
        DType::Int64 => Read::I64(regions_of(f, name, regions).await?),
        DType::UInt8 => Read::U8(regions_of(f, name, regions).await?),
        DType::UInt16 => Read::U16(regions_of(f, name, regions).await?),
        DType::UInt32 => Read::U32(regions_of(f, name, regions).await?),
        DType::UInt64 => Read::U64(regions_of(f, name, regions).await?),
        DType::Float32 => Read::F32(regions_of(f, name, regions).await?),
        DType::Float64 => Read::F64(regions_of(f, name, regions).await?),
        DType::Float16 => Read::F16(regions_of(f, name, regions).await?),
        DType::BFloat16 => Read::BF16(regions_of(f, name, regions).await?),
        DType::Complex64 => Read::C64(regions_of(f, name, regions).await?),
        DType::Complex128 => Read::C128(regions_of(f, name, regions).await?),
        DType::TimestampNs => Read::Timestamp(regions_of(f, name, regions).await?),
        DType::String => Read::String(regions_of(f, name, regions).await?),
        DType::Binary => Read::Binary(regions_of(f, name, regions).await?),
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

impl Read {
    /// One numpy array per region (`int64` for timestamps), or one flat
    /// list for strings and bytes.
    fn into_py(self, py: Python<'_>) -> PyResult<Vec<Bound<'_, PyAny>>> {
        fn all<'py, T: Element + Clone>(
            py: Python<'py>,
            v: Vec<ArcArray<T, IxDyn>>,
        ) -> PyResult<Vec<Bound<'py, PyAny>>> {
            Ok(v.into_iter().map(|a| to_numpy(py, a)).collect())
        }
        match self {
            Read::Bool(v) => all(py, v),
            Read::I8(v) => all(py, v),
            Read::I16(v) => all(py, v),
            Read::I32(v) => all(py, v),
            Read::I64(v) => all(py, v),
            Read::U8(v) => all(py, v),
            Read::U16(v) => all(py, v),
            Read::U32(v) => all(py, v),
            Read::U64(v) => all(py, v),
            Read::F32(v) => all(py, v),
            Read::F64(v) => all(py, v),
            Read::F16(v) => all(py, v),
            Read::BF16(v) => all(py, v),
            Read::C64(v) => all(py, v),
            Read::C128(v) => all(py, v),
            Read::Timestamp(v) => v.into_iter().map(|a| timestamps_to_numpy(py, a)).collect(),
            Read::String(v) => v
                .into_iter()
                .map(|a| objects(py, a, |s| s.into_bound_py_any(py)))
                .collect(),
            Read::Binary(v) => v
                .into_iter()
                .map(|a| objects(py, a, |b| Ok(PyBytes::new(py, b).into_any())))
                .collect(),
        }
    }
}

impl Read {
    /// The first element of the first region, as numpy's own indexing gives
    /// it: a numpy scalar (`np.float32`, ...; `int64` nanoseconds for
    /// timestamps), or the `str` or `bytes`.
    fn into_element(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        fn scalar<'py, T: Element + Copy>(
            py: Python<'py>,
            v: Vec<ArcArray<T, IxDyn>>,
        ) -> PyResult<Bound<'py, PyAny>> {
            let x = first(v)?;
            PyArray::from_slice(py, &[x]).into_any().get_item(0)
        }
        fn first<T: Clone>(v: Vec<ArcArray<T, IxDyn>>) -> PyResult<T> {
            v.first()
                .and_then(|a| a.iter().next().cloned())
                .ok_or_else(|| PyValueError::new_err("no element was read"))
        }
        match self {
            Read::Bool(v) => scalar(py, v),
            Read::I8(v) => scalar(py, v),
            Read::I16(v) => scalar(py, v),
            Read::I32(v) => scalar(py, v),
            Read::I64(v) => scalar(py, v),
            Read::U8(v) => scalar(py, v),
            Read::U16(v) => scalar(py, v),
            Read::U32(v) => scalar(py, v),
            Read::U64(v) => scalar(py, v),
            Read::F32(v) => scalar(py, v),
            Read::F64(v) => scalar(py, v),
            Read::F16(v) => scalar(py, v),
            Read::BF16(v) => scalar(py, v),
            Read::C64(v) => scalar(py, v),
            Read::C128(v) => scalar(py, v),
            Read::Timestamp(v) => first(v)?.0.into_bound_py_any(py),
            Read::String(v) => first(v)?.into_bound_py_any(py),
            Read::Binary(v) => Ok(PyBytes::new(py, &first(v)?).into_any()),
        }
    }
}

/// Where `index` (negative counts from the end) falls in an array of
/// `shape`, or the message numpy gives when it falls outside.
fn point(index: &[i64], shape: &[u64]) -> Result<Vec<usize>, String> {
    if index.len() != shape.len() {
        return Err(format!(
            "{} indices for an array of {} dimension(s)",
            index.len(),
            shape.len()
        ));
    }
    index
        .iter()
        .zip(shape)
        .enumerate()
        .map(|(axis, (&i, &n))| {
            let n_i = i64::try_from(n).unwrap_or(i64::MAX);
            let j = if i < 0 { i.saturating_add(n_i) } else { i };
            if (0..n_i).contains(&j) {
                usize::try_from(j).map_err(|_| format!("index {i} does not fit in memory"))
            } else {
                Err(format!(
                    "index {i} is out of bounds for axis {axis} with size {n}"
                ))
            }
        })
        .collect()
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
        self.with_file(py, |f, rt| run(rt, read_any(f, name, regions)))?
            .into_py(py)
    }

    /// Reads one element if `key` is a tuple of one plain `int` per
    /// dimension (negative counts from the end): numpy's scalar for it, or
    /// the `str` or `bytes`; `None` for any other key, which the Python side
    /// resolves itself. An index out of bounds is a `BoundsError`.
    pub fn read_key<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Ok(items) = key.cast::<PyTuple>() else {
            return Ok(None);
        };
        let mut index = Vec::with_capacity(items.len());
        for item in items.iter() {
            // Exactly `int`: bools, numpy integers and the rest take the
            // general path, which knows numpy's rules for them.
            if !item.is_exact_instance_of::<PyInt>() {
                return Ok(None);
            }
            index.push(item.extract::<i64>()?);
        }
        let read = self.with_file(py, |f, rt| {
            let shape = &f.get_array(name)?.shape;
            if index.len() != shape.len() {
                return Ok(None);
            }
            let at = match point(&index, shape) {
                Ok(at) => at,
                Err(message) => return Ok(Some(Err(message))),
            };
            let ones = vec![1; at.len()];
            run(rt, read_any(f, name, vec![(at, ones)])).map(|r| Some(Ok(r)))
        })?;
        match read {
            None => Ok(None),
            Some(Err(message)) => Err(crate::errors::raise("BoundsError", message)),
            Some(Ok(read)) => read.into_element(py).map(Some),
        }
    }

    /// Writes `data`, a C-contiguous numpy array of element type `kind`
    /// (the library's name; `int64` data for `timestamp_ns`), at `start` of
    /// array `name`. The library checks that `kind` is the array's.
    pub fn write_numpy(
        &self,
        py: Python<'_>,
        name: &str,
        start: Vec<usize>,
        data: &Bound<'_, PyAny>,
        kind: &str,
    ) -> PyResult<()> {
        let dtype = DType::from_name(kind)
            .ok_or_else(|| PyTypeError::new_err(format!("no element type {kind:?}")))?;
        match dtype {
            DType::TimestampNs => {
                let ro: PyReadonlyArrayDyn<'_, i64> = data.extract()?;
                check_aligned(&ro)?;
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
            DType::Float16 => write_numeric::<f16>(self, py, name, start, data),
            DType::BFloat16 => write_numeric::<bf16>(self, py, name, start, data),
            DType::Complex64 => write_numeric::<Complex<f32>>(self, py, name, start, data),
            DType::Complex128 => write_numeric::<Complex<f64>>(self, py, name, start, data),
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
        kind: &str,
    ) -> PyResult<()> {
        match kind {
            "string" => {
                let v: Vec<String> = values.extract()?;
                write_owned(self, py, name, start, &shape, v)
            }
            "binary" => {
                let v = values
                    .iter()
                    .map(|b| Ok(b.cast::<PyBytes>()?.as_bytes().to_vec()))
                    .collect::<PyResult<Vec<Vec<u8>>>>()?;
                write_owned(self, py, name, start, &shape, v)
            }
            other => Err(PyTypeError::new_err(format!(
                "array {name:?} holds {other}: write it from a numpy array"
            ))),
        }
    }
}

fn not_contiguous() -> PyErr {
    PyValueError::new_err("the data must be a C-contiguous array")
}

/// Refuses an array whose buffer is not aligned for its element type (as
/// numpy makes when it unpickles a buffer at any offset, or views a byte
/// buffer): borrowing it as a Rust slice would be undefined behaviour.
fn check_aligned<T: Element>(ro: &PyReadonlyArrayDyn<'_, T>) -> PyResult<()> {
    if ro.data().cast_const().is_aligned() {
        Ok(())
    } else {
        Err(PyValueError::new_err(
            "the data must be an aligned array (np.require(data, requirements=\"CA\") makes one)",
        ))
    }
}

fn write_numeric<T: ArrayElement + Element + Send + Sync>(
    this: &NativeFile,
    py: Python<'_>,
    name: &str,
    start: Vec<usize>,
    data: &Bound<'_, PyAny>,
) -> PyResult<()> {
    let ro: PyReadonlyArrayDyn<'_, T> = data.extract()?;
    check_aligned(&ro)?;
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
