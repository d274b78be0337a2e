//! Moving data in and out: import and export of `.npy` files, and what
//! `cp` shares with them.

use std::io::{BufWriter, Write};

use anyhow::Context;
use array_format::{ArrayFile, ArraySpec, DType, Error as AfError, FileConfig, Pipeline};
use indicatif::ProgressBar;
use ndarray::{ArrayD, IxDyn, ShapeBuilder};

use super::{array_meta, codec_for, layout_of, open_read};
use crate::args::{ExportArgs, ImportArgs};
use crate::error::usage;
use crate::format::{human_bytes, parse_fill, shape_text};
use crate::npy::{NpyElem, NpyReader, write_header};
use crate::progress;
use crate::select::{Blocks, read_positions, with_elem};
use crate::slice::DimSel;
use crate::target::Location;
use array_format::BuiltinCodec;

/// Bytes moved per request when streaming.
pub(super) const BLOCK_BYTES: u64 = 32 << 20;
/// Target raw size of a chunk chosen by `import` without `--chunks`.
const AUTO_CHUNK_BYTES: u64 = 1 << 20;
/// Assumed bytes per element of variable-length arrays, for sizing.
const VARLEN_GUESS: u64 = 16;

pub(super) fn usize_of(v: u64) -> anyhow::Result<usize> {
    usize::try_from(v).context("the array is too large for this machine")
}

pub(super) fn usizes(v: &[u64]) -> anyhow::Result<Vec<usize>> {
    v.iter().map(|&x| usize_of(x)).collect()
}

pub(super) fn elem_bytes(dtype: array_format::DType) -> u64 {
    dtype.element_size().map_or(VARLEN_GUESS, |s| s as u64)
}

/// A chunk shape of about [`AUTO_CHUNK_BYTES`]: the shape, with the largest
/// extents halved until it fits.
fn auto_chunks(shape: &[u64], elem: u64) -> Vec<u64> {
    let mut c: Vec<u64> = shape.iter().map(|&s| s.max(1)).collect();
    loop {
        let bytes = c.iter().fold(elem, |a, &b| a.saturating_mul(b));
        if bytes <= AUTO_CHUNK_BYTES {
            return c;
        }
        let Some(largest) = c.iter_mut().max_by_key(|x| **x) else {
            return c;
        };
        if *largest <= 1 {
            return c;
        }
        *largest = largest.div_ceil(2);
    }
}

/// `af import`.
pub async fn import(a: ImportArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let loc = Location::parse(&a.path)?;
    let mut npy = NpyReader::open(&a.npy)?;
    let dtype = npy.kind.dtype();
    let shape = npy.shape.clone();
    let rank = shape.len();
    let npy_name = a.npy.display().to_string();
    // Check what can be checked before touching the file.
    if let Some(c) = &a.chunks {
        if c.len() != rank {
            return Err(usage(format!(
                "--chunks has {} entries but {npy_name} has {rank} dimension{}",
                c.len(),
                if rank == 1 { "" } else { "s" }
            )));
        }
        if c.contains(&0) {
            return Err(usage("--chunks entries must be at least 1"));
        }
    }
    if let Some(d) = &a.dims
        && d.len() != rank
    {
        return Err(usage(format!(
            "--dims has {} names but {npy_name} has {rank} dimension{}",
            d.len(),
            if rank == 1 { "" } else { "s" }
        )));
    }
    let fill = match &a.fill {
        Some(f) => Some(parse_fill(f, dtype).map_err(|e| usage(format!("--fill: {e}")))?),
        None => None,
    };
    let pipeline = pipeline_of(dtype, a.codec.as_deref(), a.filters.as_deref())?;

    let existing = match loc.open_with(FileConfig::new(BuiltinCodec::Lz4)).await {
        Ok(f) => Some(f),
        Err(AfError::FileNotFound { .. }) => None,
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot open {}", loc.name))),
    };
    let (mut file, created) = match existing {
        Some(probe) => {
            let codec = codec_for(None, Some(&layout_of(&probe)));
            drop(probe);
            (loc.open(codec, None).await?, false)
        }
        None => (
            loc.create_with(FileConfig::new(BuiltinCodec::Lz4)).await?,
            true,
        ),
    };
    let name = a.array.as_str();
    let origin: Vec<u64> = match &a.start {
        Some(start) => {
            let meta = array_meta(&file, &loc, name)?;
            let recorded = file.array_codec(name)?;
            let chosen = pipeline.to_string();
            if (a.codec.is_some() || a.filters.is_some())
                && recorded.as_deref() != Some(chosen.as_str())
            {
                return Err(usage(format!(
                    "array {name:?} records pipeline {}, which its writes use; --codec/--filters ({chosen}) cannot change it (af cp --codec rewrites a file with another)",
                    recorded.as_deref().unwrap_or("none")
                )));
            }
            if meta.dtype != dtype {
                return Err(usage(format!(
                    "cannot import {npy_name} into array {name:?}: the array holds {}, the .npy file holds {dtype} (use --replace to redefine the array)",
                    meta.dtype
                )));
            }
            if start.len() != meta.rank() || rank != meta.rank() {
                return Err(usage(format!(
                    "cannot import {npy_name} ({}) into array {name:?} ({}) at {start:?}: the ranks differ",
                    shape_text(&shape),
                    shape_text(&meta.shape)
                )));
            }
            let fits = start
                .iter()
                .zip(&shape)
                .zip(&meta.shape)
                .all(|((&s, &n), &m)| s.checked_add(n).is_some_and(|e| e <= m));
            if !fits {
                return Err(usage(format!(
                    "cannot import {npy_name} ({}) into array {name:?} ({}) at {start:?}: it does not fit",
                    shape_text(&shape),
                    shape_text(&meta.shape)
                )));
            }
            start.clone()
        }
        None => {
            if file.get_array(name).is_ok() {
                if !a.replace {
                    return Err(usage(format!(
                        "array {name:?} already exists in {}; use --replace to redefine it or --start to write into it",
                        loc.name
                    )));
                }
                file.delete(name)?;
            }
            let chunks: Vec<u64> = match &a.chunks {
                Some(c) => c.iter().map(|&x| x as u64).collect(),
                None => auto_chunks(&shape, elem_bytes(dtype)),
            };
            let mut spec = ArraySpec::new(dtype, shape.clone())
                .with_chunk_shape(chunks)
                .with_dimension_names(a.dims.clone().unwrap_or_default());
            spec.fill_value = fill;
            spec.codec = Some(pipeline.to_string());
            file.define(name, spec)
                .with_context(|| format!("cannot define array {name:?}"))?;
            vec![0; rank]
        }
    };
    let total = shape
        .iter()
        .fold(elem_bytes(dtype), |a, &b| a.saturating_mul(b));
    let pb = progress::bytes("importing", total);
    let r = with_elem!(dtype, T => import_data::<T>(&mut file, &mut npy, name, &shape, &origin, &pb).await);
    pb.finish_and_clear();
    r.with_context(|| format!("cannot import {npy_name}"))?;
    file.flush()
        .await
        .with_context(|| format!("cannot commit to {}", loc.name))?;
    writeln!(
        out,
        "imported {npy_name} into {}{} array {name:?}: {dtype} {}{}",
        if created { "new file " } else { "" },
        loc.name,
        shape_text(&shape),
        if a.start.is_some() {
            format!(" at {origin:?}")
        } else {
            String::new()
        }
    )?;
    Ok(0)
}

async fn import_data<T: NpyElem>(
    file: &mut ArrayFile,
    npy: &mut NpyReader,
    name: &str,
    shape: &[u64],
    origin: &[u64],
    pb: &ProgressBar,
) -> anyhow::Result<()> {
    let elem = elem_bytes(T::DTYPE);
    let origin_us = usizes(origin)?;
    if npy.fortran {
        // Column-major data is not contiguous in C order: read it whole
        // (the header's size was checked against the file's).
        let n = shape
            .iter()
            .try_fold(1u64, |a, &b| a.checked_mul(b))
            .context("the .npy shape is too large")?;
        let data: Vec<T> = npy.read(usize_of(n)?)?;
        let arr = ArrayD::from_shape_vec(IxDyn(&usizes(shape)?).f(), data)?;
        file.write_array(name, origin_us, arr.view()).await?;
        pb.inc(n.saturating_mul(elem));
        return Ok(());
    }
    let item = (npy.kind.item_size() as u64).max(1);
    for (start, extent) in Blocks::new(shape, (BLOCK_BYTES / item).max(1)) {
        let n: u64 = extent.iter().product();
        let data: Vec<T> = npy.read(usize_of(n)?)?;
        let arr = ArrayD::from_shape_vec(IxDyn(&usizes(&extent)?), data)?;
        let at: Vec<usize> = start
            .iter()
            .zip(&origin_us)
            .map(|(&s, &o)| usize_of(s).map(|s| s + o))
            .collect::<anyhow::Result<_>>()?;
        file.write_array(name, at, arr.view()).await?;
        pb.inc(n.saturating_mul(elem));
    }
    Ok(())
}

/// `af export`.
pub async fn export(a: ExportArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let (loc, file) = open_read(&a.path, a.at.at).await?;
    let meta = array_meta(&file, &loc, &a.array)?;
    let sel = super::selection(&meta, a.slice.as_deref())?;
    let kept: Vec<u64> = sel.iter().filter(|s| s.keep).map(|s| s.len).collect();
    let total = kept
        .iter()
        .fold(elem_bytes(meta.dtype), |a, &b| a.saturating_mul(b));
    let pb = progress::bytes("exporting", total);
    let r = with_elem!(meta.dtype, T => export_data::<T>(&file, &meta.name, &sel, &kept, &a.npy, &pb).await);
    pb.finish_and_clear();
    let written =
        r.with_context(|| format!("cannot export {:?} to {}", meta.name, a.npy.display()))?;
    writeln!(
        out,
        "exported {} array {:?} ({} {}) to {} ({})",
        loc.name,
        meta.name,
        meta.dtype,
        shape_text(&kept),
        a.npy.display(),
        human_bytes(written)
    )?;
    Ok(0)
}

async fn export_data<T: NpyElem>(
    file: &ArrayFile,
    name: &str,
    sel: &[DimSel],
    kept: &[u64],
    path: &std::path::Path,
    pb: &ProgressBar,
) -> anyhow::Result<u64> {
    let full: Vec<u64> = sel.iter().map(|s| s.len).collect();
    let budget = (BLOCK_BYTES / elem_bytes(T::DTYPE)).max(1);
    let blocks = |f: &[u64], budget: u64| Blocks::new(f, budget);
    let positions = |start: &[u64], extent: &[u64]| -> Vec<Vec<u64>> {
        start
            .iter()
            .zip(extent)
            .map(|(&a, &n)| (a..a + n).collect())
            .collect()
    };
    let mut width = 0;
    if T::NEEDS_WIDTH {
        for (start, extent) in blocks(&full, budget) {
            let data = read_positions::<T>(file, name, sel, &positions(&start, &extent)).await?;
            width = width.max(T::width(data.as_slice().unwrap_or_default()));
        }
    }
    // Fixed-width strings take 4 bytes per character of the longest one.
    let write_budget = if T::NEEDS_WIDTH {
        (BLOCK_BYTES / (width as u64).saturating_mul(4).max(1)).max(1)
    } else {
        budget
    };
    let descr = T::descr(width)?;
    let f =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let result: anyhow::Result<()> = async {
        write_header(&mut w, descr, &usizes(kept)?)?;
        for (start, extent) in blocks(&full, write_budget) {
            let data = read_positions::<T>(file, name, sel, &positions(&start, &extent)).await?;
            let items: Vec<T>;
            let slice = match data.as_slice() {
                Some(s) => s,
                None => {
                    items = data.iter().cloned().collect();
                    &items
                }
            };
            T::write(&mut w, slice, width)?;
            pb.inc((slice.len() as u64).saturating_mul(elem_bytes(T::DTYPE)));
        }
        w.flush()?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
}

/// Chunk-aligned boxes of at most `budget` elements (or one chunk) that
/// tile `shape`.
pub(super) fn plan(shape: &[u64], chunk: &[u64], budget: u64) -> Vec<(Vec<u64>, Vec<u64>)> {
    fn split(
        start: Vec<u64>,
        ext: Vec<u64>,
        chunk: &[u64],
        budget: u64,
        out: &mut Vec<(Vec<u64>, Vec<u64>)>,
    ) {
        let n = ext.iter().fold(1u64, |a, &b| a.saturating_mul(b));
        if n == 0 {
            return;
        }
        let wide = ext.iter().zip(chunk).position(|(&e, &c)| e > c.max(1));
        let Some(d) = wide.filter(|_| n > budget) else {
            out.push((start, ext));
            return;
        };
        let c = chunk.get(d).copied().unwrap_or(1).max(1);
        let slab = n / ext.get(d).copied().unwrap_or(1).max(1) * c;
        let step = (budget / slab.max(1)).max(1) * c;
        let (s0, e0) = (
            start.get(d).copied().unwrap_or(0),
            ext.get(d).copied().unwrap_or(0),
        );
        let mut at = s0;
        while at < s0 + e0 {
            let len = step.min(s0 + e0 - at);
            let mut s = start.clone();
            let mut e = ext.clone();
            if let (Some(sd), Some(ed)) = (s.get_mut(d), e.get_mut(d)) {
                *sd = at;
                *ed = len;
            }
            split(s, e, chunk, budget, out);
            at += len;
        }
    }
    let mut out = Vec::new();
    split(
        vec![0; shape.len()],
        shape.to_vec(),
        chunk,
        budget,
        &mut out,
    );
    out
}

/// The pipeline `--codec` and `--filters` (`none` for no filter) make for
/// arrays of `dtype`, the rest from the pipeline measured best for it.
pub(super) fn pipeline_of(
    dtype: DType,
    codec: Option<&str>,
    filters: Option<&[String]>,
) -> anyhow::Result<Pipeline> {
    let filters: Option<Vec<&str>> = filters.map(|f| {
        f.iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("none"))
            .collect()
    });
    Pipeline::compose(dtype, codec, filters.as_deref())
        .map_err(|e| usage(format!("--codec/--filters: {e} (for {dtype} data)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_chunks_stay_near_a_mebibyte() {
        assert_eq!(auto_chunks(&[100], 4), vec![100]);
        assert_eq!(auto_chunks(&[0, 5], 8), vec![1, 5]);
        let c = auto_chunks(&[1000, 1000], 8);
        let bytes: u64 = c.iter().product::<u64>() * 8;
        assert!(bytes <= 1 << 20 && bytes > 1 << 18, "{c:?}");
        assert_eq!(auto_chunks(&[], 8), Vec::<u64>::new());
    }

    #[test]
    fn plans_tile_the_array_on_chunk_boundaries() {
        let shape = [10u64, 7, 5];
        let chunk = [3u64, 2, 5];
        for budget in [1, 10, 30, 60, 61, 1000] {
            let boxes = plan(&shape, &chunk, budget);
            let total: u64 = boxes.iter().map(|(_, e)| e.iter().product::<u64>()).sum();
            assert_eq!(total, 350, "{budget}");
            for (s, e) in &boxes {
                for d in 0..3 {
                    assert_eq!(s[d] % chunk[d], 0);
                    assert!(e[d] % chunk[d] == 0 || s[d] + e[d] == shape[d]);
                }
                let n: u64 = e.iter().product();
                assert!(n <= budget.max(30), "{budget}: {s:?} {e:?}");
            }
        }
        assert_eq!(plan(&[], &[], 10), vec![(vec![], vec![])]);
        assert!(plan(&[0, 4], &[1, 4], 10).is_empty());
    }
}
