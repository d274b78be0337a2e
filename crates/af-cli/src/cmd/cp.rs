//! `af cp`: a copy of a file, every array rewritten in chunk-aligned slabs
//! of bounded size, committed as one layer.

use std::collections::BTreeSet;
use std::io::Write;

use anyhow::Context;
use array_format::{ArrayFile, ArraySpec, Error as AfError, FileConfig, MergedArrayMeta};
use indicatif::ProgressBar;
use ndarray::Slice;

use super::transfer::{BLOCK_BYTES, elem_bytes, pipeline_of, plan, usizes};
use super::{codec_for, layout_of};
use crate::args::CpArgs;
use crate::error::usage;
use crate::format::{Elem, human_bytes};
use crate::layout::ArrayLayout;
use crate::progress;
use crate::select::with_elem;
use crate::target::Location;
use array_format::BuiltinCodec;

/// `af cp`.
pub async fn cp(a: CpArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let src = Location::parse(&a.src)?;
    let dst = Location::parse(&a.dst)?;
    if src.same_file(&dst) {
        return Err(usage(format!(
            "{} and {} are the same file",
            src.name, dst.name
        )));
    }
    let sfile = src.open(BuiltinCodec::Lz4, a.at.at).await?;
    let layout = Some(layout_of(&sfile));
    let codec = codec_for(None, layout.as_ref());
    match dst.open_with(FileConfig::new(BuiltinCodec::Lz4)).await {
        Ok(_) if !a.force => {
            return Err(usage(format!(
                "{} already exists; use --force to replace it",
                dst.name
            )));
        }
        Err(AfError::FileNotFound { .. }) | Ok(_) => {}
        Err(_) if a.force => {}
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "{} exists but cannot be opened; use --force to replace it",
                dst.name
            )));
        }
    }
    let mut config = FileConfig::new(codec);
    if let Some(b) = a.block_size {
        config.block_target_size = b;
    }
    if let Some(f) = a.frame_size {
        config.frame_target_size = f;
    }
    let mut dfile = dst.create_with(config).await?;
    let arrays = sfile.list_arrays();
    let total: u64 = arrays
        .iter()
        .map(|m| m.num_elements().saturating_mul(elem_bytes(m.dtype)))
        .sum();
    let pb = progress::bytes("copying", total);
    for (k, v) in sfile.file_attributes()? {
        dfile.set_file_attribute(&k, v)?;
    }
    for meta in &arrays {
        let written = layout
            .as_ref()
            .map(|l| l.arrays.get(&meta.name).cloned().unwrap_or_default());
        let mut spec = ArraySpec::new(meta.dtype, meta.shape.clone())
            .with_chunk_shape(meta.chunk_shape.clone())
            .with_dimension_names(meta.dimension_names.clone());
        spec.fill_value = meta.fill_value.clone();
        spec.codec = match (&a.codec, &a.filters) {
            (None, None) => sfile.array_codec(&meta.name)?,
            _ => Some(
                pipeline_of(meta.dtype, a.codec.as_deref(), a.filters.as_deref())
                    .with_context(|| format!("array {:?}", meta.name))?
                    .to_string(),
            ),
        };
        dfile.define(meta.name.as_str(), spec)?;
        let r = with_elem!(meta.dtype, T => copy_array::<T>(&sfile, &mut dfile, meta, written.as_ref(), &pb).await);
        r.with_context(|| format!("cannot copy array {:?}", meta.name))?;
        for (k, v) in sfile.attributes(&meta.name)? {
            dfile.set_attribute(&meta.name, &k, v)?;
        }
    }
    pb.set_message("committing");
    let r = dfile.flush().await;
    pb.finish_and_clear();
    r.with_context(|| format!("cannot commit {}", dst.name))?;
    writeln!(
        out,
        "copied {} to {}: {} array{}, {}, {} -> {} stored",
        src.name,
        dst.name,
        arrays.len(),
        if arrays.len() == 1 { "" } else { "s" },
        match (&a.codec, &a.filters) {
            (None, None) => format!("pipelines kept, codec {codec} for the others"),
            (c, f) => [
                c.as_ref().map(|c| format!("codec {c}")),
                f.as_ref().map(|f| format!("filters {}", f.join(","))),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        },
        human_bytes(sfile.stored_bytes()),
        human_bytes(dfile.stored_bytes())
    )?;
    Ok(0)
}

/// Copies one array, defined in `dst` already, in chunk-aligned slabs;
/// writes each chunk that was written in the source (per `written`) or that
/// holds anything but the fill element.
async fn copy_array<T: Elem>(
    src: &ArrayFile,
    dst: &mut ArrayFile,
    meta: &MergedArrayMeta,
    written: Option<&ArrayLayout>,
    pb: &ProgressBar,
) -> anyhow::Result<()> {
    let name = meta.name.as_str();
    let fill = T::fill_element(meta.fill_value.as_ref());
    let elem = elem_bytes(T::DTYPE);
    let chunk = &meta.chunk_shape;
    let grid: Vec<u64> = meta
        .shape
        .iter()
        .zip(chunk)
        .map(|(&s, &c)| s.div_ceil(c.max(1)))
        .collect();
    let written_set: Option<&BTreeSet<u64>> = written.map(|w| &w.chunks);
    for (start, ext) in plan(&meta.shape, chunk, (BLOCK_BYTES * 2 / elem).max(1)) {
        let n: u64 = ext.iter().product();
        // Chunk coordinates the box covers.
        let lo: Vec<u64> = start
            .iter()
            .zip(chunk)
            .map(|(&s, &c)| s / c.max(1))
            .collect();
        let hi: Vec<u64> = start
            .iter()
            .zip(&ext)
            .zip(chunk)
            .map(|((&s, &e), &c)| (s + e).div_ceil(c.max(1)))
            .collect();
        let coords = chunk_coords(&lo, &hi);
        let linear = |k: &[u64]| {
            k.iter().zip(&grid).fold(0u64, |a, (&ki, &gi)| {
                a.saturating_mul(gi).saturating_add(ki)
            })
        };
        if let Some(set) = written_set
            && !coords.iter().any(|k| set.contains(&linear(k)))
        {
            // Nothing was ever written here: no need to read it.
            pb.inc(n.saturating_mul(elem));
            continue;
        }
        let data = src
            .read_array::<T>(name, usizes(&start)?, usizes(&ext)?)
            .await?;
        for k in &coords {
            let c_start: Vec<u64> = k.iter().zip(chunk).map(|(&ki, &c)| ki * c).collect();
            let view = data.slice_each_axis(|ax| {
                let d = ax.axis.index();
                let s = c_start.get(d).copied().unwrap_or(0) - start.get(d).copied().unwrap_or(0);
                let c = chunk.get(d).copied().unwrap_or(1);
                let e = (s + c).min(ext.get(d).copied().unwrap_or(0));
                Slice::from(s as usize..e as usize)
            });
            let keep = written_set.is_some_and(|set| set.contains(&linear(k)))
                || view.iter().any(|v| !v.same(&fill));
            if keep {
                dst.write_array(name, usizes(&c_start)?, view).await?;
            }
        }
        pb.inc(n.saturating_mul(elem));
    }
    Ok(())
}

/// Every coordinate `k` with `lo <= k < hi`, in C order.
fn chunk_coords(lo: &[u64], hi: &[u64]) -> Vec<Vec<u64>> {
    let mut out = Vec::new();
    if lo.iter().zip(hi).any(|(a, b)| a >= b) {
        return out;
    }
    let mut k = lo.to_vec();
    loop {
        out.push(k.clone());
        let mut d = k.len();
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            if let (Some(v), Some(&l), Some(&h)) = (k.get_mut(d), lo.get(d), hi.get(d)) {
                *v += 1;
                if *v < h {
                    break;
                }
                *v = l;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coords_in_c_order() {
        assert_eq!(
            chunk_coords(&[0, 1], &[2, 3]),
            vec![vec![0, 1], vec![0, 2], vec![1, 1], vec![1, 2]]
        );
        assert_eq!(chunk_coords(&[], &[]), vec![Vec::<u64>::new()]);
        assert!(chunk_coords(&[1], &[1]).is_empty());
    }
}
