//! Creating a file: its base first, through the storage seam, on a store
//! that must refuse a second create of the same name.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path;

use super::commit::created_by_us;
use super::index::CommittedIndex;
use super::open::{WRITER, local_store, now_ns, random_id};
use super::{ArrayFile, FileConfig, Settings};
use crate::codec::CompressionCodec;
use crate::error::{Error, Result};
use crate::format::{self, Footer, LayerHeader, LayerKind};
use crate::layer::LayerReader;
use crate::storage::FileStore;

/// Whether creating a file may replace one of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Replace {
    /// Any file of that name is deleted first.
    Any,
    /// An existing file is [`Error::FileExists`]; leftovers of a file whose
    /// base is gone are deleted.
    Nothing,
}

impl ArrayFile {
    /// Creates a new, empty file at `path` (which must end in `.af`) in
    /// `store`, replacing any file of that name.
    ///
    /// Layers are written beside the base as `{stem}.N.af`.
    pub async fn create<C: CompressionCodec + 'static>(
        store: Arc<dyn ObjectStore>,
        path: Path,
        config: FileConfig<C>,
    ) -> Result<Self> {
        let fs = FileStore::new(store, path)?;
        Self::create_in(fs, config, Replace::Any).await
    }

    pub(super) async fn create_in<C: CompressionCodec + 'static>(
        fs: FileStore,
        config: FileConfig<C>,
        replace: Replace,
    ) -> Result<Self> {
        let fs = fs.with_fetch_policy(config.coalesce_gap, config.requests_per_read);
        // The base goes first: a crash part-way then leaves no file (open
        // says FileNotFound) rather than a file missing some of its layers.
        let mut old: Vec<Path> = fs
            .list_all()
            .await?
            .into_iter()
            .chain(fs.list_parts().await?)
            .map(|m| m.location)
            .collect();
        let exists = || Error::FileExists {
            path: fs.base_path().to_string(),
        };
        if replace == Replace::Nothing && old.iter().any(|p| p == fs.base_path()) {
            return Err(exists());
        }
        old.sort_by_key(|p| p != fs.base_path());
        for path in old {
            fs.delete(&path).await?;
        }
        let dataset_id = random_id();
        let footer = Footer {
            header: LayerHeader {
                dataset_id,
                layer_id: random_id(),
                parent_id: [0; 16],
                seq: 0,
                generation: 0,
                kind: LayerKind::Snapshot,
                created_ns: now_ns(),
                writer: WRITER.into(),
                merged: Vec::new(),
            },
            codecs: Vec::new(),
            objects: Vec::new(),
            blocks: Vec::new(),
            frames: Vec::new(),
            file_attrs: Vec::new(),
            arrays: Vec::new(),
        };
        let layer_id = footer.header.layer_id;
        let tail = bytes::Bytes::from(format::encode_tail(&footer));
        let size = tail.len() as u64;
        let reader = match fs.create_object(fs.base_path(), tail.clone().into()).await {
            Ok(pin) => {
                check_create_only(&fs, &tail).await?;
                let footer = tail.slice(..tail.len().saturating_sub(format::TRAILER_LEN));
                LayerReader::written(&fs, fs.base_path().clone(), size, footer, 0, pin)?
            }
            // This create, its reply lost and retried by the store's client.
            Err(taken @ Error::Conflict { .. }) => {
                match created_by_us(&fs, fs.base_path().clone(), layer_id).await {
                    Some(ours) => ours,
                    // Another process created the file since the listing.
                    None if replace == Replace::Nothing => return Err(exists()),
                    None => return Err(taken),
                }
            }
            Err(e) => return Err(e),
        };
        let mut index = CommittedIndex::default();
        index.apply(reader)?;
        Ok(Self {
            store: fs,
            settings: Settings::from_config(config),
            dataset_id,
            index,
            pending: None,
            unconfirmed: None,
            as_of: None,
        })
    }

    /// Creates a new, empty file at a local filesystem `path` (ending in
    /// `.af`), replacing any file of that name. With
    /// [`FileConfig::durable`] (the default) every commit is fsynced, file
    /// and directory, before it is acknowledged.
    pub async fn create_path<C: CompressionCodec + 'static>(
        path: impl AsRef<std::path::Path>,
        config: FileConfig<C>,
    ) -> Result<Self> {
        let fs = local_store(path.as_ref(), config.durable, true)?;
        Self::create_in(fs, config, Replace::Any).await
    }

    /// Creates a new, empty file held in memory (an `object_store` in-memory
    /// store). It behaves exactly like an on-disk file: commit with
    /// [`flush`](Self::flush).
    pub async fn create_memory<C: CompressionCodec + 'static>(
        config: FileConfig<C>,
    ) -> Result<Self> {
        Self::create(
            Arc::new(object_store::memory::InMemory::new()),
            Path::from("memory.af"),
            config,
        )
        .await
    }
}

/// Fails unless the store refuses a second create of the base `tail` just
/// created: a store that ignores create-only puts (an S3-compatible store
/// without `If-None-Match`, a stub emulator) would let two writers' layers
/// overwrite each other, so the file is removed and nothing is committed
/// there. Local directories create by linking, which cannot overwrite.
async fn check_create_only(fs: &FileStore, tail: &bytes::Bytes) -> Result<()> {
    if fs.reads_by_system_call() {
        return Ok(());
    }
    let base = fs.base_path();
    match fs.create_object(base, tail.clone().into()).await {
        Err(Error::Conflict { .. }) => Ok(()),
        Err(e) => Err(e),
        Ok(_) => {
            let _ = fs.delete(base).await;
            Err(Error::storage(
                base.as_ref(),
                object_store::Error::NotSupported {
                    source: "the store ignores create-only puts (a second PutMode::Create of \
                             this object succeeded): writers there would overwrite each \
                             other's layers, so no file is created; use a store that \
                             supports conditional puts"
                        .into(),
                },
            ))
        }
    }
}
