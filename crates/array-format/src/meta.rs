//! Array metadata as callers see it, and the checked form the engine uses.

use crate::dtype::DType;
use crate::format::{ArrayDef, DefParts};
use crate::nd::ChunkGrid;
use crate::value::FillValue;

/// The metadata of a visible array, after merging every layer and the
/// pending changes.
///
/// Returned by [`ArrayFile::get_array`](crate::ArrayFile::get_array) and
/// [`ArrayFile::list_arrays`](crate::ArrayFile::list_arrays).
#[derive(Debug, Clone, PartialEq)]
pub struct MergedArrayMeta {
    /// Array name (unique within the file).
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Full array shape, one entry per dimension.
    pub shape: Vec<u64>,
    /// Chunk shape; equals [`shape`](Self::shape) (zero-length dimensions
    /// count as 1) for single-chunk arrays.
    pub chunk_shape: Vec<u64>,
    /// Name of each dimension.
    pub dimension_names: Vec<String>,
    /// Fill value for never-written elements, in the dtype's canonical form.
    pub fill_value: Option<FillValue>,
}

/// The 0.9 name of [`MergedArrayMeta`].
pub type ArrayMeta = MergedArrayMeta;

impl MergedArrayMeta {
    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Total element count (saturating; definition rejects overflow).
    pub fn num_elements(&self) -> u64 {
        self.shape.iter().fold(1u64, |a, &b| a.saturating_mul(b))
    }
}

/// Largest encoded chunk: frames and offsets are 32-bit in the
/// variable-length encoding, and one chunk must fit in memory.
pub(crate) const MAX_CHUNK_BYTES: u64 = u32::MAX as u64;

/// An array's metadata with its chunk grid, validated.
#[derive(Debug, Clone)]
pub(crate) struct ArrayInfo {
    pub(crate) meta: MergedArrayMeta,
    pub(crate) grid: ChunkGrid,
}

impl ArrayInfo {
    /// Checks a definition read from a file or made by a caller.
    pub(crate) fn new(meta: MergedArrayMeta) -> Result<Self, String> {
        let mut grid = ChunkGrid::default();
        check_definition(
            meta.dtype,
            &meta.shape,
            &meta.chunk_shape,
            meta.dimension_names.len(),
            meta.fill_value.as_ref(),
            &mut grid,
        )?;
        Ok(Self { meta, grid })
    }

    /// The checked form of array `name`'s definition as read from a footer.
    pub(crate) fn from_parts(name: &str, dtype: DType, def: &DefParts<'_>) -> Result<Self, String> {
        Self::new(MergedArrayMeta {
            name: name.to_owned(),
            dtype,
            shape: def.shape.clone(),
            chunk_shape: def.chunk_shape.clone(),
            dimension_names: def.dimension_names.iter().map(|&n| n.to_owned()).collect(),
            fill_value: def.fill_value.clone(),
        })
    }

    /// The definition record of this array.
    pub(crate) fn to_def(&self) -> ArrayDef {
        ArrayDef {
            dtype: self.meta.dtype,
            shape: self.meta.shape.clone(),
            chunk_shape: self.meta.chunk_shape.clone(),
            dimension_names: self.meta.dimension_names.clone(),
            fill_value: self.meta.fill_value.clone(),
        }
    }
}

/// Byte length a stored chunk of `elements` elements of `dtype` must have,
/// for fixed-width dtypes.
pub(crate) fn fixed_chunk_bytes(dtype: DType, elements: u64) -> Option<u64> {
    dtype
        .element_size()
        .and_then(|s| elements.checked_mul(s as u64))
}

/// Checks a definition given by its parts (`dimension_names` is the number
/// of names) and leaves its chunk grid in `grid`. Definitions read from a
/// footer are checked this way on open, with one grid for all of them, so
/// that checking allocates nothing per array; [`ArrayInfo::new`] applies the
/// same checks.
pub(crate) fn check_definition(
    dtype: DType,
    shape: &[u64],
    chunk_shape: &[u64],
    dimension_names: usize,
    fill_value: Option<&FillValue>,
    grid: &mut ChunkGrid,
) -> Result<(), String> {
    if chunk_shape.len() != shape.len() {
        return Err(format!(
            "chunk shape has {} dimension(s), shape has {}",
            chunk_shape.len(),
            shape.len()
        ));
    }
    if dimension_names != shape.len() {
        return Err(format!(
            "{dimension_names} dimension name(s) for {} dimension(s)",
            shape.len()
        ));
    }
    grid.set(shape, chunk_shape)?;
    shape
        .iter()
        .try_fold(1u64, |a, &b| a.checked_mul(b))
        .ok_or("the element count overflows u64")?;
    let chunk_elems = chunk_shape
        .iter()
        .try_fold(1u64, |a, &b| a.checked_mul(b))
        .ok_or("the chunk element count overflows u64")?;
    chunk_elems
        // Variable-length elements cost at least their 4-byte offset.
        .checked_mul(dtype.element_size().unwrap_or(4) as u64)
        .filter(|&b| b <= MAX_CHUNK_BYTES)
        .ok_or_else(|| {
            format!(
                "a chunk of {chunk_elems} {dtype} elements exceeds the {MAX_CHUNK_BYTES}-byte chunk limit; choose a smaller chunk shape"
            )
        })?;
    if let Some(f) = fill_value
        && f.canonical_for(dtype).as_ref() != Some(f)
    {
        return Err(format!("fill value {f} is not a canonical {dtype} value"));
    }
    Ok(())
}
