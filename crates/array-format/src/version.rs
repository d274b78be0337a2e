//! The format versions this build writes and reads: plain constants at the
//! bottom of the crate, so that both the format and the error type can
//! name them without depending on each other.

/// The format version this build writes; it reads every version from
/// [`MIN_FORMAT_VERSION`] to this one.
pub const FORMAT_VERSION: u16 = 6;

/// The oldest format version this build reads.
pub const MIN_FORMAT_VERSION: u16 = 2;
