//! Array definitions, deletions, metadata, attributes and statistics: the
//! merged view of the committed index and the pending layer.

use std::sync::Arc;

use super::ArrayFile;
use super::index::{ChunkRef, CommittedIndex, IndexedArray};
use crate::element::ArrayElement;
use crate::error::{Error, Result};
use crate::layer::{Base, PendingArray, PendingChunk, PendingOp};
use crate::meta::{ArrayInfo, MergedArrayMeta};
use crate::stats::{ArrayStats, StatsFile};
use crate::value::{AttributeValue, FillValue};

/// An array as the caller sees it: defined in the pending layer, or
/// committed (possibly with pending changes on top).
pub(crate) enum Resolved<'a> {
    Pending {
        info: &'a Arc<ArrayInfo>,
        record: &'a PendingArray,
    },
    Committed {
        index: &'a CommittedIndex,
        array: &'a IndexedArray,
        info: &'a Arc<ArrayInfo>,
        record: Option<&'a PendingArray>,
    },
}

/// Where the newest version of a chunk is.
pub(crate) enum ChunkSource<'a> {
    Pending(&'a PendingChunk),
    Committed(&'a ChunkRef),
    Missing,
}

impl<'a> Resolved<'a> {
    pub(crate) fn info(&self) -> &'a Arc<ArrayInfo> {
        match self {
            Resolved::Pending { info, .. } | Resolved::Committed { info, .. } => info,
        }
    }

    /// Where chunk `index` is; decodes the committed chunk table on first
    /// use.
    pub(crate) fn chunk(&self, index: u64) -> Result<ChunkSource<'a>> {
        Ok(match self {
            Resolved::Pending { record, .. } => record
                .chunks
                .get(&index)
                .map_or(ChunkSource::Missing, ChunkSource::Pending),
            Resolved::Committed {
                index: committed,
                array,
                record,
                ..
            } => {
                if let Some(c) = record.and_then(|r| r.chunks.get(&index)) {
                    return Ok(ChunkSource::Pending(c));
                }
                committed
                    .chunks(array)?
                    .chunks
                    .get(&index)
                    .map_or(ChunkSource::Missing, ChunkSource::Committed)
            }
        })
    }

    fn attribute(&self, key: &str) -> Result<Option<&'a AttributeValue>> {
        Ok(match self {
            Resolved::Pending { record, .. } => record.attrs.get(key).and_then(Option::as_ref),
            Resolved::Committed {
                index,
                array,
                record,
                ..
            } => match record.and_then(|r| r.attrs.get(key)) {
                Some(change) => change.as_ref(),
                None => index.attrs(array)?.get(key).map(|a| &a.value),
            },
        })
    }
}

fn not_found(name: &str) -> Error {
    Error::ArrayNotFound {
        name: name.to_owned(),
    }
}

impl ArrayFile {
    /// The committed state a change to `array` is made against.
    pub(crate) fn base_of(&self, array: &Resolved<'_>) -> Base {
        Base {
            seq: self.index.latest_seq(),
            defined_seq: match array {
                Resolved::Committed { array, .. } => array.defined_seq,
                Resolved::Pending { .. } => 0,
            },
        }
    }

    pub(crate) fn resolve(&self, name: &str) -> Result<Resolved<'_>> {
        let record = match self.pending.as_ref().and_then(|p| p.get(name)) {
            Some(record) => match &record.op {
                PendingOp::Tombstone => return Err(not_found(name)),
                PendingOp::Define(info) => return Ok(Resolved::Pending { info, record }),
                PendingOp::Update => Some(record),
            },
            None => None,
        };
        let array = self.index.arrays.get(name).ok_or_else(|| not_found(name))?;
        Ok(Resolved::Committed {
            index: &self.index,
            array,
            info: self.index.info(array)?,
            record,
        })
    }

    /// The merged metadata of array `name`.
    pub fn get_array(&self, name: &str) -> Result<&MergedArrayMeta> {
        Ok(&self.resolve(name)?.info().meta)
    }

    /// Every visible array (pending definitions and deletions included), in
    /// definition order.
    pub fn list_arrays(&self) -> Vec<MergedArrayMeta> {
        let mut out: Vec<MergedArrayMeta> = Vec::with_capacity(self.index.arrays.len());
        // Committed arrays come in definition order.
        for (name, a) in self.index.arrays.iter() {
            let hidden = self
                .pending
                .as_ref()
                .and_then(|p| p.get(name))
                .is_some_and(|r| !matches!(r.op, PendingOp::Update));
            // Open checked every definition, so decoding one cannot fail
            // here; if it did, `get_array` would report the damage.
            if !hidden && let Ok(info) = self.index.info(a) {
                out.push(info.meta.clone());
            }
        }
        if let Some(p) = &self.pending {
            let mut defined: Vec<(u64, &MergedArrayMeta)> = p
                .arrays()
                .filter_map(|(_, r)| match &r.op {
                    PendingOp::Define(info) => Some((r.order, &info.meta)),
                    _ => None,
                })
                .collect();
            defined.sort_by_key(|(order, _)| *order);
            out.extend(defined.into_iter().map(|(_, m)| m.clone()));
        }
        out
    }

    /// Statistics of array `name` as of the last commit; `None` for arrays
    /// that are not committed (or were deleted).
    ///
    /// Computed from per-chunk statistics recorded when each chunk was
    /// written, so this never reads array data. Pending changes are not
    /// reflected until [`flush`](Self::flush).
    ///
    /// ```
    /// use array_format::{ArrayFile, FileConfig, FillValue, NoCompression, StatValue};
    /// use ndarray::arr1;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut file = ArrayFile::create_memory(FileConfig::new(NoCompression)).await?;
    /// file.define_array::<i32>("sensor", vec![], vec![8], Some(vec![4]), Some(FillValue::Int(-999)))?;
    /// file.write_array("sensor", vec![0], arr1(&[23, -999, 31, 28]).into_dyn().view()).await?;
    /// assert!(file.array_stats("sensor").is_none()); // not committed yet
    /// file.flush().await?;
    /// let s = file.array_stats("sensor").unwrap();
    /// assert_eq!((s.min.clone(), s.max.clone()), (Some(StatValue::Int(23)), Some(StatValue::Int(31))));
    /// assert_eq!((s.null_count, s.row_count), (5, 8)); // one fill value + one unwritten chunk of 4
    /// # Ok::<(), array_format::Error>(()) }).unwrap();
    /// ```
    pub fn array_stats(&self, name: &str) -> Option<&ArrayStats> {
        // A file that never committed anything has no statistics, as in 0.9.
        if self.index.layers.len() <= 1 && self.index.latest_seq() == 0 {
            return None;
        }
        let array = self.index.arrays.get(name)?;
        self.index.stats(array).ok()
    }

    /// Statistics of every committed array, in definition order.
    pub fn stats(&self) -> StatsFile {
        StatsFile {
            arrays: self
                .index
                .arrays
                .values()
                .filter_map(|a| self.index.stats(a).ok().cloned())
                .collect(),
        }
    }

    /// Attribute `key` of array `name`; `None` if the array has no such
    /// attribute.
    ///
    /// Errors: [`Error::ArrayNotFound`], and [`Error::Corrupted`] when the
    /// array's stored attributes are damaged (they are checked when the
    /// array's attributes are first read, not when the file is opened).
    pub fn get_attribute(&self, name: &str, key: &str) -> Result<Option<&AttributeValue>> {
        self.resolve(name)?.attribute(key)
    }

    /// Every attribute of array `name`, sorted by key. Errors as
    /// [`get_attribute`](Self::get_attribute).
    pub fn attributes(&self, name: &str) -> Result<Vec<(String, AttributeValue)>> {
        let r = self.resolve(name)?;
        let mut out: std::collections::BTreeMap<&str, &AttributeValue> = Default::default();
        match &r {
            Resolved::Pending { record, .. } => {
                for (k, v) in &record.attrs {
                    if let Some(v) = v {
                        out.insert(k, v);
                    }
                }
            }
            Resolved::Committed {
                index,
                array,
                record,
                ..
            } => {
                for a in index.attrs(array)?.all() {
                    out.insert(&a.key, &a.value);
                }
                for (k, change) in record.map(|r| &r.attrs).into_iter().flatten() {
                    match change {
                        Some(v) => out.insert(k, v),
                        None => out.remove(k.as_str()),
                    };
                }
            }
        }
        Ok(out
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect())
    }

    /// Sets attribute `key` of array `name`, replacing any previous value.
    /// Persisted by the next [`flush`](Self::flush).
    ///
    /// ```
    /// use array_format::{ArrayFile, AttributeValue, FileConfig, NoCompression};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut file = ArrayFile::create_memory(FileConfig::new(NoCompression)).await?;
    /// file.define_array::<f32>("p", vec![], vec![10], None, None)?;
    /// file.set_attribute("p", "units", AttributeValue::String("hPa".into()))?;
    /// file.set_attribute("p", "valid_range", vec![0.0f64, 1100.0].into())?;
    /// file.flush().await?;
    /// assert_eq!(file.get_attribute("p", "units")?, Some(&AttributeValue::String("hPa".into())));
    /// assert!(file.remove_attribute("p", "units")?);
    /// assert_eq!(file.attributes("p")?.len(), 1);
    /// # Ok::<(), array_format::Error>(()) }).unwrap();
    /// ```
    pub fn set_attribute(&mut self, name: &str, key: &str, value: AttributeValue) -> Result<()> {
        let base = self.base_of(&self.resolve(name)?);
        let record = self.pending_mut()?.record_mut(name, base);
        record.attrs.insert(key.to_owned(), Some(value));
        record.attr_bases.insert(key.to_owned(), base.seq);
        Ok(())
    }

    /// Removes attribute `key` of array `name`; returns whether it existed.
    pub fn remove_attribute(&mut self, name: &str, key: &str) -> Result<bool> {
        let resolved = self.resolve(name)?;
        let base = self.base_of(&resolved);
        let existed = resolved.attribute(key)?.is_some();
        let defined_here = matches!(resolved, Resolved::Pending { .. });
        let committed_has = match resolved {
            Resolved::Committed { index, array, .. } => index.attrs(array)?.get(key).is_some(),
            Resolved::Pending { .. } => false,
        };
        if !existed && !committed_has {
            return Ok(false);
        }
        let record = self.pending_mut()?.record_mut(name, base);
        if defined_here || !committed_has {
            record.attrs.remove(key);
        } else {
            record.attrs.insert(key.to_owned(), None);
        }
        record.attr_bases.insert(key.to_owned(), base.seq);
        Ok(existed)
    }

    /// Defines a new array of element type `T` in the pending layer.
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
        let shape: Vec<u64> = shape.iter().map(|&s| s as u64).collect();
        let chunk_shape: Vec<u64> = match chunk_shape {
            Some(c) => c.iter().map(|&s| s as u64).collect(),
            None => shape.iter().map(|&s| s.max(1)).collect(),
        };
        let fill_value = match fill_value {
            None => None,
            Some(f) => Some(
                f.canonical_for(T::DTYPE)
                    .ok_or_else(|| Error::InvalidFillValue {
                        name: name.clone(),
                        dtype: T::DTYPE,
                        fill: format!("{f:?}"),
                    })?,
            ),
        };
        let dimension_names = if dimension_names.len() == shape.len() {
            dimension_names
        } else {
            (0..shape.len()).map(|i| format!("dim{i}")).collect()
        };
        let meta = MergedArrayMeta {
            name: name.clone(),
            dtype: T::DTYPE,
            shape: shape.clone(),
            chunk_shape: chunk_shape.clone(),
            dimension_names,
            fill_value,
        };
        let info = ArrayInfo::new(meta).map_err(|reason| Error::InvalidShape {
            name,
            shape,
            chunk_shape,
            reason,
        })?;
        self.pending_mut()?.define(Arc::new(info));
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

/// How an array is stored, as of the last commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArrayStorage {
    /// C-order linear indices, in the chunk grid, of the chunks ever
    /// written (the others read as the fill value), ascending.
    pub written_chunks: Vec<u64>,
    /// Encoded (decompressed) bytes of those chunks.
    pub raw_bytes: u64,
    /// Their share of the stored (compressed) frame bytes.
    pub stored_bytes: u64,
}

impl ArrayFile {
    /// How array `name` is stored in the committed layers (pending changes
    /// are not counted): which chunks were written, and their raw and
    /// stored sizes.
    pub fn array_storage(&self, name: &str) -> Result<ArrayStorage> {
        let array = self.index.arrays.get(name).ok_or_else(|| not_found(name))?;
        let mut out = ArrayStorage::default();
        for (&index, c) in &self.index.chunks(array)?.chunks {
            out.written_chunks.push(index);
            out.raw_bytes += c.loc.len;
            let frame = self
                .index
                .layers
                .get(c.layer as usize)
                .and_then(|l| l.frames.get(c.loc.frame as usize));
            if let Some(f) = frame
                && f.raw_len > 0
            {
                // A chunk's share of a frame shared with others.
                let share =
                    u128::from(f.stored_len) * u128::from(c.loc.len) / u128::from(f.raw_len);
                out.stored_bytes += u64::try_from(share).unwrap_or(u64::MAX);
            }
        }
        out.written_chunks.sort_unstable();
        Ok(out)
    }

    /// The codecs of the blocks of the visible layers, sorted.
    pub fn codecs(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .index
            .layers
            .iter()
            .flat_map(|l| {
                l.blocks
                    .iter()
                    .filter_map(|b| l.codecs.get(b.codec as usize).cloned())
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }
}
