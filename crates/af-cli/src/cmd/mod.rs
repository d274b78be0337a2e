//! The commands, and what they share: opening files, finding arrays, the
//! storage layout.

mod cp;
mod demo;
mod edit;
mod inspect;
mod transfer;

use std::io::Write;

use array_format::{ArrayFile, Error as AfError, MergedArrayMeta};

use crate::args::Command;
use crate::error::usage;
use crate::layout::{self, Layout};
use crate::target::Location;
use array_format::BuiltinCodec;

/// Runs one command; returns the exit code.
pub async fn run(command: Command) -> anyhow::Result<u8> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match command {
        Command::Demo(a) => demo::run(a, &mut out).await,
        Command::Info(a) => inspect::info(a, &mut out).await,
        Command::Ls(a) => inspect::ls(a, &mut out).await,
        Command::Cat(a) => inspect::cat(a, &mut out).await,
        Command::Stats(a) => inspect::stats(a, &mut out).await,
        Command::Layers(a) => inspect::layers(a, &mut out).await,
        Command::Verify(a) => inspect::verify(a, &mut out).await,
        Command::Attrs(a) => edit::attrs(a, &mut out).await,
        Command::Compact(a) => edit::compact(a, &mut out).await,
        Command::Vacuum(a) => edit::vacuum(a, &mut out).await,
        Command::Import(a) => transfer::import(a, &mut out).await,
        Command::Export(a) => transfer::export(a, &mut out).await,
        Command::Cp(a) => cp::cp(a, &mut out).await,
    }
}

/// Parses `path` and opens the file for reading (as of layer `at`).
async fn open_read(path: &str, at: Option<u64>) -> anyhow::Result<(Location, ArrayFile)> {
    let loc = Location::parse(path)?;
    let file = loc.open(BuiltinCodec::Lz4, at).await?;
    Ok((loc, file))
}

/// The metadata of array `name`, or an error that lists the arrays there are.
/// The selection a `--slice` argument makes of an array (all of it when
/// absent), or a usage error naming the array and its shape.
fn selection(
    meta: &MergedArrayMeta,
    slice: Option<&str>,
) -> anyhow::Result<Vec<crate::slice::DimSel>> {
    let items = crate::slice::parse(slice.unwrap_or("")).map_err(usage)?;
    crate::slice::resolve(&items, &meta.shape, &meta.dimension_names).map_err(|e| {
        usage(format!(
            "array {:?} ({}): {e}",
            meta.name,
            crate::format::shape_text(&meta.shape)
        ))
    })
}

fn array_meta(file: &ArrayFile, loc: &Location, name: &str) -> anyhow::Result<MergedArrayMeta> {
    match file.get_array(name) {
        Ok(m) => Ok(m.clone()),
        Err(AfError::ArrayNotFound { .. }) => {
            let names: Vec<String> = file.list_arrays().into_iter().map(|m| m.name).collect();
            let there = if names.is_empty() {
                "it has no arrays".to_string()
            } else {
                format!("its arrays are: {}", names.join(", "))
            };
            Err(usage(format!("no array {name:?} in {}; {there}", loc.name)))
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot use array {name:?}"))),
    }
}

/// The storage layout of the file's committed state (see [`layout`]).
fn layout_of(file: &ArrayFile) -> Layout {
    layout::read(file)
}

/// The codec to write with: `chosen`, else the codec the file was last
/// written with, else lz4.
fn codec_for(chosen: Option<BuiltinCodec>, layout: Option<&Layout>) -> BuiltinCodec {
    chosen
        .or_else(|| {
            layout
                .and_then(Layout::writer_codec)
                .and_then(BuiltinCodec::from_name)
        })
        .unwrap_or(BuiltinCodec::Lz4)
}

/// Number of chunks in the grid of `meta`.
fn chunk_count(meta: &MergedArrayMeta) -> u64 {
    meta.shape
        .iter()
        .zip(&meta.chunk_shape)
        .fold(1u64, |a, (&s, &c)| a.saturating_mul(s.div_ceil(c.max(1))))
}

/// Writes `s` (JSON) followed by a newline.
fn print_json(out: &mut dyn Write, v: &serde_json::Value) -> anyhow::Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}
