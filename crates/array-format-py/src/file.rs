//! `NativeFile`: one open file, shared by the Python `File` and its arrays.
//!
//! The handle sits behind a read-write lock: reads share it, so reads from
//! several Python threads run at once; changes take it alone. Every call
//! releases the GIL before it takes the lock, so a thread waiting for the
//! lock never holds up the others.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use array_format::{
    ArrayFile, ArraySpec, BuiltinCodec, DType, Error, FileConfig, Location, MergedArrayMeta,
};
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use tokio::runtime::Runtime;

use crate::errors::IntoPy;
use crate::runtime::detached;
use crate::values;

/// An open file.
#[pyclass(module = "arrayformat._native", frozen)]
pub struct NativeFile {
    inner: RwLock<Option<ArrayFile>>,
    read_only: bool,
}

fn closed() -> Error {
    Error::InvalidOperation {
        operation: "access",
        reason: "the file is closed".into(),
    }
}

fn read_only() -> PyErr {
    crate::errors::raise(
        "ReadOnlyError",
        "the file is open read-only (mode \"r\" or as_of); open it with mode \"r+\" or \"a\" to change it"
            .into(),
    )
}

fn lock_lost() -> Error {
    Error::InvalidOperation {
        operation: "access",
        reason: "a thread failed while it held the file; open it again".into(),
    }
}

impl NativeFile {
    /// Runs `f` on the file, shared with other readers, GIL released.
    pub fn with_file<R, F>(&self, py: Python<'_>, f: F) -> PyResult<R>
    where
        F: FnOnce(&ArrayFile, &Runtime) -> array_format::Result<R> + Send,
        R: Send,
    {
        detached(py, |rt| {
            let guard: RwLockReadGuard<'_, _> = self.inner.read().map_err(|_| lock_lost())?;
            let file = guard.as_ref().ok_or_else(closed)?;
            f(file, rt)
        })?
        .py()
    }

    /// Runs `f` on the file alone (a change), GIL released.
    pub fn with_file_mut<R, F>(&self, py: Python<'_>, f: F) -> PyResult<R>
    where
        F: FnOnce(&mut ArrayFile, &Runtime) -> array_format::Result<R> + Send,
        R: Send,
    {
        if self.read_only {
            return Err(read_only());
        }
        detached(py, |rt| {
            let mut guard: RwLockWriteGuard<'_, _> = self.inner.write().map_err(|_| lock_lost())?;
            let file = guard.as_mut().ok_or_else(closed)?;
            f(file, rt)
        })?
        .py()
    }
}

fn meta_dict<'py>(py: Python<'py>, m: &MergedArrayMeta) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &m.name)?;
    d.set_item("dtype", m.dtype.name())?;
    d.set_item("shape", m.shape.clone())?;
    d.set_item("chunks", m.chunk_shape.clone())?;
    d.set_item("dims", m.dimension_names.clone())?;
    match &m.fill_value {
        Some(fill) => d.set_item("fill", values::fill_to_py(py, fill)?)?,
        None => d.set_item("fill", py.None())?,
    }
    Ok(d)
}

/// A duration given in seconds, `default` if `None`.
fn seconds(
    what: &str,
    value: Option<f64>,
    default: std::time::Duration,
) -> PyResult<std::time::Duration> {
    match value {
        None => Ok(default),
        Some(s) => std::time::Duration::try_from_secs_f64(s).map_err(|_| {
            crate::errors::raise(
                "InvalidValueError",
                format!("{what} is a number of seconds, at least 0, not {s}"),
            )
        }),
    }
}

fn config(
    as_of: Option<u64>,
    cache_bytes: Option<usize>,
    io_cache_bytes: Option<usize>,
) -> FileConfig<BuiltinCodec> {
    let base = FileConfig::new(BuiltinCodec::Lz4);
    FileConfig {
        as_of,
        cache_capacity: cache_bytes.unwrap_or(base.cache_capacity),
        io_cache_capacity: io_cache_bytes.unwrap_or(base.io_cache_capacity),
        ..base
    }
}

#[pymethods]
impl NativeFile {
    /// Opens or creates the file at `location` (a path or a URL) in
    /// `mode`: `r`, `r+`, `a`, `w`, `w-` (as h5py).
    #[staticmethod]
    #[pyo3(signature = (location, mode, as_of=None, storage_options=None, cache_bytes=None, io_cache_bytes=None))]
    fn open(
        py: Python<'_>,
        location: &str,
        mode: &str,
        as_of: Option<u64>,
        storage_options: Option<HashMap<String, String>>,
        cache_bytes: Option<usize>,
        io_cache_bytes: Option<usize>,
    ) -> PyResult<NativeFile> {
        let loc =
            Location::parse_with_options(location, storage_options.unwrap_or_default()).py()?;
        let cfg = move || config(as_of, cache_bytes, io_cache_bytes);
        let file = detached(py, |rt| {
            rt.block_on(async {
                match mode {
                    "r" | "r+" => ArrayFile::open_at(&loc, cfg()).await,
                    "w" => ArrayFile::create_at(&loc, cfg()).await,
                    "a" => match ArrayFile::open_at(&loc, cfg()).await {
                        Err(Error::FileNotFound { .. }) => ArrayFile::create_at(&loc, cfg()).await,
                        other => other,
                    },
                    "w-" | "x" => ArrayFile::create_new_at(&loc, cfg()).await,
                    other => Err(Error::InvalidOperation {
                        operation: "open",
                        reason: format!(
                            "unknown mode {other:?}: use \"r\", \"r+\", \"a\", \"w\" or \"w-\""
                        ),
                    }),
                }
            })
        })?
        .py()?;
        Ok(NativeFile {
            inner: RwLock::new(Some(file)),
            read_only: mode == "r" || as_of.is_some(),
        })
    }

    /// Whether changes are refused.
    #[getter]
    fn read_only(&self) -> bool {
        self.read_only
    }

    /// Whether the file is closed.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.read().map_or(true, |g| g.is_none())
    }

    /// The newest visible layer: the version this handle reads.
    fn latest_layer(&self, py: Python<'_>) -> PyResult<u64> {
        self.with_file(py, |f, _| Ok(f.latest_layer()))
    }

    /// Visible committed layers.
    fn num_layers(&self, py: Python<'_>) -> PyResult<usize> {
        self.with_file(py, |f, _| Ok(f.num_layers()))
    }

    /// Bytes of the visible layers.
    fn stored_bytes(&self, py: Python<'_>) -> PyResult<u64> {
        self.with_file(py, |f, _| Ok(f.stored_bytes()))
    }

    /// Whether a flush would commit anything.
    fn has_pending_changes(&self, py: Python<'_>) -> PyResult<bool> {
        self.with_file(py, |f, _| Ok(f.has_pending_changes()))
    }

    /// Every array's metadata, in definition order.
    fn arrays<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let metas = self.with_file(py, |f, _| Ok(f.list_arrays()))?;
        let items = metas
            .iter()
            .map(|m| meta_dict(py, m))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// The names of the arrays, in definition order.
    fn names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.with_file(py, |f, _| {
            Ok(f.list_arrays().into_iter().map(|m| m.name).collect())
        })
    }

    /// Whether array `name` exists.
    fn contains(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        self.with_file(py, |f, _| Ok(f.get_array(name).is_ok()))
    }

    /// Array `name`'s metadata.
    fn array<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyDict>> {
        let meta = self.with_file(py, |f, _| f.get_array(name).cloned())?;
        meta_dict(py, &meta)
    }

    /// Defines an array (committed by the next flush) from `spec`: a dict
    /// of `dtype` (the library's name), `shape`, `chunks`, `dims`, `fill`
    /// (`(kind, value)` or `None`) and `codec` (a spec or `None`).
    fn define(&self, py: Python<'_>, name: &str, spec: &Bound<'_, PyDict>) -> PyResult<()> {
        let field = |key: &str| -> PyResult<Bound<'_, PyAny>> {
            spec.get_item(key)?.ok_or_else(|| {
                pyo3::exceptions::PyKeyError::new_err(format!("array spec without {key:?}"))
            })
        };
        let dtype: String = field("dtype")?.extract()?;
        let dtype = DType::from_name(&dtype).ok_or_else(|| {
            pyo3::exceptions::PyTypeError::new_err(format!("no element type {dtype:?}"))
        })?;
        let shape: Vec<u64> = field("shape")?.extract()?;
        let chunks: Option<Vec<u64>> = field("chunks")?.extract()?;
        let dims: Vec<String> = field("dims")?.extract()?;
        let fill: Option<(String, Bound<'_, PyAny>)> = field("fill")?.extract()?;
        let codec: Option<String> = field("codec")?.extract()?;
        let mut array = ArraySpec::new(dtype, shape).with_dimension_names(dims);
        if let Some(chunks) = chunks {
            array = array.with_chunk_shape(chunks);
        }
        if let Some((tag, v)) = fill {
            array = array.with_fill_value(values::fill_from_py(&tag, &v)?);
        }
        if let Some(codec) = codec {
            array = array.with_codec(codec);
        }
        self.with_file_mut(py, |f, _| f.define(name, array))
    }

    /// Deletes array `name`.
    fn delete(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        self.with_file_mut(py, |f, _| f.delete(name))
    }

    /// Array `name`'s attributes as `(key, type, value)`, sorted by key.
    fn attrs<'py>(
        &self,
        py: Python<'py>,
        name: &str,
    ) -> PyResult<Vec<(String, &'static str, Bound<'py, PyAny>)>> {
        let attrs = self.with_file(py, |f, _| f.attributes(name))?;
        attrs
            .into_iter()
            .map(|(k, v)| {
                let (tag, value) = values::attr_to_py(py, &v)?;
                Ok((k, tag, value))
            })
            .collect()
    }

    /// Sets attribute `key` of array `name` to `value` of type `tag`.
    fn set_attr(
        &self,
        py: Python<'_>,
        name: &str,
        key: &str,
        tag: &str,
        value: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let value = values::attr_from_py(tag, &value)?;
        self.with_file_mut(py, |f, _| f.set_attribute(name, key, value))
    }

    /// Removes attribute `key` of array `name`; whether it existed.
    fn remove_attr(&self, py: Python<'_>, name: &str, key: &str) -> PyResult<bool> {
        self.with_file_mut(py, |f, _| f.remove_attribute(name, key))
    }

    /// The codec array `name` records, if it records one.
    fn codec(&self, py: Python<'_>, name: &str) -> PyResult<Option<String>> {
        self.with_file(py, |f, _| f.array_codec(name))
    }

    /// The file's own attributes as `(key, type, value)`, sorted by key.
    fn file_attrs<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Vec<(String, &'static str, Bound<'py, PyAny>)>> {
        let attrs = self.with_file(py, |f, _| f.file_attributes())?;
        attrs
            .into_iter()
            .map(|(k, v)| {
                let (tag, value) = values::attr_to_py(py, &v)?;
                Ok((k, tag, value))
            })
            .collect()
    }

    /// Sets the file's attribute `key` to `value` of type `tag`.
    fn set_file_attr(
        &self,
        py: Python<'_>,
        key: &str,
        tag: &str,
        value: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let value = values::attr_from_py(tag, &value)?;
        self.with_file_mut(py, |f, _| f.set_file_attribute(key, value))
    }

    /// Removes the file's attribute `key`; whether it existed.
    fn remove_file_attr(&self, py: Python<'_>, key: &str) -> PyResult<bool> {
        self.with_file_mut(py, |f, _| f.remove_file_attribute(key))
    }

    /// Array `name`'s statistics from the committed layers, or `None`
    /// before its first commit.
    fn stats<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
        let stats = self.with_file(py, |f, _| {
            f.get_array(name)?;
            Ok(f.array_stats(name).cloned())
        })?;
        let Some(s) = stats else { return Ok(None) };
        let d = PyDict::new(py);
        let stat = |v: &Option<array_format::StatValue>| -> PyResult<Bound<'py, PyAny>> {
            use array_format::StatValue as S;
            match v {
                None => Ok(py.None().into_bound(py)),
                Some(S::Int(x)) => ("int", *x).into_bound_py_any(py),
                Some(S::UInt(x)) => ("uint", *x).into_bound_py_any(py),
                Some(S::Float(x)) => ("float", *x).into_bound_py_any(py),
                Some(S::TimestampNs(x)) => ("timestamp_ns", *x).into_bound_py_any(py),
                Some(S::Bytes(b)) => {
                    ("bytes", pyo3::types::PyBytes::new(py, b)).into_bound_py_any(py)
                }
            }
        };
        d.set_item("min", stat(&s.min)?)?;
        d.set_item("max", stat(&s.max)?)?;
        d.set_item("null_count", s.null_count)?;
        d.set_item("count", s.row_count)?;
        Ok(Some(d))
    }

    /// How array `name` is stored: `(chunks written, raw bytes, stored bytes)`.
    fn storage(&self, py: Python<'_>, name: &str) -> PyResult<(usize, u64, u64)> {
        let s = self.with_file(py, |f, _| f.array_storage(name))?;
        Ok((s.written_chunks.len(), s.raw_bytes, s.stored_bytes))
    }

    /// Commits the pending changes as one layer.
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        self.with_file_mut(py, |f, rt| rt.block_on(f.flush()))
    }

    /// Sees layers other writers committed; pending changes are kept.
    fn refresh(&self, py: Python<'_>) -> PyResult<()> {
        self.with_file_mut_or_read_only(py, |f, rt| rt.block_on(f.refresh()))
    }

    /// Flushes, then merges the visible layers into one snapshot.
    #[pyo3(signature = (retention=None))]
    fn compact(&self, py: Python<'_>, retention: Option<f64>) -> PyResult<()> {
        let retention = seconds("retention", retention, array_format::DEFAULT_RETENTION)?;
        self.with_file_mut(py, |f, rt| rt.block_on(f.compact_with(retention)))
    }

    /// Deletes the layers replaced longer than `retention` seconds ago,
    /// and staged parts no layer adopted once older than `part_grace`
    /// seconds (the library's defaults when `None`); `(paths deleted,
    /// bytes, parts deleted)`.
    #[pyo3(signature = (part_grace=None, retention=None))]
    fn vacuum(
        &self,
        py: Python<'_>,
        part_grace: Option<f64>,
        retention: Option<f64>,
    ) -> PyResult<(Vec<String>, u64, usize)> {
        let grace = seconds("part_grace", part_grace, array_format::DEFAULT_PART_GRACE)?;
        let retention = seconds("retention", retention, array_format::DEFAULT_RETENTION)?;
        let r = self.with_file_mut(py, |f, rt| rt.block_on(f.vacuum_with(retention, grace)))?;
        Ok((r.deleted, r.bytes, r.parts))
    }

    /// Checks every frame; `(layers, frames, chunks, bytes, [damage])`.
    #[allow(clippy::type_complexity)]
    fn verify(
        &self,
        py: Python<'_>,
    ) -> PyResult<(
        usize,
        u64,
        u64,
        u64,
        Vec<(String, Option<u32>, u64, u64, String)>,
    )> {
        let r = self.with_file(py, |f, rt| rt.block_on(f.verify()))?;
        let damaged = r
            .damaged
            .into_iter()
            .map(|d| (d.path, d.frame, d.offset, d.len, d.what))
            .collect();
        Ok((r.layers, r.frames, r.chunks, r.bytes, damaged))
    }

    /// Every layer, oldest first.
    fn versions<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let versions = self.with_file(py, |f, rt| rt.block_on(f.versions()))?;
        versions
            .into_iter()
            .map(|v| {
                let d = PyDict::new(py);
                d.set_item("layer", v.layer)?;
                d.set_item("kind", if v.snapshot { "snapshot" } else { "delta" })?;
                d.set_item("generation", v.generation)?;
                d.set_item("size", v.size)?;
                d.set_item("created_ns", v.created_ns)?;
                d.set_item("visible", v.visible)?;
                d.set_item("parts", v.parts)?;
                d.set_item("path", v.path)?;
                d.set_item("damage", v.damage)?;
                Ok(d)
            })
            .collect()
    }

    /// Reads the regions `(start, shape)` of array `name`, concurrently:
    /// one numpy array (a flat list for strings and bytes) each.
    fn read_many<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        regions: Vec<crate::io::Region>,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.read_regions(py, name, regions)
    }

    /// Reads the region `(start, shape)` of array `name`.
    fn read<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        start: Vec<usize>,
        shape: Vec<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.read_regions(py, name, vec![(start, shape)])?
            .pop()
            .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("no region was read"))
    }

    /// Writes `data`, a C-contiguous numpy array of the array's element
    /// type `kind` (`int64` data for timestamps), at `start` of array
    /// `name`.
    fn write(
        &self,
        py: Python<'_>,
        name: &str,
        start: Vec<usize>,
        data: &Bound<'_, PyAny>,
        kind: &str,
    ) -> PyResult<()> {
        self.write_numpy(py, name, start, data, kind)
    }

    /// Writes strings or byte strings, a flat list in C order of `shape`,
    /// at `start` of array `name`.
    fn write_objects(
        &self,
        py: Python<'_>,
        name: &str,
        start: Vec<usize>,
        shape: Vec<usize>,
        values: &Bound<'_, PyList>,
        kind: &str,
    ) -> PyResult<()> {
        self.write_list(py, name, start, shape, values, kind)
    }

    /// Reads one element if `key` is a tuple of one `int` per dimension:
    /// numpy's scalar for it (nanoseconds for timestamps), or the `str` or
    /// `bytes`; `None` for any other key.
    fn read_point<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.read_key(py, name, key)
    }

    /// Writes the pending chunk writes to a staged part and clears them;
    /// the part's description.
    fn stage<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let part = self.with_file_mut(py, |f, rt| rt.block_on(f.stage()))?;
        Ok(pyo3::types::PyBytes::new(py, &part.to_bytes()))
    }

    /// Commits staged parts, given by their descriptions, as one layer.
    fn commit_parts(&self, py: Python<'_>, parts: Vec<Vec<u8>>) -> PyResult<()> {
        let parts = parts
            .iter()
            .map(|b| array_format::StagedPart::from_bytes(b))
            .collect::<array_format::Result<Vec<_>>>()
            .py()?;
        self.with_file_mut(py, |f, rt| rt.block_on(f.commit_parts(&parts)))
    }

    /// Drops every pending change.
    fn discard(&self, py: Python<'_>) -> PyResult<()> {
        self.with_file_mut(py, |f, _| {
            f.discard_pending();
            Ok(())
        })
    }

    /// Closes the handle; pending changes are dropped (the Python `File`
    /// flushes first when it should).
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        // Dropping the handle removes its spill file: no GIL needed.
        detached(py, |_| {
            if let Ok(mut guard) = self.inner.write() {
                drop(guard.take());
            }
        })
    }
}

impl NativeFile {
    /// Like [`with_file_mut`](Self::with_file_mut), allowed on read-only
    /// handles too (refresh changes the view, not the file).
    fn with_file_mut_or_read_only<R, F>(&self, py: Python<'_>, f: F) -> PyResult<R>
    where
        F: FnOnce(&mut ArrayFile, &Runtime) -> array_format::Result<R> + Send,
        R: Send,
    {
        detached(py, |rt| {
            let mut guard = self.inner.write().map_err(|_| lock_lost())?;
            let file = guard.as_mut().ok_or_else(closed)?;
            f(file, rt)
        })?
        .py()
    }
}
