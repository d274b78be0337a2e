//! Nanosecond timestamps.

/// Nanoseconds since the Unix epoch (1970-01-01 00:00:00 UTC).
///
/// Layout-compatible with `i64`; chunks of timestamps are byte-identical to
/// chunks of `i64`.
///
/// ```
/// use array_format::TimestampNs;
/// let t = TimestampNs::new(1_700_000_000_000_000_000);
/// assert_eq!(i64::from(t), t.nanos());
/// ```
#[repr(transparent)]
#[derive(
    Copy,
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    bytemuck::Pod,
    bytemuck::Zeroable,
)]
pub struct TimestampNs(pub i64);

impl TimestampNs {
    /// Wraps a raw nanoseconds-since-epoch value.
    pub const fn new(nanos: i64) -> Self {
        Self(nanos)
    }

    /// The nanoseconds since the epoch.
    pub const fn nanos(self) -> i64 {
        self.0
    }
}

impl From<i64> for TimestampNs {
    fn from(v: i64) -> Self {
        Self(v)
    }
}

impl From<TimestampNs> for i64 {
    fn from(v: TimestampNs) -> i64 {
        v.0
    }
}
