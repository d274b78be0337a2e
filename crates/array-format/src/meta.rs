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

/// The definition of a new array, with its element type given at run time:
/// what [`ArrayFile::define`](crate::ArrayFile::define) takes (bindings to
/// dynamically typed languages dispatch on the dtype, not on a Rust type).
///
/// ```
/// use array_format::{ArrayFile, ArraySpec, DType, FileConfig, FillValue, Lz4Codec};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut file = ArrayFile::create_memory(FileConfig::new(Lz4Codec)).await?;
/// let spec = ArraySpec::new(DType::Float32, vec![365, 720, 1440])
///     .with_chunk_shape(vec![64, 64, 64])
///     .with_dimension_names(vec!["time".into(), "lat".into(), "lon".into()])
///     .with_fill_value(FillValue::Float(f64::NAN))
///     .with_codec("zstd"); // recorded as "zstd:3"; every writer of the array uses it
/// file.define("temperature", spec)?;
/// assert_eq!(file.array_codec("temperature")?.as_deref(), Some("zstd:3"));
/// # Ok::<(), array_format::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ArraySpec {
    /// Element type.
    pub dtype: DType,
    /// Full array shape, one entry per dimension (empty for a scalar;
    /// zero-length dimensions are allowed).
    pub shape: Vec<u64>,
    /// Chunk shape; `None` stores the whole array as one chunk.
    pub chunk_shape: Option<Vec<u64>>,
    /// One name per dimension; empty gives `dim0`, `dim1`, ….
    pub dimension_names: Vec<String>,
    /// Value of never-written elements; it must fit the dtype and is stored
    /// in canonical form.
    pub fill_value: Option<FillValue>,
    /// The [`Pipeline`](crate::Pipeline) the array's chunks are written
    /// with, recorded in the file and used by every handle that writes the
    /// array: filters (`bitround:N`, `delta`, `shuffle`) then a codec
    /// (`none`, `lz4`, `zstd` (level 3), `zstd:LEVEL`, `pco` (level 8),
    /// `pco:LEVEL`, or the name of the custom codec of the handle that
    /// defines it), joined by `+`: `shuffle+zstd:5`. `None` records none:
    /// each writing handle uses its configured codec.
    /// [`Pipeline::default_for`](crate::Pipeline::default_for) is the one
    /// measured best for a dtype.
    pub codec: Option<String>,
}

impl ArraySpec {
    /// An array of `dtype` and `shape`, one chunk, default dimension
    /// names, no fill value, no recorded codec.
    pub fn new(dtype: DType, shape: Vec<u64>) -> Self {
        Self {
            dtype,
            shape,
            chunk_shape: None,
            dimension_names: Vec::new(),
            fill_value: None,
            codec: None,
        }
    }

    /// With chunks of `chunk_shape`.
    pub fn with_chunk_shape(mut self, chunk_shape: Vec<u64>) -> Self {
        self.chunk_shape = Some(chunk_shape);
        self
    }

    /// With these dimension names (one per dimension).
    pub fn with_dimension_names(mut self, dimension_names: Vec<String>) -> Self {
        self.dimension_names = dimension_names;
        self
    }

    /// With this fill value.
    pub fn with_fill_value(mut self, fill_value: FillValue) -> Self {
        self.fill_value = Some(fill_value);
        self
    }

    /// With this pipeline recorded (see [`codec`](Self::codec)).
    pub fn with_codec(mut self, codec: impl Into<String>) -> Self {
        self.codec = Some(codec.into());
        self
    }
}

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

/// An array's metadata with its chunk grid, validated, and its codec.
#[derive(Debug, Clone)]
pub(crate) struct ArrayInfo {
    pub(crate) meta: MergedArrayMeta,
    pub(crate) grid: ChunkGrid,
    /// The codec spec its chunks are written with, in canonical form
    /// (`None`: not recorded, each writer's configured codec).
    pub(crate) codec: Option<String>,
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
        Ok(Self {
            meta,
            grid,
            codec: None,
        })
    }

    /// Mantissa bits its pipeline's `bitround` filter keeps, if it has one.
    pub(crate) fn keep_bits(&self) -> Option<u8> {
        let spec = self.codec.as_deref()?;
        crate::codec::Pipeline::parse(spec).ok()?.keep_bits()
    }

    /// The same, recording codec spec `codec`.
    pub(crate) fn with_codec(mut self, codec: Option<String>) -> Self {
        self.codec = codec;
        self
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
        .map(|info| info.with_codec(def.codec.map(str::to_owned)))
    }

    /// The definition record of this array.
    pub(crate) fn to_def(&self) -> ArrayDef {
        ArrayDef {
            dtype: self.meta.dtype,
            shape: self.meta.shape.clone(),
            chunk_shape: self.meta.chunk_shape.clone(),
            dimension_names: self.meta.dimension_names.clone(),
            fill_value: self.meta.fill_value.clone(),
            codec: self.codec.clone(),
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
