//! `af cat` output: numpy-like text with elision, CSV and JSON; the latter
//! two stream in blocks so that memory stays bounded.

use std::io::Write;

use array_format::ArrayFile;
use ndarray::{ArrayViewD, Axis, IxDyn};

use crate::args::CatFormat;
use crate::format::Elem;
use crate::select::{Blocks, read_positions};
use crate::slice::DimSel;

/// Elements above which text output is elided (numpy's threshold).
const ELIDE_THRESHOLD: u64 = 1000;
/// Elements shown at each end of an elided dimension (numpy's edgeitems).
const EDGE: u64 = 3;
/// Text lines are wrapped at this width (numpy's default).
const LINE_WIDTH: usize = 75;
/// Elements per streamed block.
const BLOCK_ELEMENTS: u64 = 1 << 20;

/// Prints the selection `sel` of array `name` to `out`.
pub async fn cat<T: Elem>(
    file: &ArrayFile,
    name: &str,
    sel: &[DimSel],
    format: CatFormat,
    all: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match format {
        CatFormat::Text => text::<T>(file, name, sel, all, out).await,
        CatFormat::Csv | CatFormat::Json => stream::<T>(file, name, sel, format, out).await,
    }
}

async fn text<T: Elem>(
    file: &ArrayFile,
    name: &str,
    sel: &[DimSel],
    all: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let total = sel.iter().fold(1u64, |a, s| a.saturating_mul(s.len));
    let elide = !all && total > ELIDE_THRESHOLD;
    let mut gaps: Vec<Option<usize>> = Vec::new();
    let positions: Vec<Vec<u64>> = sel
        .iter()
        .map(|s| {
            if elide && s.len > 2 * EDGE {
                if s.keep {
                    gaps.push(Some(EDGE as usize));
                }
                (0..EDGE).chain(s.len - EDGE..s.len).collect()
            } else {
                if s.keep {
                    gaps.push(None);
                }
                (0..s.len).collect()
            }
        })
        .collect();
    let data = read_positions::<T>(file, name, sel, &positions).await?;
    let kept: Vec<usize> = sel
        .iter()
        .zip(data.shape())
        .filter(|(s, _)| s.keep)
        .map(|(_, &n)| n)
        .collect();
    let data = data.into_shape_with_order(IxDyn(&kept))?;
    let cells = data.map(|v| v.text());
    let width = cells.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    // Numbers are right-aligned in columns; strings are not padded.
    let cells = if T::LEFT_ALIGN {
        cells
    } else {
        cells.map(|c| format!("{}{c}", " ".repeat(width - c.chars().count())))
    };
    let mut s = String::new();
    render(cells.view(), &gaps, 0, &mut s);
    writeln!(out, "{}", s.trim_end())?;
    Ok(())
}

/// numpy's nested-bracket layout; `gaps[d]` is where `...` goes.
fn render(a: ArrayViewD<'_, String>, gaps: &[Option<usize>], indent: usize, out: &mut String) {
    let rank = a.ndim();
    if rank == 0 {
        if let Some(v) = a.first() {
            out.push_str(v.trim());
        }
        return;
    }
    let n = a.len_of(Axis(0));
    let gap = gaps.first().copied().flatten();
    let mut items: Vec<String> = Vec::with_capacity(n + 1);
    for i in 0..n {
        if gap == Some(i) {
            items.push("...".into());
        }
        let sub = a.index_axis(Axis(0), i);
        if rank == 1 {
            items.push(sub.first().cloned().unwrap_or_default());
        } else {
            let mut s = String::new();
            render(sub, gaps.get(1..).unwrap_or_default(), indent + 1, &mut s);
            items.push(s);
        }
    }
    if rank == 1 {
        // One row, wrapped at numpy's line width.
        let mut line = String::from("[");
        let last = items.len().saturating_sub(1);
        for (k, item) in items.iter().enumerate() {
            let piece = if k == last {
                format!("{item}]")
            } else {
                format!("{item},")
            };
            let first = k == 0;
            if !first && indent + line.chars().count() + 1 + piece.chars().count() > LINE_WIDTH {
                out.push_str(&line);
                out.push('\n');
                line = format!("{}{piece}", " ".repeat(indent + 1));
            } else {
                if !first {
                    line.push(' ');
                }
                line.push_str(&piece);
            }
        }
        if items.is_empty() {
            line.push(']');
        }
        out.push_str(&line);
        return;
    }
    let sep = format!(",{}{}", "\n".repeat(rank - 1), " ".repeat(indent + 1));
    out.push('[');
    out.push_str(&items.join(&sep));
    out.push(']');
}

/// CSV (rows of the last dimension; a 1-D selection prints one value per
/// line) or JSON (nested arrays), in blocks.
async fn stream<T: Elem>(
    file: &ArrayFile,
    name: &str,
    sel: &[DimSel],
    format: CatFormat,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let full: Vec<u64> = sel.iter().map(|s| s.len).collect();
    let kept: Vec<u64> = sel.iter().filter(|s| s.keep).map(|s| s.len).collect();
    let total = kept.iter().fold(1u64, |a, &b| a.saturating_mul(b));
    if format == CatFormat::Json && total == 0 {
        writeln!(out, "{}", empty_json(&kept))?;
        return Ok(());
    }
    // Suffix products of the kept shape: bracket positions for JSON.
    let mut suffix = vec![1u64; kept.len() + 1];
    for d in (0..kept.len()).rev() {
        let next = suffix.get(d + 1).copied().unwrap_or(1);
        if let Some(s) = suffix.get_mut(d) {
            *s = next.saturating_mul(kept.get(d).copied().unwrap_or(1));
        }
    }
    let row = if kept.len() >= 2 {
        kept.last().copied().unwrap_or(1).max(1)
    } else {
        1
    };
    let mut i = 0u64;
    let mut buf = String::new();
    for (start, extent) in Blocks::new(&full, BLOCK_ELEMENTS) {
        let positions: Vec<Vec<u64>> = start
            .iter()
            .zip(&extent)
            .map(|(&a, &n)| (a..a + n).collect())
            .collect();
        let block = read_positions::<T>(file, name, sel, &positions).await?;
        buf.clear();
        for v in block.iter() {
            match format {
                CatFormat::Json => {
                    for s in suffix.iter().take(kept.len()) {
                        if i.is_multiple_of(*s) {
                            buf.push('[');
                        }
                    }
                    buf.push_str(&v.json());
                    for s in suffix.iter().take(kept.len()).rev() {
                        if (i + 1).is_multiple_of(*s) {
                            buf.push(']');
                        }
                    }
                    if i + 1 < total {
                        buf.push(',');
                    }
                }
                _ => {
                    buf.push_str(&v.csv());
                    buf.push(if (i + 1).is_multiple_of(row) {
                        '\n'
                    } else {
                        ','
                    });
                }
            }
            i += 1;
        }
        out.write_all(buf.as_bytes())?;
    }
    if format == CatFormat::Json {
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Nested empty JSON arrays for a shape with a zero in it.
fn empty_json(shape: &[u64]) -> String {
    match shape.split_first() {
        None => "[]".into(),
        Some((&n, rest)) => {
            if n == 0 {
                "[]".into()
            } else {
                let inner = empty_json(rest);
                format!("[{}]", vec![inner; n.min(1 << 16) as usize].join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ArrayD;

    fn show(shape: &[usize], gaps: &[Option<usize>]) -> String {
        let n: usize = shape.iter().product();
        let a =
            ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|i| i.to_string()).collect()).unwrap();
        let mut s = String::new();
        render(a.view(), gaps, 0, &mut s);
        s
    }

    #[test]
    fn numpy_layout() {
        assert_eq!(show(&[3], &[None]), "[0, 1, 2]");
        assert_eq!(show(&[2, 2], &[None, None]), "[[0, 1],\n [2, 3]]");
        assert_eq!(
            show(&[2, 1, 2], &[None, None, None]),
            "[[[0, 1]],\n\n [[2, 3]]]"
        );
        assert_eq!(show(&[6], &[Some(3)]), "[0, 1, 2, ..., 3, 4, 5]");
        assert_eq!(show(&[2, 2], &[Some(1), None]), "[[0, 1],\n ...,\n [2, 3]]");
        assert_eq!(empty_json(&[2, 0]), "[[],[]]");
        assert_eq!(empty_json(&[0, 3]), "[]");
    }
}
