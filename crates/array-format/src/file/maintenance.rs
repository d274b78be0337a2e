//! Looking after a file: `verify` (every checksum, in layers and in the
//! parts they adopt) and `versions` (history); `vacuum` is in `vacuum.rs`.

use std::collections::{HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};

use super::ArrayFile;
use crate::element::validate_chunk;
use crate::error::{Error, Result};
use crate::format::LayerKind;
use crate::layer::{Adopted, LayerReader};
use crate::storage::LayerObject;
use crate::storage::ObjectPin;

/// Largest single read while verifying.
const VERIFY_REQUEST: u64 = 16 * 1024 * 1024;

/// One damaged frame or chunk found by [`ArrayFile::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The object holding the damage: a layer, or a staged part a layer
    /// adopted (its frames then have the layer's frame numbers and offsets
    /// in the part).
    pub path: String,
    /// The frame, when the damage is in one.
    pub frame: Option<u32>,
    /// Byte offset of the damaged range in the object.
    pub offset: u64,
    /// Length of the damaged range.
    pub len: u64,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.frame {
            Some(frame) => write!(
                f,
                "{}: frame {frame} ({} bytes at offset {}): {}",
                self.path, self.len, self.offset, self.what
            ),
            None => write!(f, "{}: {}", self.path, self.what),
        }
    }
}

/// What [`ArrayFile::verify`] checked and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Layers walked.
    pub layers: usize,
    /// Frames checked.
    pub frames: u64,
    /// Chunks decoded and checked.
    pub chunks: u64,
    /// Stored bytes read.
    pub bytes: u64,
    /// Every damaged frame or chunk.
    pub damaged: Vec<Damage>,
}

impl VerifyReport {
    /// Whether nothing was damaged.
    pub fn is_ok(&self) -> bool {
        self.damaged.is_empty()
    }
}

/// One layer object of a file, as listed by [`ArrayFile::versions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Layer number; pass it as [`FileConfig::as_of`](crate::FileConfig::as_of)
    /// to open the file as it was then.
    pub layer: u64,
    /// Whether the layer is a snapshot (written by `create` or `compact`).
    pub snapshot: bool,
    /// Number of the snapshot the layer builds on.
    pub generation: u64,
    /// Object size in bytes.
    pub size: u64,
    /// Commit time, nanoseconds since the Unix epoch.
    pub created_ns: i64,
    /// The object's path.
    pub path: String,
    /// Whether the layer is part of this handle's view.
    pub visible: bool,
    /// How many staged parts the layer adopted (its blocks live in them;
    /// [`ArrayFile::commit_parts`]).
    pub parts: usize,
    /// Why the layer's footer could not be read, if it could not.
    pub damage: Option<String>,
}

/// A chunk `verify` decodes: the dtype, element count, offset and length.
type ChunkCheck = (crate::DType, usize, u64, u64);

impl ArrayFile {
    /// Reads every frame of every visible layer (in the layer object or in
    /// a staged part it adopted, each part checked to be the one adopted),
    /// checks its CRC-32C,
    /// decompresses it and checks every chunk in it, and reports each
    /// damaged frame or chunk. Footers were checked when the file was
    /// opened, but for attribute sections, which open passes over: those
    /// are checked here (damage with no frame).
    ///
    /// Returns an error only when the file cannot be walked (a storage
    /// failure, a layer removed by another handle).
    pub async fn verify(&self) -> Result<VerifyReport> {
        let mut checks: HashMap<(u32, u32), Vec<ChunkCheck>> = HashMap::new();
        let mut report = VerifyReport::default();
        let record_damage = |e: Error| Damage {
            path: match &e {
                Error::Corrupted { path, .. } => path.clone(),
                _ => self.store.base_path().to_string(),
            },
            frame: None,
            offset: 0,
            len: 0,
            what: error_detail(e),
        };
        // Open checked the records but for the attribute sections it could
        // pass over; a layer's are checked here, and each array's decoded.
        for layer in &self.index.layers {
            if let Err(e) = layer.records().check() {
                report.damaged.push(record_damage(e));
            }
        }
        if let Err(e) = self.index.file_attrs() {
            report.damaged.push(record_damage(e));
        }
        for array in self.index.arrays.values() {
            let decoded = self.index.info(array).and_then(|info| {
                self.index.attrs(array)?;
                Ok((info, self.index.chunks(array)?))
            });
            let (info, table) = match decoded {
                Ok(d) => d,
                Err(e) => {
                    report.damaged.push(record_damage(e));
                    continue;
                }
            };
            let grid = &info.grid;
            for (&index, c) in &table.chunks {
                let n = grid
                    .chunk_len_at(index)
                    .and_then(|n| usize::try_from(n).ok())
                    .unwrap_or(0);
                checks.entry((c.layer, c.loc.frame)).or_default().push((
                    info.meta.dtype,
                    n,
                    c.loc.offset,
                    c.loc.len,
                ));
            }
        }
        for (layer_idx, layer) in self.index.layers.iter().enumerate() {
            report.layers += 1;
            // Parts that are missing or not the ones adopted: one damage
            // each, and their frames are not read.
            let mut unreadable: HashSet<u32> = HashSet::new();
            for (k, part) in layer.adopted().iter().enumerate() {
                if let Err(what) = self.check_adopted(part).await? {
                    report.damaged.push(Damage {
                        path: part.path.to_string(),
                        frame: None,
                        offset: 0,
                        len: 0,
                        what,
                    });
                    unreadable.insert(k as u32 + 1);
                }
            }
            let mut start = 0usize;
            while start < layer.frames.len() {
                // One request for a run of neighbouring frames.
                let (object, first) = layer
                    .frames
                    .get(start)
                    .map_or((0, 0), |f| (f.object, f.offset));
                let mut end = start;
                let mut stop = first;
                while let Some(f) = layer.frames.get(end) {
                    let f_end = f.offset + f.stored_len;
                    if end > start
                        && (f.object != object
                            || f.offset != stop
                            || f_end - first > VERIFY_REQUEST)
                    {
                        break;
                    }
                    stop = f_end;
                    end += 1;
                }
                if unreadable.contains(&object) {
                    start = end;
                    continue;
                }
                let bytes = layer.read_range(&self.store, object, first..stop).await?;
                report.bytes += bytes.len() as u64;
                for index in start..end {
                    let key = (layer_idx as u32, index as u32);
                    self.verify_frame(
                        layer,
                        index as u32,
                        first,
                        &bytes,
                        checks.get(&key),
                        &mut report,
                    );
                }
                start = end;
            }
        }
        Ok(report)
    }

    /// Whether the part `part` that a layer adopted is there and is that
    /// part, of this file: `Ok(Err(what))` when it is not.
    async fn check_adopted(&self, part: &Adopted) -> Result<std::result::Result<(), String>> {
        let pin = ObjectPin::sized(part.entry.size);
        let reader = match LayerReader::open_pinned(&self.store, part.path.clone(), pin).await {
            Ok(reader) => reader,
            Err(Error::Vanished { .. } | Error::FileNotFound { .. }) => {
                return Ok(Err("the part this layer adopted is missing".into()));
            }
            Err(e @ (Error::Corrupted { .. } | Error::UnsupportedVersion { .. })) => {
                return Ok(Err(error_detail(e)));
            }
            Err(e) => return Err(e),
        };
        let h = &reader.header;
        Ok(
            if h.kind != LayerKind::Part || h.layer_id != part.entry.part_id {
                Err("the object is not the part this layer adopted".into())
            } else if h.dataset_id != self.dataset_id {
                Err("the part belongs to another file".into())
            } else {
                Ok(())
            },
        )
    }

    fn verify_frame(
        &self,
        layer: &LayerReader,
        index: u32,
        base: u64,
        bytes: &bytes::Bytes,
        chunks: Option<&Vec<ChunkCheck>>,
        report: &mut VerifyReport,
    ) {
        report.frames += 1;
        let Some(f) = layer.frames.get(index as usize) else {
            return;
        };
        let damage = |what: String| Damage {
            path: layer.frame_path(index).to_string(),
            frame: Some(index),
            offset: f.offset,
            len: f.stored_len,
            what,
        };
        let from = (f.offset - base) as usize;
        let Some(stored) = bytes.get(from..from + f.stored_len as usize) else {
            report
                .damaged
                .push(damage("the frame lies outside the bytes read".into()));
            return;
        };
        if let Err(e) = layer.check_stored(index, stored) {
            report.damaged.push(damage(error_detail(e)));
            return;
        }
        let raw = match layer.decode(
            index,
            bytes.slice(from..from + f.stored_len as usize),
            &self.settings.codecs,
        ) {
            Ok(raw) => raw,
            Err(e) => {
                report.damaged.push(damage(error_detail(e)));
                return;
            }
        };
        for &(dtype, n, offset, len) in chunks.into_iter().flatten() {
            report.chunks += 1;
            let chunk = raw.get(offset as usize..(offset + len) as usize);
            let result = match chunk {
                Some(c) => validate_chunk(dtype, c, n),
                None => Err(format!("chunk at {offset}+{len} lies outside the frame")),
            };
            if let Err(what) = result {
                report.damaged.push(damage(format!(
                    "chunk at offset {offset} in the frame: {what}"
                )));
            }
        }
    }

    /// Every layer object of the file, oldest first: number, kind,
    /// generation, size, commit time, and whether this handle's view uses
    /// it. Any listed layer can be opened with
    /// [`FileConfig::as_of`](crate::FileConfig::as_of), until a compaction
    /// or [`vacuum`](Self::vacuum) reclaims it.
    pub async fn versions(&self) -> Result<Vec<Version>> {
        let listed = self.store.list_layers().await?;
        let mut opens = Vec::with_capacity(listed.len());
        for obj in &listed {
            opens.push(self.version_of(obj));
        }
        let versions: Vec<Option<Version>> = futures::stream::iter(opens)
            .buffered(16)
            .try_collect()
            .await?;
        Ok(versions.into_iter().flatten().collect())
    }

    async fn version_of(&self, obj: &LayerObject) -> Result<Option<Version>> {
        let visible = |id: &[u8; 16]| {
            self.index
                .layers
                .iter()
                .any(|l| l.header.seq == obj.seq && &l.header.layer_id == id)
        };
        Ok(
            match LayerReader::open(&self.store, obj.path.clone())
                .await
                .and_then(|reader| reader.records().check().map(|()| reader))
            {
                Ok(reader) => Some(Version {
                    layer: obj.seq,
                    snapshot: reader.header.kind == LayerKind::Snapshot,
                    generation: reader.header.generation,
                    size: obj.size,
                    created_ns: reader.header.created_ns,
                    path: obj.path.to_string(),
                    visible: visible(&reader.header.layer_id),
                    parts: reader.adopted().len(),
                    damage: None,
                }),
                Err(Error::Vanished { .. }) => None,
                Err(e @ (Error::Corrupted { .. } | Error::UnsupportedVersion { .. })) => {
                    Some(Version {
                        layer: obj.seq,
                        snapshot: false,
                        generation: 0,
                        size: obj.size,
                        created_ns: 0,
                        path: obj.path.to_string(),
                        visible: false,
                        parts: 0,
                        damage: Some(e.to_string()),
                    })
                }
                Err(e) => return Err(e),
            },
        )
    }
}

/// The message of an error without the path prefix `Corrupted` adds (the
/// damage record carries the path).
fn error_detail(e: Error) -> String {
    match e {
        // The damage record names the frame and its range already.
        Error::Corrupted { what, .. } => match what.split_once("): ") {
            Some((head, rest)) if head.starts_with("frame ") => rest.to_owned(),
            _ => what,
        },
        other => other.to_string(),
    }
}
