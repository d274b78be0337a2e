//! The checks of a read's or write's arguments against the array, and the
//! error of a broken invariant.

use super::*;

/// `a - b` per dimension, as `usize`.
pub(crate) fn offsets(a: &[u64], b: &[u64]) -> Result<Vec<usize>> {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            x.checked_sub(y)
                .and_then(|d| usize::try_from(d).ok())
                .ok_or_else(|| Error::InvalidOperation {
                    operation: "copy",
                    reason: format!("region offset {x} - {y} is negative"),
                })
        })
        .collect()
}

pub(crate) fn check_dtype<T: ArrayElement>(info: &ArrayInfo) -> Result<()> {
    if T::DTYPE != info.meta.dtype {
        return Err(Error::DTypeMismatch {
            name: info.meta.name.clone(),
            expected: info.meta.dtype,
            actual: T::DTYPE,
        });
    }
    Ok(())
}

pub(crate) fn check_rank(info: &ArrayInfo, what: &'static str, actual: usize) -> Result<()> {
    let expected = info.meta.shape.len();
    if actual != expected {
        return Err(Error::RankMismatch {
            name: info.meta.name.clone(),
            what,
            expected,
            actual,
        });
    }
    Ok(())
}

pub(crate) fn check_bounds(info: &ArrayInfo, region: &Region) -> Result<()> {
    if !region.is_within(&info.meta.shape) {
        return Err(Error::OutOfBounds {
            name: info.meta.name.clone(),
            start: region.start.clone(),
            shape: region.shape.clone(),
            array_shape: info.meta.shape.clone(),
        });
    }
    Ok(())
}

pub(super) fn too_large(info: &ArrayInfo, region: &Region) -> Error {
    Error::InvalidOperation {
        operation: "read_array",
        reason: format!(
            "a region of shape {:?} of array {:?} does not fit in memory",
            region.shape, info.meta.name
        ),
    }
}

pub(crate) fn internal(info: &ArrayInfo, what: &str) -> Error {
    Error::internal(format!("array {:?}: {what}", info.meta.name))
}
