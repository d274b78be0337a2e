//! Read-only commands: info, ls, cat, stats, layers, verify.

use std::io::Write;

use array_format::{ArrayFile, AttributeValue, Damage, MergedArrayMeta};
use serde_json::{Value as Json, json};

use super::{array_meta, chunk_count, layout_of, open_read, print_json};
use crate::args::{CatArgs, InfoArgs, LayersArgs, LsArgs, StatsArgs, VerifyArgs};
use crate::error::{EXIT_DAMAGED, exit_code, render};
use crate::format::{
    Table, attr_json, attr_text, fill_json, fill_text, human_bytes, ratio, shape_text, stat_json,
    stat_text, timestamp_text,
};
use crate::layout::{self, ArrayLayout, Layout};
use crate::select::with_elem;
use crate::target::Location;
use crate::{print, progress};
use array_format::BuiltinCodec;

/// What `af info` reports.
pub struct Info {
    path: String,
    as_of: Option<u64>,
    visible: Vec<u64>,
    objects: usize,
    /// Staged parts the visible layers adopted (their frames are read in
    /// place).
    parts: usize,
    arrays: usize,
    raw: Option<u64>,
    stored: u64,
    codecs: Option<Vec<String>>,
    /// Each array's recorded codec, in definition order.
    array_codecs: Vec<(String, Option<String>)>,
    /// The file's own attributes.
    attributes: Vec<(String, AttributeValue)>,
}

/// File attributes `af info` prints before it refers to `af attrs`.
const INFO_ATTRS: usize = 10;

/// Gathers the `af info` report of an open file.
pub async fn gather_info(
    loc: &Location,
    file: &ArrayFile,
    as_of: Option<u64>,
) -> anyhow::Result<Info> {
    let versions = file.versions().await?;
    let layout = Some(layout::read(file));
    let array_codecs = file
        .list_arrays()
        .into_iter()
        .map(|m| {
            let codec = file.array_codec(&m.name).ok().flatten();
            (m.name, codec)
        })
        .collect();
    Ok(Info {
        path: loc.name.clone(),
        as_of,
        visible: versions
            .iter()
            .filter(|v| v.visible)
            .map(|v| v.layer)
            .collect(),
        objects: versions.len(),
        parts: versions.iter().filter(|v| v.visible).map(|v| v.parts).sum(),
        arrays: file.list_arrays().len(),
        raw: layout.as_ref().map(Layout::raw),
        stored: file.stored_bytes(),
        codecs: layout.as_ref().map(|l| l.codecs().into_iter().collect()),
        array_codecs,
        attributes: file.file_attributes()?,
    })
}

/// The recorded codecs of the arrays, grouped: `zstd:9 (2 arrays), none
/// recorded (1 array)`.
fn array_codecs_text(codecs: &[(String, Option<String>)]) -> String {
    let mut groups: Vec<(Option<&str>, usize)> = Vec::new();
    for (_, c) in codecs {
        match groups.iter_mut().find(|(g, _)| *g == c.as_deref()) {
            Some((_, n)) => *n += 1,
            None => groups.push((c.as_deref(), 1)),
        }
    }
    // Recorded codecs first, by name.
    groups.sort_by_key(|(g, _)| (g.is_none(), *g));
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let parts: Vec<String> = groups
        .iter()
        .map(|(g, n)| match g {
            Some(c) => format!("{c} ({n} array{})", plural(*n)),
            None => format!("none recorded ({n} array{})", plural(*n)),
        })
        .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

/// Prints an `af info` report as text.
pub fn print_info(info: &Info, out: &mut dyn Write) -> anyhow::Result<()> {
    let layers = match info.visible.split_first() {
        None => "none visible".to_string(),
        Some((snap, deltas)) => {
            let mut s = format!("{} visible: snapshot {snap}", info.visible.len());
            match deltas {
                [] => {}
                [one] => s.push_str(&format!(" + delta {one}")),
                [first, .., last] => {
                    s.push_str(&format!(" + deltas {first}..{last}"));
                }
            }
            s.push_str(&format!(" ({} layer objects in all)", info.objects));
            s
        }
    };
    let mut rows: Vec<(&str, String)> = vec![("file", info.path.clone())];
    if let Some(n) = info.as_of {
        rows.push(("as of", format!("layer {n} (read-only view)")));
    }
    rows.push(("layers", layers));
    if info.parts > 0 {
        rows.push((
            "staged parts",
            format!(
                "{} adopted by the visible layers (their frames are read in place)",
                info.parts
            ),
        ));
    }
    rows.push(("arrays", info.arrays.to_string()));
    rows.push((
        "raw bytes",
        match info.raw {
            Some(r) => format!("{} ({r} bytes of chunk data)", human_bytes(r)),
            None => "- (unknown)".into(),
        },
    ));
    let r = info.raw.and_then(|r| ratio(r, info.stored));
    rows.push((
        "stored bytes",
        match r {
            Some(r) => format!("{} (ratio {r:.2})", human_bytes(info.stored)),
            None => human_bytes(info.stored),
        },
    ));
    rows.push((
        "codecs",
        match &info.codecs {
            Some(c) if c.is_empty() => "- (no data yet)".into(),
            Some(c) => c.join(", "),
            None => "- (unknown)".into(),
        },
    ));
    rows.push(("array codecs", array_codecs_text(&info.array_codecs)));
    if info.attributes.is_empty() {
        rows.push(("attributes", "none".into()));
    }
    for (i, (k, v)) in info.attributes.iter().enumerate() {
        let label = if i == 0 { "attributes" } else { "" };
        if i == INFO_ATTRS {
            rows.push((
                label,
                format!(
                    "... {} more (af attrs {} /)",
                    info.attributes.len() - INFO_ATTRS,
                    info.path
                ),
            ));
            break;
        }
        rows.push((label, format!("{k} = {}", attr_text(v, true))));
    }
    for (k, v) in rows {
        writeln!(out, "{k:<14}{v}")?;
    }
    Ok(())
}

fn info_json(info: &Info) -> Json {
    json!({
        "path": info.path,
        "as_of": info.as_of,
        "layers": { "visible": info.visible, "objects": info.objects, "parts": info.parts },
        "arrays": info.arrays,
        "raw_bytes": info.raw,
        "stored_bytes": info.stored,
        "ratio": info.raw.and_then(|r| ratio(r, info.stored)),
        "codecs": info.codecs,
        "array_codecs": info
            .array_codecs
            .iter()
            .map(|(name, codec)| (name.clone(), json!(codec)))
            .collect::<serde_json::Map<String, Json>>(),
        "attributes": info
            .attributes
            .iter()
            .map(|(k, v)| json!({"key": k, "type": v.type_name(), "value": attr_json(v)}))
            .collect::<Vec<Json>>(),
    })
}

/// `af info`.
pub async fn info(a: InfoArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let (loc, file) = open_read(&a.path, a.at.at).await?;
    let info = gather_info(&loc, &file, a.at.at).await?;
    if a.json {
        print_json(out, &info_json(&info))?;
    } else {
        print_info(&info, out)?;
    }
    Ok(0)
}

struct ArrayRow {
    meta: MergedArrayMeta,
    attrs: usize,
    written: Option<u64>,
    raw: Option<u64>,
    stored: Option<u64>,
    layout: ArrayLayout,
}

fn ratio_text(raw: Option<u64>, stored: Option<u64>) -> String {
    match (raw, stored) {
        (Some(r), Some(s)) => ratio(r, s).map_or("-".into(), |x| format!("{x:.2}")),
        _ => "-".into(),
    }
}

/// `af ls`.
pub async fn ls(a: LsArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let (loc, file) = open_read(&a.path, a.at.at).await?;
    let layout = Some(layout_of(&file));
    let mut rows = Vec::new();
    for meta in file.list_arrays() {
        let attrs = file.attributes(&meta.name)?.len();
        let stored = layout
            .as_ref()
            .map(|l| l.arrays.get(&meta.name).cloned().unwrap_or_default());
        rows.push(ArrayRow {
            attrs,
            written: stored.as_ref().map(|s| s.chunks.len() as u64),
            raw: stored.as_ref().map(|s| s.raw),
            stored: stored.as_ref().map(|s| s.stored),
            layout: stored.unwrap_or_default(),
            meta,
        });
    }
    if a.json {
        let v: Vec<Json> = rows
            .iter()
            .map(|r| {
                json!({
                    "name": r.meta.name,
                    "dtype": r.meta.dtype.name(),
                    "shape": r.meta.shape,
                    "chunk_shape": r.meta.chunk_shape,
                    "dimension_names": r.meta.dimension_names,
                    "fill_value": fill_json(r.meta.fill_value.as_ref(), r.meta.dtype),
                    "attributes": r.attrs,
                    "codec": r.layout.codec,
                    "stored_codecs": r.layout.stored_codecs,
                    "chunks_written": r.written,
                    "chunks_total": chunk_count(&r.meta),
                    "raw_bytes": r.raw,
                    "stored_bytes": r.stored,
                    "ratio": match (r.raw, r.stored) {
                        (Some(x), Some(y)) => ratio(x, y),
                        _ => None,
                    },
                })
            })
            .collect();
        print_json(out, &Json::Array(v))?;
        return Ok(0);
    }
    let opt = |v: Option<u64>| v.map_or("-".into(), human_bytes);
    let mut t = if a.long {
        Table::new(&[
            ("NAME", false),
            ("DTYPE", false),
            ("SHAPE", false),
            ("CHUNKS", false),
            ("DIMS", false),
            ("FILL", false),
            ("ATTRS", true),
            ("CODEC", false),
            ("WRITTEN", true),
            ("RAW", true),
            ("STORED", true),
            ("RATIO", true),
        ])
    } else {
        Table::new(&[
            ("NAME", false),
            ("DTYPE", false),
            ("SHAPE", false),
            ("CHUNKS", false),
            ("FILL", false),
            ("CODEC", false),
            ("STORED", true),
            ("RATIO", true),
        ])
    };
    for r in &rows {
        let m = &r.meta;
        let mut cells = vec![
            m.name.clone(),
            m.dtype.name().to_string(),
            shape_text(&m.shape),
            shape_text(&m.chunk_shape),
        ];
        if a.long {
            cells.push(if m.dimension_names.is_empty() {
                "-".into()
            } else {
                m.dimension_names.join(",")
            });
        }
        cells.push(fill_text(m.fill_value.as_ref(), m.dtype));
        if a.long {
            cells.push(r.attrs.to_string());
        }
        cells.push(r.layout.codec_text());
        if a.long {
            cells.push(match r.written {
                Some(w) => format!("{w}/{}", chunk_count(m)),
                None => "-".into(),
            });
            cells.push(opt(r.raw));
        }
        cells.push(opt(r.stored));
        cells.push(ratio_text(r.raw, r.stored));
        t.row(cells);
    }
    if rows.is_empty() {
        writeln!(out, "{} has no arrays", loc.name)?;
    } else {
        out.write_all(t.render().as_bytes())?;
    }
    Ok(0)
}

/// `af cat`.
pub async fn cat(a: CatArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let (loc, file) = open_read(&a.path, a.at.at).await?;
    let meta = array_meta(&file, &loc, &a.array)?;
    let sel = super::selection(&meta, a.slice.as_deref())?;
    with_elem!(meta.dtype, T => print::cat::<T>(&file, &meta.name, &sel, a.format, a.all, out).await)?;
    Ok(0)
}

/// `af stats`.
pub async fn stats(a: StatsArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let (loc, file) = open_read(&a.path, a.at.at).await?;
    let metas = match &a.array {
        Some(name) => vec![array_meta(&file, &loc, name)?],
        None => file.list_arrays(),
    };
    let mut json_rows = Vec::new();
    let mut t = Table::new(&[
        ("NAME", false),
        ("DTYPE", false),
        ("MIN", true),
        ("MAX", true),
        ("NULLS", true),
        ("COUNT", true),
    ]);
    for m in &metas {
        let s = file.array_stats(&m.name);
        let min = s.and_then(|s| s.min.as_ref());
        let max = s.and_then(|s| s.max.as_ref());
        json_rows.push(json!({
            "name": m.name,
            "dtype": m.dtype.name(),
            "min": min.map(|v| stat_json(v, m.dtype)),
            "max": max.map(|v| stat_json(v, m.dtype)),
            "null_count": s.map(|s| s.null_count),
            "count": s.map_or(m.num_elements(), |s| s.row_count),
        }));
        t.row(vec![
            m.name.clone(),
            m.dtype.name().into(),
            min.map_or("-".into(), |v| stat_text(v, m.dtype)),
            max.map_or("-".into(), |v| stat_text(v, m.dtype)),
            s.map_or("-".into(), |s| s.null_count.to_string()),
            s.map_or(m.num_elements(), |s| s.row_count).to_string(),
        ]);
    }
    if a.json {
        let v = if a.array.is_some() {
            json_rows.into_iter().next().unwrap_or(Json::Null)
        } else {
            Json::Array(json_rows)
        };
        print_json(out, &v)?;
    } else if metas.is_empty() {
        writeln!(out, "{} has no arrays", loc.name)?;
    } else {
        out.write_all(t.render().as_bytes())?;
    }
    Ok(0)
}

/// `af layers`.
pub async fn layers(a: LayersArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let (_loc, file) = open_read(&a.path, a.at.at).await?;
    let versions = file.versions().await?;
    let created = |ns: i64| {
        if ns == 0 {
            "-".to_string()
        } else {
            timestamp_text(ns - ns.rem_euclid(1_000_000_000))
        }
    };
    if a.json {
        let v: Vec<Json> = versions
            .iter()
            .map(|v| {
                json!({
                    "layer": v.layer,
                    "kind": if v.damage.is_some() { "damaged" } else if v.snapshot { "snapshot" } else { "delta" },
                    "generation": v.generation,
                    "size": v.size,
                    "created": created(v.created_ns),
                    "created_ns": v.created_ns,
                    "visible": v.visible,
                    "parts": v.parts,
                    "path": v.path,
                    "damage": v.damage,
                })
            })
            .collect();
        print_json(out, &Json::Array(v))?;
        return Ok(0);
    }
    let damaged = versions.iter().any(|v| v.damage.is_some());
    // Layers that adopted staged parts: how many, in a column of its own.
    let parts = versions.iter().any(|v| v.parts > 0);
    let mut cols = vec![
        ("LAYER", true),
        ("KIND", false),
        ("GEN", true),
        ("SIZE", true),
        ("CREATED", false),
        ("VISIBLE", false),
    ];
    if parts {
        cols.push(("PARTS", true));
    }
    if damaged {
        cols.push(("DAMAGE", false));
    }
    let mut t = Table::new(&cols);
    for v in &versions {
        let mut row = vec![
            v.layer.to_string(),
            if v.damage.is_some() {
                "damaged".into()
            } else if v.snapshot {
                "snapshot".into()
            } else {
                "delta".into()
            },
            v.generation.to_string(),
            human_bytes(v.size),
            created(v.created_ns),
            if v.visible { "yes".into() } else { "no".into() },
        ];
        if parts {
            row.push(if v.parts > 0 {
                v.parts.to_string()
            } else {
                "-".into()
            });
        }
        if damaged {
            row.push(v.damage.clone().unwrap_or_default());
        }
        t.row(row);
    }
    out.write_all(t.render().as_bytes())?;
    Ok(0)
}

/// What is wrong with a damaged frame, without the frame and offset that
/// the library's message repeats.
fn damage_what(d: &Damage) -> &str {
    match d.frame {
        Some(f) => {
            let prefix = format!("frame {f} ({} bytes at offset {}): ", d.len, d.offset);
            d.what.strip_prefix(prefix.as_str()).unwrap_or(&d.what)
        }
        None => &d.what,
    }
}

/// One line per damaged frame: `path: frame N (LEN bytes at offset OFF): what`.
fn damage_line(d: &Damage) -> String {
    match d.frame {
        Some(f) => format!(
            "{}: frame {f} ({} bytes at offset {}): {}",
            d.path,
            d.len,
            d.offset,
            damage_what(d)
        ),
        None => format!("{}: {}", d.path, d.what),
    }
}

/// `af verify`: exit code 1 and one line per damaged frame when anything is
/// damaged.
pub async fn verify(a: VerifyArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let loc = Location::parse(&a.path)?;
    let file = match loc.open(BuiltinCodec::Lz4, a.at.at).await {
        Ok(f) => f,
        Err(e) if exit_code(&e) == EXIT_DAMAGED => {
            // The footers are checked on open: a damaged one stops here.
            let what = render(&e);
            if a.json {
                print_json(
                    out,
                    &json!({"path": loc.name, "ok": false, "damaged": [{"what": what}]}),
                )?;
            } else {
                writeln!(out, "damaged: {what}")?;
                eprintln!("af: {} is damaged", loc.name);
            }
            return Ok(EXIT_DAMAGED);
        }
        Err(e) => return Err(e),
    };
    let pb = progress::spinner("verifying");
    let report = file.verify().await;
    pb.finish_and_clear();
    let report =
        report.map_err(|e| anyhow::Error::new(e).context(format!("cannot verify {}", loc.name)))?;
    if a.json {
        let damaged: Vec<Json> = report
            .damaged
            .iter()
            .map(|d| {
                json!({"path": d.path, "frame": d.frame, "offset": d.offset, "len": d.len, "what": damage_what(d)})
            })
            .collect();
        print_json(
            out,
            &json!({
                "path": loc.name,
                "ok": report.is_ok(),
                "layers": report.layers,
                "frames": report.frames,
                "chunks": report.chunks,
                "bytes": report.bytes,
                "damaged": damaged,
            }),
        )?;
    } else if report.is_ok() {
        writeln!(
            out,
            "ok: {}: {} layers, {} frames, {} chunks, {} checked",
            loc.name,
            report.layers,
            report.frames,
            report.chunks,
            human_bytes(report.bytes)
        )?;
    } else {
        for d in &report.damaged {
            writeln!(out, "damaged: {}", damage_line(d))?;
        }
        eprintln!(
            "af: {} is damaged: {} damaged frame{} or chunk{} among {} frames in {} layers",
            loc.name,
            report.damaged.len(),
            if report.damaged.len() == 1 { "" } else { "s" },
            if report.damaged.len() == 1 { "" } else { "s" },
            report.frames,
            report.layers
        );
    }
    Ok(if report.is_ok() { 0 } else { EXIT_DAMAGED })
}
