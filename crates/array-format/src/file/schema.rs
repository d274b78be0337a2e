//! Array definitions, deletions, metadata, attributes and statistics: the
//! merged view of the committed index and the pending layer.

use std::sync::Arc;

use super::ArrayFile;
use super::index::{ChunkRef, CommittedIndex, IndexedArray};
use crate::error::{Error, Result};
use crate::layer::{Base, PendingArray, PendingChunk, PendingOp};
use crate::meta::{ArrayInfo, MergedArrayMeta};
use crate::stats::{ArrayStats, StatsFile};
use crate::value::AttributeValue;

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

    pub(super) fn attribute(&self, key: &str) -> Result<Option<&'a AttributeValue>> {
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

    /// The pipeline recorded for array `name` (pending definitions
    /// included), in canonical form: `lz4`, `zstd:LEVEL`,
    /// `shuffle+zstd:LEVEL`, `bitround:N+pco:LEVEL`, ..., or the name of a
    /// custom codec. `None` when the array records none: each handle
    /// that writes it uses its configured codec (arrays defined with
    /// [`define_array`](Self::define_array), and every array of a file of
    /// format version 3 or older).
    ///
    /// Errors: [`Error::ArrayNotFound`].
    pub fn array_codec(&self, name: &str) -> Result<Option<String>> {
        Ok(self.resolve(name)?.info().codec.clone())
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
    /// The codecs of the frames holding those chunks, sorted: what the
    /// array is stored with (the codec an array records applies to the
    /// chunks written since, and to all of them after a compaction).
    pub codecs: Vec<String>,
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
            let layer = self.index.layers.get(c.layer as usize);
            let frame = layer.and_then(|l| l.frames.get(c.loc.frame as usize));
            if let Some(codec) = layer.and_then(|l| l.frame_codec(c.loc.frame).ok())
                && !out.codecs.iter().any(|n| n == codec)
            {
                out.codecs.push(codec.to_owned());
            }
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
        out.codecs.sort_unstable();
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
