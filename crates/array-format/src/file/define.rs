//! Defining and deleting arrays.

use std::sync::Arc;

use super::ArrayFile;
use crate::element::ArrayElement;
use crate::error::{Error, Result};
use crate::meta::{ArrayInfo, ArraySpec, MergedArrayMeta};
use crate::value::FillValue;

impl ArrayFile {
    /// Defines a new array of element type `T` in the pending layer; it
    /// records no codec (see [`define`](Self::define)).
    ///
    /// `shape` is the full shape (empty for a scalar; zero-length dimensions
    /// are allowed). `chunk_shape` tiles it into independently stored chunks,
    /// or `None` stores the whole array as one chunk. If `dimension_names`
    /// does not have one entry per dimension it is replaced with `dim0`,
    /// `dim1`, …. `fill_value` is returned for elements never written; it
    /// must fit `T`'s dtype and is stored in canonical form.
    ///
    /// Errors: [`Error::InvalidName`], [`Error::ArrayAlreadyExists`],
    /// [`Error::InvalidShape`] (rank mismatch, a zero chunk dimension, an
    /// element count overflowing `u64`, a chunk over the size limit),
    /// [`Error::InvalidFillValue`].
    ///
    /// ```
    /// use array_format::{ArrayFile, Error, FileConfig, FillValue, NoCompression};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut file = ArrayFile::create_memory(FileConfig::new(NoCompression)).await?;
    /// file.define_array::<u8>("mask", vec!["y".into(), "x".into()], vec![100, 80], Some(vec![32, 32]), Some(FillValue::Int(255)))?;
    /// // Fill values are stored in the dtype's canonical form.
    /// assert_eq!(file.get_array("mask")?.fill_value, Some(FillValue::UInt(255)));
    /// let err = file.define_array::<u8>("bad", vec![], vec![10], Some(vec![0]), None).unwrap_err();
    /// assert!(matches!(err, Error::InvalidShape { .. }));
    /// # Ok::<(), Error>(()) }).unwrap();
    /// ```
    pub fn define_array<T: ArrayElement>(
        &mut self,
        name: impl Into<String>,
        dimension_names: Vec<String>,
        shape: Vec<usize>,
        chunk_shape: Option<Vec<usize>>,
        fill_value: Option<FillValue>,
    ) -> Result<()> {
        let mut spec = ArraySpec::new(T::DTYPE, shape.iter().map(|&s| s as u64).collect());
        spec.chunk_shape = chunk_shape.map(|c| c.iter().map(|&s| s as u64).collect());
        // 0.10 replaced names of the wrong count; `define` refuses them.
        if dimension_names.len() == shape.len() {
            spec.dimension_names = dimension_names;
        }
        spec.fill_value = fill_value;
        self.define(name, spec)
    }

    /// Defines a new array in the pending layer from `spec`, its element
    /// type given at run time; [`define_array`](Self::define_array) is the
    /// typed form.
    ///
    /// `spec.codec` records the [`Pipeline`](crate::Pipeline) the array's
    /// chunks are written with: every handle that writes the array (this
    /// one, another process, a compaction) uses it, whatever codec it is
    /// configured with. Filters (`bitround:N`, `delta`, `shuffle`) then a
    /// codec: a built-in one, `none`, `lz4`, `zstd` (recorded as `zstd:3`)
    /// or `zstd:LEVEL` (1-22), pcodec (`pco`, recorded as `pco:8`, or
    /// `pco:LEVEL`, 0-12), or the name of the custom codec this handle is
    /// configured with ([`CompressionCodec::id`](crate::CompressionCodec::id));
    /// a handle writing the array later must then be configured with that
    /// codec too. [`array_codec`](Self::array_codec) returns the canonical
    /// spec.
    ///
    /// Errors: as [`define_array`](Self::define_array), plus
    /// [`Error::InvalidShape`] for dimension names that are neither empty
    /// nor one per dimension, and [`Error::InvalidCodec`] for a pipeline
    /// whose codec is neither built in nor this handle's, or that does not
    /// suit the dtype (`delta` of floats, `bitround` of integers, `pco` of
    /// strings, ...).
    ///
    /// ```
    /// use array_format::{ArrayFile, ArraySpec, DType, Error, FileConfig, Lz4Codec};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut file = ArrayFile::create_memory(FileConfig::new(Lz4Codec)).await?;
    /// file.define("raw", ArraySpec::new(DType::UInt16, vec![1024]).with_codec("none"))?;
    /// file.define("dense", ArraySpec::new(DType::Float64, vec![1024]).with_codec("zstd:19"))?;
    /// file.define("field", ArraySpec::new(DType::Float32, vec![1024]).with_codec("shuffle+zstd"))?;
    /// assert_eq!(file.array_codec("field")?.as_deref(), Some("shuffle+zstd:3"));
    /// file.define("plain", ArraySpec::new(DType::Int8, vec![16]))?;
    /// assert_eq!(file.array_codec("plain")?, None); // written with this handle's lz4
    /// let err = file.define("x", ArraySpec::new(DType::Int8, vec![4]).with_codec("gzip"));
    /// assert!(matches!(err, Err(Error::InvalidCodec { .. })));
    /// # Ok::<(), Error>(()) }).unwrap();
    /// ```
    pub fn define(&mut self, name: impl Into<String>, spec: ArraySpec) -> Result<()> {
        let name = name.into();
        if name.is_empty() {
            return Err(Error::InvalidName {
                name,
                reason: "array names must not be empty".into(),
            });
        }
        if self.resolve(&name).is_ok() {
            return Err(Error::ArrayAlreadyExists { name });
        }
        let ArraySpec {
            dtype,
            shape,
            chunk_shape,
            dimension_names,
            fill_value,
            codec,
        } = spec;
        let chunk_shape: Vec<u64> =
            chunk_shape.unwrap_or_else(|| shape.iter().map(|&s| s.max(1)).collect());
        let fill_value = match fill_value {
            None => None,
            Some(f) => Some(
                f.canonical_for(dtype)
                    .ok_or_else(|| Error::InvalidFillValue {
                        name: name.clone(),
                        dtype,
                        fill: format!("{f:?}"),
                    })?,
            ),
        };
        let dimension_names = if dimension_names.is_empty() {
            (0..shape.len()).map(|i| format!("dim{i}")).collect()
        } else {
            dimension_names
        };
        let meta = MergedArrayMeta {
            name: name.clone(),
            dtype,
            shape: shape.clone(),
            chunk_shape: chunk_shape.clone(),
            dimension_names,
            fill_value,
        };
        let info = ArrayInfo::new(meta).map_err(|reason| Error::InvalidShape {
            name: name.clone(),
            shape,
            chunk_shape,
            reason,
        })?;
        let codec = match codec {
            None => None,
            Some(spec) => Some(
                self.settings
                    .codecs
                    .resolve(&spec, dtype)
                    .map_err(|reason| Error::InvalidCodec {
                        name,
                        codec: spec.clone(),
                        reason,
                    })?
                    .0,
            ),
        };
        self.pending_mut()?.define(Arc::new(info.with_codec(codec)));
        Ok(())
    }

    /// Deletes array `name`: it disappears from every view at once, and its
    /// stored chunks are reclaimed by [`compact`](Self::compact). Defining
    /// the name again starts an empty array.
    pub fn delete(&mut self, name: &str) -> Result<()> {
        let base = self.base_of(&self.resolve(name)?);
        let committed = self.index.arrays.contains(name);
        let pending = self.pending_mut()?;
        if committed {
            pending.tombstone(name, base);
        } else {
            pending.forget(name);
        }
        Ok(())
    }
}
