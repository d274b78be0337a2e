//! `af demo`: a sample file with realistic arrays, written with two flushes
//! so that it has a history (a snapshot and a delta).

use std::io::Write;

use anyhow::Context;
use array_format::{ArrayFile, AttributeValue, FileConfig, FillValue, TimestampNs};
use ndarray::{Array, ArrayD, IxDyn};

use super::inspect::{gather_info, print_info};
use crate::args::DemoArgs;
use crate::target::Location;
use array_format::BuiltinCodec;

const HOURS: usize = 48;
const LAT: usize = 90;
const LON: usize = 180;
/// Hours written in the first layer; the rest comes in the second.
const FIRST_HOURS: usize = 36;
/// 2024-01-01T00:00:00Z.
const START_NS: i64 = 1_704_067_200_000_000_000;
const HOUR_NS: i64 = 3_600_000_000_000;

const STATIONS: [&str; 12] = [
    "Reykjavik",
    "Oslo",
    "Hamburg",
    "Zurich",
    "Lisbon",
    "Cairo",
    "Nairobi",
    "Cape Town",
    "Mumbai",
    "Singapore",
    "Sydney",
    "Honolulu",
];

fn lat_of(i: usize) -> f64 {
    -89.0 + 2.0 * i as f64
}

fn lon_of(j: usize) -> f64 {
    1.0 + 2.0 * j as f64
}

/// A crude land mask: a few ellipses where the continents are.
fn is_land(lat: f64, lon: f64) -> bool {
    // (centre lat, centre lon, half-height, half-width) in degrees, lon 0..360.
    const BLOBS: [(f64, f64, f64, f64); 7] = [
        (50.0, 20.0, 22.0, 40.0),   // Europe
        (45.0, 95.0, 25.0, 55.0),   // Asia
        (5.0, 20.0, 30.0, 22.0),    // Africa
        (45.0, 260.0, 22.0, 35.0),  // North America
        (-15.0, 300.0, 25.0, 15.0), // South America
        (-25.0, 135.0, 12.0, 18.0), // Australia
        (-82.0, 180.0, 8.0, 180.0), // Antarctica
    ];
    BLOBS.iter().any(|&(clat, clon, h, w)| {
        let mut dlon = (lon - clon).abs();
        if dlon > 180.0 {
            dlon = 360.0 - dlon;
        }
        let (y, x) = ((lat - clat) / h, dlon / w);
        y * y + x * x <= 1.0
    })
}

/// Deterministic noise in [-0.5, 0.5).
fn noise(mut x: u64) -> f64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
}

/// 2-m air temperature in kelvin: colder towards the poles, a diurnal cycle
/// that follows the sun, larger over land.
fn temperature(hour: usize, i: usize, j: usize, land: bool) -> f32 {
    let lat = lat_of(i).to_radians();
    let lon = lon_of(j);
    let local_hour = (hour as f64 + lon / 15.0) % 24.0;
    let sun = (std::f64::consts::TAU * (local_hour - 9.0) / 24.0).sin();
    let amplitude = if land { 6.0 } else { 1.5 } * lat.cos();
    let base = 302.0 - 48.0 * lat.sin().powi(2) - if lat < 0.0 { 4.0 } else { 0.0 };
    let seed = ((hour * LAT + i) * LON + j) as u64;
    // Quantised to 1/64 K, as packed observations are: the low mantissa
    // bits are zero, so the codec has something to work with.
    ((base + amplitude * sun + noise(seed)) * 64.0).round() as f32 / 64.0
}

fn hours(from: usize, to: usize, mask: &ArrayD<u8>) -> ArrayD<f32> {
    Array::from_shape_fn(IxDyn(&[to - from, LAT, LON]), |ix| {
        let land = mask.get(IxDyn(&[ix[1], ix[2]])).is_some_and(|&m| m == 1);
        temperature(from + ix[0], ix[1], ix[2], land)
    })
}

async fn build(file: &mut ArrayFile) -> array_format::Result<()> {
    let dims = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    file.set_file_attribute("title", "Sample 2-m air temperature (af demo)".into())?;
    file.set_file_attribute("Conventions", "CF-1.10".into())?;
    file.define_array::<f32>(
        "temperature",
        dims(&["time", "lat", "lon"]),
        vec![HOURS, LAT, LON],
        Some(vec![12, 45, 45]),
        Some(FillValue::Float(f64::NAN)),
    )?;
    file.set_attribute("temperature", "units", "K".into())?;
    file.set_attribute("temperature", "long_name", "air temperature at 2 m".into())?;
    file.set_attribute("temperature", "standard_name", "air_temperature".into())?;
    file.set_attribute("temperature", "valid_range", vec![180.0f64, 340.0].into())?;
    file.define_array::<u8>(
        "land_mask",
        dims(&["lat", "lon"]),
        vec![LAT, LON],
        Some(vec![45, 90]),
        None,
    )?;
    file.set_attribute(
        "land_mask",
        "flag_values",
        AttributeValue::UInt8List(vec![0, 1]),
    )?;
    file.set_attribute("land_mask", "flag_meanings", "ocean land".into())?;
    file.define_array::<TimestampNs>("time", dims(&["time"]), vec![HOURS], None, None)?;
    file.set_attribute(
        "time",
        "long_name",
        "hours of 2024-01-01 and 2024-01-02, UTC".into(),
    )?;
    file.define_array::<String>(
        "station_names",
        dims(&["station"]),
        vec![STATIONS.len()],
        None,
        Some(FillValue::String(String::new())),
    )?;

    let mask = Array::from_shape_fn(IxDyn(&[LAT, LON]), |ix| {
        u8::from(is_land(lat_of(ix[0]), lon_of(ix[1])))
    });
    file.write_array("land_mask", vec![0, 0], mask.view())
        .await?;
    let time = Array::from_shape_fn(IxDyn(&[HOURS]), |ix| {
        TimestampNs::new(START_NS + ix[0] as i64 * HOUR_NS)
    });
    file.write_array("time", vec![0], time.view()).await?;
    file.write_array(
        "temperature",
        vec![0, 0, 0],
        hours(0, FIRST_HOURS, &mask).view(),
    )
    .await?;
    file.flush().await?; // layer 1, a snapshot (the first commit)

    file.write_array(
        "temperature",
        vec![FIRST_HOURS, 0, 0],
        hours(FIRST_HOURS, HOURS, &mask).view(),
    )
    .await?;
    let names = Array::from_shape_fn(IxDyn(&[STATIONS.len()]), |ix| {
        STATIONS.get(ix[0]).copied().unwrap_or_default().to_string()
    });
    file.write_array("station_names", vec![0], names.view())
        .await?;
    file.set_attribute(
        "temperature",
        "history",
        format!("hours {FIRST_HOURS}-{} appended in layer 2", HOURS - 1).into(),
    )?;
    file.set_file_attribute("history", "written by af demo in two flushes".into())?;
    file.flush().await?; // layer 2, a delta
    Ok(())
}

/// `af demo`.
pub async fn run(a: DemoArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let loc = Location::parse(&a.path)?;
    let mut file = loc.create_with(FileConfig::new(BuiltinCodec::Lz4)).await?;
    build(&mut file)
        .await
        .with_context(|| format!("cannot write the sample file {}", loc.name))?;
    writeln!(
        out,
        "Wrote {}: hourly 2-m temperature on a 2-degree grid for two days, a land mask,",
        loc.name
    )?;
    writeln!(
        out,
        "timestamps and station names; two flushes (snapshot layer 1, delta layer 2).\n"
    )?;
    let info = gather_info(&loc, &file, None).await?;
    print_info(&info, out)?;
    let p = shell_word(&loc.name);
    writeln!(out, "\nNext, try:")?;
    let tips = [
        (format!("af ls {p} --long"), "arrays, chunks, compression"),
        (
            format!("af cat {p} temperature --slice 0,:4,:6"),
            "values, with numpy-like slices",
        ),
        (format!("af cat {p} station_names"), "a string array"),
        (
            format!("af stats {p}"),
            "min / max / nulls, without reading data",
        ),
        (format!("af attrs {p} temperature"), "an array's attributes"),
        (format!("af attrs {p} /"), "the file's own attributes"),
        (format!("af layers {p}"), "the history of the file"),
        (
            format!("af stats {p} temperature --at 1"),
            "the file as it was at layer 1 (12 hours missing)",
        ),
        (format!("af verify {p}"), "check every checksum"),
        (
            format!("af export {p} temperature t.npy"),
            "to NumPy (np.load('t.npy'))",
        ),
    ];
    let width = tips.iter().map(|t| t.0.len()).max().unwrap_or(0);
    for (cmd, what) in tips {
        writeln!(out, "  {cmd:<width$}   # {what}")?;
    }
    if let Some(hint) = where_af_is() {
        writeln!(out, "\n{hint}")?;
    }
    Ok(0)
}

/// A note saying where `af` is, when its directory is not on `PATH` (as
/// after `cargo run`).
fn where_af_is() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let on_path =
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d == dir));
    if on_path {
        return None;
    }
    let shown = std::env::current_dir()
        .ok()
        .and_then(|cwd| exe.strip_prefix(cwd).ok().map(std::path::Path::to_path_buf))
        .unwrap_or_else(|| exe.clone());
    Some(format!(
        "(af is {}; `cargo install --path crates/af-cli` puts it on your PATH)",
        shown.display()
    ))
}

/// `s` quoted for a POSIX shell when it needs to be.
fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:+@%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
