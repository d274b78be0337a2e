//! # array-format
//!
//! Many chunked, compressed n-dimensional arrays in one file, on local disk
//! or any [`object_store`] backend.
//!
//! A file is a stack of immutable *layers*. Every [`flush`](ArrayFile::flush)
//! commits the pending changes as one new layer object, created atomically;
//! reads fall through the layers, newest first, via one merged index built
//! when the file is opened; [`compact`](ArrayFile::compact) merges the layers
//! into one snapshot. Chunks are compressed as independent, checksummed
//! frames, so reading one chunk fetches and decodes only its frame.
//!
//! ## Quick start
//!
//! ```
//! use array_format::{ArrayFile, FileConfig, Lz4Codec};
//! use ndarray::Array;
//!
//! # async fn example() -> array_format::Result<()> {
//! // An in-memory file; use `ArrayFile::create(store, path, config)` for on-disk.
//! let mut file = ArrayFile::create_memory(FileConfig::new(Lz4Codec)).await?;
//!
//! // Define and write a 1-D f32 array.
//! file.define_array::<f32>("signal", vec!["t".into()], vec![4], None, None)?;
//! let data = Array::from_vec(vec![1.0f32, 2.0, 3.0, 4.0]).into_dyn();
//! file.write_array("signal", vec![0], data.view()).await?;
//!
//! // Read it back — `vec![], vec![]` means "the whole array".
//! let out = file.read_array::<f32>("signal", vec![], vec![]).await?;
//! assert_eq!(out.len(), 4);
//! # Ok(())
//! # }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(example()).unwrap();
//! ```
//!
//! ## Modules
//!
//! | module | what it holds |
//! |--------|---------------|
//! | `format` | the on-disk encoding only (trailer, footer, checksums, versions) |
//! | [`storage`] | object naming, conditional commits, the 0.9 [`Storage`] trait |
//! | [`cache`] | the decoded-frame and raw-I/O caches ([`DeltaCache`]) |
//! | `layer` | one layer: immutable reader, pending writer (with its buffer of partly written chunks) |
//! | [`file`](mod@file) | [`ArrayFile`]: the layer stack, merged index, read, write, commit |
//! | `nd` | region and chunk-grid arithmetic, copies between chunks and regions |
//! | [`stats`] | per-chunk and per-array statistics |
//!
//! See `docs/ARCHITECTURE.md` for how a read and a write flow through them,
//! and `docs/FORMAT.md` for the byte layout.

// Library code must not panic on input or I/O; tests, examples and benches
// may (see clippy.toml).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::indexing_slicing)]

pub mod cache;
pub(crate) mod chunk_stats;
pub mod codec;
pub mod dtype;
pub mod element;
pub mod error;
pub mod file;
pub(crate) mod format;
pub(crate) mod layer;
mod layering;
pub(crate) mod meta;
pub(crate) mod nd;
pub(crate) mod pool;
pub mod stats;
pub mod storage;
pub mod timestamp;
pub mod value;
pub(crate) mod version;

/// The cores this process may use. `available_parallelism` reads the
/// cgroup limits on every call (tens of microseconds), too slow for every
/// open, so it is asked once.
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

pub use cache::DeltaCache;
pub use codec::{
    BuiltinCodec, CodecId, CodecSpecError, CompressionCodec, Filter, Lz4Codec, NoCompression,
    Pipeline, PipelineCodec, PipelineError, ZstdCodec,
};
pub use dtype::DType;
pub use element::ArrayElement;
pub use error::{Error, Result};
pub use file::{
    ArrayFile, ArrayMeta, ArraySpec, ArrayStorage, DEFAULT_BLOCK_TARGET_SIZE,
    DEFAULT_CACHE_CAPACITY, DEFAULT_COALESCE_GAP, DEFAULT_FRAME_TARGET_SIZE,
    DEFAULT_IO_CACHE_CAPACITY, DEFAULT_PART_GRACE, DEFAULT_REQUESTS_PER_READ, DEFAULT_RETENTION,
    DEFAULT_WRITE_BUFFER_CAPACITY, Damage, FileConfig, MergedArrayMeta, StagedPart, VacuumReport,
    VerifyReport, Version,
};
pub use stats::{ArrayStats, StatValue, StatsFile};
pub use storage::{InMemoryStorage, Location, MultipartWriter, ObjectStoreBackend, Storage};
pub use timestamp::TimestampNs;
pub use value::{AttributeValue, FillValue};
pub use version::{FORMAT_VERSION, MIN_FORMAT_VERSION};

/// The 16-bit float types arrays of [`DType::Float16`] and
/// [`DType::BFloat16`] hold (`half::f16`, `half::bf16`).
pub use half;
/// The complex number type arrays of [`DType::Complex64`] and
/// [`DType::Complex128`] hold (`num_complex::Complex`).
pub use num_complex;

/// Compiles the README's code so that it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
