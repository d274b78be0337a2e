//! The command line: every command, its options and the examples shown by
//! `--help`.

use clap::{Args, Parser, Subcommand, ValueEnum};

use array_format::BuiltinCodec;

const EXIT_CODES: &str = "\
PATH is a local path ending in .af, or an object-store URL: file:///abs/path/x.af,
s3://bucket/key/x.af, gs://bucket/key/x.af or az://container/key/x.af (credentials,
region and endpoint from the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION, AWS_ENDPOINT_URL, GOOGLE_SERVICE_ACCOUNT, AZURE_STORAGE_ACCOUNT_NAME, ...).

Exit codes:
  0  success
  1  the file is damaged (verify found damage, or a checksum failed while reading)
  2  usage or input error: bad arguments, missing file or array, bad slice,
     wrong dtype, unsupported .npy file, a layer that does not exist
  3  storage or I/O failure: permissions, network, disk full, a concurrent writer

Start with:  af demo && af ls demo.af --long";

/// Inspect, convert, check and repair array-format (.af) files.
#[derive(Debug, Parser)]
#[command(name = "af", version, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a sample file with realistic arrays and show what is in it.
    #[command(after_help = "\
Examples:
  af demo                  # writes ./demo.af
  af demo /tmp/climate.af

The file holds a 3-D float32 time series (temperature: time x lat x lon, NaN fill,
units and other attributes), a uint8 land mask, hourly timestamps and station names.
It is written with two flushes (a snapshot, then a delta), so `af layers` has a history.")]
    Demo(DemoArgs),

    /// Summary of a file: layers, arrays, raw and stored bytes, codecs, the file's attributes.
    #[command(after_help = "\
Examples:
  af info demo.af
  af info demo.af --json
  af info demo.af --at 1          # as the file was at layer 1
  af info s3://bucket/data/climate.af")]
    Info(InfoArgs),

    /// List the arrays: dtype, shape, chunks, fill value, stored bytes, compression ratio.
    #[command(after_help = "\
Examples:
  af ls demo.af
  af ls demo.af --long            # adds dimension names, attributes, written chunks, raw bytes
  af ls demo.af --json

Columns (in this order): NAME DTYPE SHAPE CHUNKS FILL CODEC STORED RATIO;
--long: NAME DTYPE SHAPE CHUNKS DIMS FILL ATTRS CODEC WRITTEN RAW STORED RATIO.
CODEC is the codec the array records (every writer of the array uses it), or, in
parentheses when it records none, the codecs its chunks are stored with.")]
    Ls(LsArgs),

    /// Print the values of an array (or of a numpy-like slice of it).
    #[command(after_help = "\
Slices (numpy syntax, one entry per dimension, comma-separated):
  5        one index (the dimension is dropped)     -1   the last one
  2:10     indices 2..9        :10  the first ten    -3:  the last three
  ::4      every fourth        :    everything       ...  all remaining dimensions
Fewer entries than dimensions leave the rest whole. Steps must be positive.

Examples:
  af cat demo.af temperature --slice 0,:4,:6
  af cat demo.af temperature --slice -1,::30,::60 --format csv
  af cat demo.af station_names --format json
  af cat demo.af land_mask --all  # print everything instead of eliding with ...")]
    Cat(CatArgs),

    /// Statistics per array: min, max, null count, element count (read from the
    /// layer footers; no data is read).
    #[command(after_help = "\
Examples:
  af stats demo.af
  af stats demo.af temperature --json
  af stats demo.af temperature --at 1

Columns: NAME DTYPE MIN MAX NULLS COUNT. NULLS counts never-written elements and
elements equal to the fill value.")]
    Stats(StatsArgs),

    /// List, get, set or remove the attributes of an array, or of the file itself (`/`).
    #[command(after_help = "\
Examples:
  af attrs demo.af temperature                    # list all
  af attrs demo.af temperature get units
  af attrs demo.af temperature set units degC
  af attrs demo.af temperature set scale 0.5 --type f32
  af attrs demo.af temperature set valid_range 180,340 --type f64[]
  af attrs demo.af temperature rm history
  af attrs demo.af /                              # the file's own attributes
  af attrs demo.af / set title 'Two days of demo data'

ARRAY is / for the attributes of the file itself (what xarray calls the attributes
of a dataset); they are shown by `af info` too.

Types: bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, string, binary (hex),
and lists of them as TYPE[] (comma-separated values; not binary). Without --type
the value is read as bool, i64, f64 or [list], else as a string.")]
    Attrs(AttrsArgs),

    /// Merge all layers into one snapshot layer.
    #[command(after_help = "\
Examples:
  af compact demo.af
  af compact demo.af --codec zstd:9   # codec for the frames that must be repacked
                                      # (of arrays that record no codec)
  af compact demo.af --retention 0    # delete the replaced layers at once

The layers below the new snapshot are kept for the retention (24h by default), so
that readers elsewhere that opened an earlier version finish, and time travel
reaches them; then this command or af vacuum deletes them.")]
    Compact(CompactArgs),

    /// Check every checksum and decode every chunk; report each damaged frame.
    #[command(after_help = "\
Examples:
  af verify demo.af
  af verify demo.af --json

Exit code 0 when everything checks out, 1 when anything is damaged (one line per
damaged frame on stdout), 2 or 3 when the file cannot be checked at all.")]
    Verify(VerifyArgs),

    /// The history of a file: every layer object, oldest first.
    #[command(after_help = "\
Examples:
  af layers demo.af
  af layers demo.af --json
  af info demo.af --at 1          # open the file as it was at layer 1

Columns: LAYER KIND GEN SIZE CREATED VISIBLE [PARTS] [DAMAGE]. PARTS is how many
staged parts a layer adopted (written by many processes, committed as one layer;
its frames are read in place). Layers below the newest snapshot are history until
`af vacuum` or the next compaction removes them.")]
    Layers(LayersArgs),

    /// Write a NumPy .npy file into an array (creating the file if it is missing).
    #[command(after_help = "\
Examples:
  af import data.af temperature temperature.npy --chunks 24,64,64 --codec zstd:5
  af import data.af temperature temperature.npy --codec pco --filters bitround:12
  af import data.af mask mask.npy --replace         # redefine an existing array
  af import data.af temperature day2.npy --start 24,0,0   # write into an existing array
  af import data.af names names.npy --fill '\"\"'

Supported .npy dtypes: bool, int8..int64, uint8..uint64, float16, float32, float64,
complex64, complex128, datetime64 (stored as timestamp_ns) and unicode strings (<U).
Without --chunks the chunk shape is chosen to hold about 1 MiB. --codec and --filters
make the new array's pipeline, recorded in the file: every later writer of it
(af import --start, a compaction) uses it. Without them an array gets the pipeline
measured best for its dtype (docs/PERFORMANCE.md, W9): pco:8 for numbers of 2 bytes
or more, which stores real fields 1.06-1.92x smaller than HDF5's gzip+shuffle;
shuffle+zstd:3 for bf16 and complex numbers; zstd:3 otherwise. For faster writes, or lossy rounding:
  af import data.af sst sst.npy --codec lz4                  # shuffle+lz4
  af import data.af sst sst.npy --filters bitround:12          # bitround:12+pco:8
To convert NetCDF, HDF5 or Zarr, use Python: pip install arrayformat, then
xarray.open_dataset(...) and arrayformat.to_arrayformat (docs/PYTHON.md).")]
    Import(ImportArgs),

    /// Write an array (or a slice of it) to a NumPy .npy file.
    #[command(after_help = "\
Examples:
  af export demo.af temperature temperature.npy
  af export demo.af temperature day1.npy --slice 0:24
  af export demo.af temperature old.npy --at 1

Strings are written as unicode (<U), timestamps as datetime64[ns]; binary arrays
cannot be exported to .npy. Data is streamed: memory stays bounded.")]
    Export(ExportArgs),

    /// Copy a file, rewriting every array (e.g. with another codec).
    #[command(after_help = "\
Examples:
  af cp demo.af demo-zstd.af --codec zstd:9
  af cp demo.af demo-pco.af --codec pco
  af cp demo.af s3://bucket/climate.af
  af cp demo.af small-blocks.af --block-size 1M --frame-size 64K
  af cp demo.af demo-v2.af --at 1       # copy an old version

Arrays are copied in chunk-aligned slabs of bounded size, with their dimension
names, fill values, attributes and recorded pipelines (--codec/--filters record
theirs for every array instead), and so are the file's own attributes; chunks never written
stay unwritten. The copy is committed as one layer.")]
    Cp(CpArgs),

    /// Delete layer objects no version needs any more (history below the newest snapshot).
    #[command(after_help = "\
Examples:
  af vacuum demo.af
  af vacuum demo.af --retention 0       # also the layers the last compaction replaced
  af vacuum demo.af --part-grace 2h     # staged parts no layer adopted, older than 2 hours

Layers a compaction replaced are deleted once the compaction is older than the
retention (24h by default): readers elsewhere of an earlier version read them.

Also removes staging leftovers of interrupted commits older than an hour, and
staged parts (demo.parts/*.af) that no layer adopted once older than the grace
period (24h by default): parts of a run still in progress are adopted by no layer
until it commits, so keep the grace longer than the longest run.")]
    Vacuum(VacuumArgs),
}

/// `af demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to write the sample file.
    #[arg(default_value = "demo.af")]
    pub path: String,
}

/// Read-only options shared by the inspection commands.
#[derive(Debug, Args, Clone, Copy)]
pub struct AtArg {
    /// Open the file as it was at layer N (see `af layers`); read-only.
    #[arg(long, value_name = "N", global = true)]
    pub at: Option<u64>,
}

/// `af info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The file (local path or URL).
    pub path: String,
    #[command(flatten)]
    pub at: AtArg,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `af ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// The file (local path or URL).
    pub path: String,
    /// More columns: dimension names, attribute count, written chunks, raw bytes.
    #[arg(long, short = 'l')]
    pub long: bool,
    #[command(flatten)]
    pub at: AtArg,
    /// Print JSON (always with every field).
    #[arg(long)]
    pub json: bool,
}

/// Output formats of `af cat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CatFormat {
    /// numpy-like nested brackets; large arrays elided with `...` unless --all.
    Text,
    /// one line per row of the last dimension, no header.
    Csv,
    /// nested JSON arrays (NaN and infinities as null).
    Json,
}

/// `af cat`.
#[derive(Debug, Args)]
pub struct CatArgs {
    /// The file (local path or URL).
    pub path: String,
    /// The array.
    pub array: String,
    /// numpy-like selection, e.g. `0:10,5,:` or `-1,::2`.
    #[arg(long, short = 's', allow_hyphen_values = true)]
    pub slice: Option<String>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = CatFormat::Text)]
    pub format: CatFormat,
    /// Print every value (text format) instead of eliding large arrays with `...`.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub at: AtArg,
}

/// `af stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The file (local path or URL).
    pub path: String,
    /// Only this array.
    pub array: Option<String>,
    #[command(flatten)]
    pub at: AtArg,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `af attrs`.
#[derive(Debug, Args)]
pub struct AttrsArgs {
    /// The file (local path or URL).
    pub path: String,
    /// The array, or `/` for the attributes of the file itself.
    #[arg(value_name = "ARRAY|/")]
    pub array: String,
    /// What to do (default: list every attribute).
    #[command(subcommand)]
    pub action: Option<AttrAction>,
    #[command(flatten)]
    pub at: AtArg,
    /// Print JSON (list and get).
    #[arg(long, global = true)]
    pub json: bool,
}

/// `af attrs ... get|set|rm`.
#[derive(Debug, Subcommand)]
pub enum AttrAction {
    /// Print one attribute's value (strings without quotes).
    Get {
        /// Attribute key.
        key: String,
    },
    /// Set an attribute (committed at once).
    Set {
        /// Attribute key.
        key: String,
        /// The value; lists are comma-separated (`1,2,3` or `[1, 2, 3]`).
        #[arg(allow_hyphen_values = true)]
        value: String,
        /// Value type: bool, i8..i64, u8..u64, f32, f64, string, binary, or TYPE[] for a list.
        #[arg(long = "type", short = 't', value_name = "TYPE")]
        ty: Option<String>,
    },
    /// Remove an attribute (committed at once).
    Rm {
        /// Attribute key.
        key: String,
    },
}

/// `af compact`.
#[derive(Debug, Args)]
pub struct CompactArgs {
    /// The file (local path or URL).
    pub path: String,
    /// Codec for repacked frames of arrays that record no codec: none, lz4, zstd or
    /// zstd:LEVEL (default: the file's). Arrays that record one keep it.
    #[arg(long, value_parser = BuiltinCodec::parse)]
    pub codec: Option<BuiltinCodec>,
    #[command(flatten)]
    pub retention: RetentionArg,
}

/// How long replaced layers are kept (`af compact`, `af vacuum`).
#[derive(Debug, Args)]
pub struct RetentionArg {
    /// Keep the layers a compaction replaced until it is older than this:
    /// `90s`, `30m`, `2h`, `1d`, `0` (a bare number is seconds).
    #[arg(long = "retention", value_name = "AGE", default_value = "24h", value_parser = parse_age)]
    pub age: std::time::Duration,
}

/// `af verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The file (local path or URL).
    pub path: String,
    #[command(flatten)]
    pub at: AtArg,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `af layers`.
#[derive(Debug, Args)]
pub struct LayersArgs {
    /// The file (local path or URL).
    pub path: String,
    /// Mark the layers visible as of layer N.
    #[command(flatten)]
    pub at: AtArg,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `af import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file (local path or URL); created if missing.
    pub path: String,
    /// The array to create (or, with --start, to write into).
    pub array: String,
    /// The .npy file to read.
    pub npy: std::path::PathBuf,
    /// Chunk shape, one entry per dimension (e.g. 64,64).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub chunks: Option<Vec<usize>>,
    /// Codec of the new array: zstd:LEVEL (zstd is level 3), lz4, pco:LEVEL (pco is
    /// level 8), none, or a whole pipeline (e.g. bitround:10+shuffle+zstd:5). Recorded in
    /// the file with the filters, so that every writer of the array uses them. Default:
    /// pco:8 for numbers of 2 bytes or more (zstd:3 with --filters delta or shuffle),
    /// zstd:3 otherwise.
    #[arg(long)]
    pub codec: Option<String>,
    /// Filters run before the codec, in this order: bitround:N (floats: keep N mantissa
    /// bits; lossy), delta (integers, times), shuffle. `--filters none` for none.
    /// Default: shuffle for numbers of 2 bytes or more with lz4 and zstd.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub filters: Option<Vec<String>>,
    /// Dimension names, one per dimension (e.g. time,lat,lon).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub dims: Option<Vec<String>>,
    /// Fill value for never-written elements (a number, true/false, nan, or a JSON string).
    #[arg(long, allow_hyphen_values = true)]
    pub fill: Option<String>,
    /// Replace the array if it already exists.
    #[arg(long, conflicts_with = "start")]
    pub replace: bool,
    /// Write into the existing array at this offset instead of creating it (e.g. 24,0,0).
    #[arg(long, value_delimiter = ',', num_args = 1.., conflicts_with_all = ["chunks", "dims", "fill"])]
    pub start: Option<Vec<u64>>,
}

/// `af export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The file (local path or URL).
    pub path: String,
    /// The array.
    pub array: String,
    /// The .npy file to write (replaced if it exists).
    pub npy: std::path::PathBuf,
    /// Export only this numpy-like selection (see `af cat --help`).
    #[arg(long, short = 's', allow_hyphen_values = true)]
    pub slice: Option<String>,
    #[command(flatten)]
    pub at: AtArg,
}

/// `af cp`.
#[derive(Debug, Args)]
pub struct CpArgs {
    /// The file to copy (local path or URL).
    pub src: String,
    /// The new file (local path or URL).
    pub dst: String,
    /// Codec of the copy, recorded for every array with --filters (as af import takes
    /// them, the defaults chosen per array's dtype). Without both, each array keeps the
    /// pipeline it records (if any), and the others are written with the source's codec.
    #[arg(long)]
    pub codec: Option<String>,
    /// Filters of the copy's arrays (see af import --help).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub filters: Option<Vec<String>>,
    /// Target decompressed size of a block (e.g. 8M; default 8 MiB).
    #[arg(long, value_parser = parse_size)]
    pub block_size: Option<usize>,
    /// Target decompressed size of a frame, the smallest read (e.g. 16K; default 16 KiB).
    #[arg(long, value_parser = parse_size)]
    pub frame_size: Option<usize>,
    /// Replace DST if it exists.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub at: AtArg,
}

/// `af vacuum`.
#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// The file (local path or URL).
    pub path: String,
    /// Delete staged parts no layer adopted once older than this: `90s`,
    /// `30m`, `2h`, `1d` (a bare number is seconds).
    #[arg(long, value_name = "AGE", default_value = "24h", value_parser = parse_age)]
    pub part_grace: std::time::Duration,
    #[command(flatten)]
    pub retention: RetentionArg,
}

/// Parses an age: a number with an optional unit `s`, `m`, `h` or `d`.
pub fn parse_age(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => t.split_at(at),
        None => (t, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not an age such as 90s, 30m, 2h or 1d"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: the unit must be s, m, h or d")),
    };
    n.checked_mul(secs)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too long an age"))
}

/// Parses a byte size: `4096`, `64K`, `8M`, `1G` (binary units; a trailing
/// `B`/`iB` is allowed).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let body = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (digits, mult) = if let Some(d) = body.strip_suffix('k') {
        (d, 1usize << 10)
    } else if let Some(d) = body.strip_suffix('m') {
        (d, 1 << 20)
    } else if let Some(d) = body.strip_suffix('g') {
        (d, 1 << 30)
    } else {
        (body, 1)
    };
    let n: usize = digits
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size (examples: 4096, 64K, 8M, 1G)"))?;
    let size = n
        .checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))?;
    if size == 0 {
        return Err("the size must be at least 1 byte".into());
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn ages() {
        use std::time::Duration;
        assert_eq!(parse_age("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_age("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_age("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_age("0"), Ok(Duration::ZERO));
        for bad in ["", "h", "2w", "-1h", "1.5h", "99999999999999999999d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
