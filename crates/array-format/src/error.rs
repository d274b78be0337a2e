//! The crate's error type.
//!
//! Every failure is a typed variant that names what went wrong and where: the
//! array, the object path, the offending values. Tests and callers match on
//! variants, never on message text.

use crate::dtype::DType;

/// The error type for every fallible operation of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A local I/O operation failed (the pending spill file, a temporary file).
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The object store reported an error.
    #[error("storage error on {path}: {source}")]
    Storage {
        /// The object the operation was about.
        path: String,
        /// The underlying object-store error.
        #[source]
        source: Box<object_store::Error>,
    },

    /// The file (its base object) does not exist.
    #[error("no array-format file at {path}")]
    FileNotFound {
        /// The path that was opened.
        path: String,
    },

    /// A file exists where a new one was to be created
    /// ([`ArrayFile::create_new_at`](crate::ArrayFile::create_new_at)).
    #[error("an array-format file exists at {path}")]
    FileExists {
        /// The path of its base object.
        path: String,
    },

    /// The path cannot name an array-format file.
    #[error("invalid file path {path:?}: {reason}")]
    InvalidPath {
        /// The path given.
        path: String,
        /// Why it was rejected.
        reason: String,
    },

    /// Bytes read from storage are damaged, truncated, or not this format.
    #[error("corrupted file {path}: {what}")]
    Corrupted {
        /// The object the damage was found in.
        path: String,
        /// What is wrong, and where in the object.
        what: String,
    },

    /// An invariant of this library's own state did not hold: a bug in
    /// array-format, not damage to the file or misuse. The operation is
    /// refused and nothing is written; the file is as it was.
    #[error("internal error in array-format (please report it): {what}")]
    Internal {
        /// Which invariant, and where.
        what: String,
    },

    /// The file was written by a format version this build cannot read.
    #[error(
        "{path} has format version {found}; this build reads versions {} to {supported}",
        crate::version::MIN_FORMAT_VERSION
    )]
    UnsupportedVersion {
        /// The object whose version was checked.
        path: String,
        /// The version found in the file.
        found: u16,
        /// The newest version this build reads (and the one it writes); it
        /// reads versions from [`MIN_FORMAT_VERSION`](crate::MIN_FORMAT_VERSION)
        /// up to this one.
        supported: u16,
    },

    /// Another writer committed the layer this one tried to create.
    #[error("conflict committing {path}: {reason}")]
    Conflict {
        /// The layer object that could not be created.
        path: String,
        /// What collided.
        reason: String,
    },

    /// A layer was written, but whether it became part of the file's history
    /// could not be settled (the check that no concurrent compaction had
    /// replaced the layers below it could not finish). Nothing is lost: the
    /// handle keeps its pending changes, refuses new ones, and settles the
    /// question on its next [`flush`](crate::ArrayFile::flush), which either
    /// finds the layer committed or commits the changes again.
    #[error("commit of {path} unconfirmed: {reason}; flush again to settle it")]
    CommitUnconfirmed {
        /// The layer object written.
        path: String,
        /// Why its place in the history is not known yet.
        reason: String,
    },

    /// A layer this handle uses (or a staged part such a layer adopts) was
    /// deleted after the handle opened it (by a compaction or vacuum
    /// through another handle).
    #[error(
        "layer {path} was removed after this handle opened it (compacted or vacuumed elsewhere); call refresh() or open the file again"
    )]
    Vanished {
        /// The missing layer object.
        path: String,
    },

    /// The requested version (layer) of the file does not exist.
    #[error("{path} has no layer {layer} (never committed, or reclaimed by compaction or vacuum)")]
    VersionNotFound {
        /// The file.
        path: String,
        /// The layer asked for.
        layer: u64,
    },

    /// A block is compressed with a codec this build does not know.
    #[error("unknown codec {name:?} in {path}; configure a matching CompressionCodec to read it")]
    UnknownCodec {
        /// The object being read.
        path: String,
        /// The codec name recorded in the file.
        name: String,
    },

    /// A codec spec names no codec this handle can write the array with:
    /// not a built-in codec (`none`, `lz4`, `zstd`, `zstd:LEVEL`) nor the
    /// custom codec the handle is configured with.
    #[error("array {name:?}: cannot write with codec {codec:?}: {reason}")]
    InvalidCodec {
        /// The array.
        name: String,
        /// The codec spec given or recorded.
        codec: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// Compression or decompression failed.
    #[error("codec {codec} failed: {message}")]
    Codec {
        /// The codec that failed.
        codec: String,
        /// What it reported.
        message: String,
    },

    /// The requested array was not found.
    #[error("array not found: {name}")]
    ArrayNotFound {
        /// Name of the array that was not found.
        name: String,
    },

    /// The array already exists.
    #[error("array already exists: {name}")]
    ArrayAlreadyExists {
        /// Name of the duplicate array.
        name: String,
    },

    /// An array name is not acceptable.
    #[error("invalid array name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it was rejected.
        reason: String,
    },

    /// A shape or chunk shape is not acceptable.
    #[error(
        "invalid shape for array {name:?}: shape {shape:?}, chunk shape {chunk_shape:?}: {reason}"
    )]
    InvalidShape {
        /// The array being defined.
        name: String,
        /// The shape given.
        shape: Vec<u64>,
        /// The chunk shape given (or implied).
        chunk_shape: Vec<u64>,
        /// Why it was rejected.
        reason: String,
    },

    /// The dtype of the data does not match the dtype of the array.
    #[error(
        "dtype mismatch on array {name:?}: the array holds {expected:?}, the call used {actual:?}"
    )]
    DTypeMismatch {
        /// The array.
        name: String,
        /// The dtype declared in the array metadata.
        expected: DType,
        /// The dtype of the data being read or written.
        actual: DType,
    },

    /// A coordinate list has the wrong number of dimensions.
    #[error(
        "rank mismatch on array {name:?}: {what} has {actual} dimension(s), the array has {expected}"
    )]
    RankMismatch {
        /// The array.
        name: String,
        /// Which argument (`start`, `shape`, `data`).
        what: &'static str,
        /// The array's rank.
        expected: usize,
        /// The rank given.
        actual: usize,
    },

    /// A region lies (partly) outside the array.
    #[error(
        "region out of bounds on array {name:?}: start {start:?} + shape {shape:?} exceeds array shape {array_shape:?}"
    )]
    OutOfBounds {
        /// The array.
        name: String,
        /// Region start.
        start: Vec<u64>,
        /// Region shape.
        shape: Vec<u64>,
        /// The array's shape.
        array_shape: Vec<u64>,
    },

    /// A fill value does not fit the array's dtype.
    #[error("fill value {fill} does not fit dtype {dtype:?} of array {name:?}")]
    InvalidFillValue {
        /// The array.
        name: String,
        /// The array's dtype.
        dtype: DType,
        /// The fill value given, rendered for the message.
        fill: String,
    },

    /// A chunk would be larger than the format allows.
    #[error("chunk {chunk:?} of array {name:?} would hold {bytes} bytes; the limit is {limit}")]
    ChunkTooLarge {
        /// The array.
        name: String,
        /// Chunk grid coordinate.
        chunk: Vec<u64>,
        /// Encoded size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },

    /// A staged part handed to
    /// [`commit_parts`](crate::ArrayFile::commit_parts) does not exist: it
    /// was never written, or was reclaimed (by
    /// [`vacuum`](crate::ArrayFile::vacuum) once older than its grace
    /// period, or by a compaction after a commit adopted it).
    #[error("staged part {path} does not exist (never written, or reclaimed)")]
    PartNotFound {
        /// The part's object path.
        path: String,
    },

    /// A staged part handed to
    /// [`commit_parts`](crate::ArrayFile::commit_parts) is not a part of
    /// this file: its description or its footer names another file, or the
    /// object under its name is not the part described (a layer, another
    /// part, an object of another size).
    #[error("{path} is not a staged part of this file: {reason}")]
    ForeignPart {
        /// The part's path (its object path, or the name its description
        /// gives).
        path: String,
        /// What differs.
        reason: String,
    },

    /// [`stage`](crate::ArrayFile::stage) was asked to stage a change that
    /// only a commit can make: parts hold chunk writes to committed arrays,
    /// not definitions, deletions or attribute changes.
    #[error(
        "cannot stage {change}: a part holds only chunk writes and definitions of arrays; flush() it instead"
    )]
    NotStageable {
        /// What cannot be staged, naming the array (`the deletion of
        /// array "t"`, `a change to the file's attributes`).
        change: String,
    },

    /// The operation is not possible on this file in its current state.
    #[error("{operation} is not possible: {reason}")]
    InvalidOperation {
        /// What was attempted.
        operation: &'static str,
        /// Why it cannot be done.
        reason: String,
    },
}

/// A specialized [`Result`] type for array-format operations.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn storage(path: impl Into<String>, source: object_store::Error) -> Self {
        Error::Storage {
            path: path.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn internal(what: impl Into<String>) -> Self {
        Error::Internal { what: what.into() }
    }

    pub(crate) fn corrupted(path: impl Into<String>, what: impl Into<String>) -> Self {
        Error::Corrupted {
            path: path.into(),
            what: what.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_subject() {
        let e = Error::ArrayNotFound {
            name: "temp".into(),
        };
        assert_eq!(e.to_string(), "array not found: temp");
        let e = Error::RankMismatch {
            name: "grid".into(),
            what: "start",
            expected: 2,
            actual: 3,
        };
        assert_eq!(
            e.to_string(),
            "rank mismatch on array \"grid\": start has 3 dimension(s), the array has 2"
        );
    }

    #[test]
    fn io_errors_keep_their_source() {
        let e = Error::io("writing the spill file", std::io::Error::other("disk full"));
        assert!(e.to_string().contains("disk full"));
        assert!(std::error::Error::source(&e).is_some());
    }
}
