//! Workload drivers for array-format and its 0.10 release. Both crates have
//! the same public API, so one macro body drives either: `af_drivers!(ours,
//! array_format, open_path)` and `af_drivers!(v010, af010, open_store)`
//! expand the same code against each crate (0.10 has no `open_path`).

/// Evaluates `$body` with `$c` bound to crate `$k`'s codec for `$codec`
/// (a [`Codec`](crate::zarrs_peer::Codec)): the codec types differ per crate.
#[macro_export]
macro_rules! with_codec {
    ($k:ident, $codec:expr, $c:ident => $body:expr) => {
        match $codec {
            $crate::zarrs_peer::Codec::None => {
                let $c = $k::NoCompression;
                $body
            }
            $crate::zarrs_peer::Codec::Lz4 => {
                let $c = $k::Lz4Codec;
                $body
            }
            $crate::zarrs_peer::Codec::Zstd(level) => {
                let $c = $k::ZstdCodec { level };
                $body
            }
        }
    };
}

/// Opens the bench file in a local directory: with `open_path` (layers read
/// with `pread`) for versions that have it, else through `object_store`'s
/// `LocalFileSystem`.
#[macro_export]
macro_rules! af_open_local {
    (open_path, $k:ident, $dir:expr, $config:expr) => {
        $k::ArrayFile::open_path($dir.join("bench.af"), $config).await
    };
    (open_store, $k:ident, $dir:expr, $config:expr) => {
        $k::ArrayFile::open(store($dir), path(), $config).await
    };
}

/// Expands a module `$m` of workload drivers written against crate `$k`;
/// `$local` is how it opens local files (see [`af_open_local`]).
#[macro_export]
macro_rules! af_drivers {
    ($m:ident, $k:ident, $local:ident) => {
        /// Workload drivers for one array-format version.
        pub mod $m {
            use std::path::Path;
            use std::sync::Arc;
            use std::time::Instant;

            use futures::StreamExt;
            use object_store::ObjectStore;
            use object_store::local::LocalFileSystem;

            use $crate::zarrs_peer::Codec;
            use $k::{ArrayFile, CompressionCodec, FileConfig};

            /// The seeds' block size and cache.
            pub const BLOCK_TARGET: usize = 4 * 1024 * 1024;
            /// The seeds' cache size.
            pub const CACHE_SIZE: usize = 256 * 1024 * 1024;

            $crate::af_remote_drivers!($k);

            fn store(dir: &Path) -> Arc<dyn ObjectStore> {
                Arc::new(LocalFileSystem::new_with_prefix(dir).expect("local store"))
            }

            fn path() -> object_store::path::Path {
                object_store::path::Path::from("bench.af")
            }

            /// A configuration like the seeds' profile.
            pub fn config<C: CompressionCodec + 'static>(codec: C) -> FileConfig<C> {
                FileConfig {
                    block_target_size: BLOCK_TARGET,
                    cache_capacity: CACHE_SIZE,
                    ..FileConfig::new(codec)
                }
            }

            /// Creates a file in `dir`.
            pub async fn create<C: CompressionCodec + 'static>(
                dir: &Path,
                config: FileConfig<C>,
            ) -> ArrayFile {
                ArrayFile::create(store(dir), path(), config)
                    .await
                    .expect("create")
            }

            /// Opens the file in `dir`.
            pub async fn open<C: CompressionCodec + 'static>(
                dir: &Path,
                config: FileConfig<C>,
            ) -> ArrayFile {
                $crate::af_open_local!($local, $k, dir, config).expect("open")
            }

            /// Name of the `i`-th W1 array.
            pub fn name(i: usize) -> String {
                format!("arr_{i:05}")
            }

            /// Defines and writes the W1 arrays (one chunk each) into `file`;
            /// returns the seconds spent.
            pub async fn write_arrays(file: &mut ArrayFile, arrays: &[Vec<i32>]) -> f64 {
                let t = Instant::now();
                for (i, values) in arrays.iter().enumerate() {
                    let name = name(i);
                    let nd = ndarray::ArrayView::from_shape(vec![values.len()], values)
                        .expect("shape")
                        .into_dyn();
                    file.define_array::<i32>(
                        &name,
                        vec!["x".into()],
                        vec![values.len()],
                        None,
                        None,
                    )
                    .expect("define");
                    file.write_array(&name, vec![0], nd).await.expect("write");
                }
                t.elapsed().as_secs_f64()
            }

            /// W1 write: seconds for (write, flush, compact) of `arrays` into a
            /// new file in `dir`.
            pub async fn w1_write(
                dir: &Path,
                codec: Codec,
                arrays: &[Vec<i32>],
            ) -> (f64, f64, f64) {
                let mut file = $crate::with_codec!($k, codec, c => create(dir, config(c)).await);
                let write = write_arrays(&mut file, arrays).await;
                let (flush, compact) = flush_and_compact(&mut file).await;
                (write, flush, compact)
            }

            /// Seconds to flush `file`, then to compact it.
            pub async fn flush_and_compact(file: &mut ArrayFile) -> (f64, f64) {
                let t = Instant::now();
                file.flush().await.expect("flush");
                let flush = t.elapsed().as_secs_f64();
                let t = Instant::now();
                file.compact().await.expect("compact");
                (flush, t.elapsed().as_secs_f64())
            }

            /// Reads arrays `0..n` whole, `parallelism` tasks of `concurrency`
            /// reads each, as the seeds' profile does; returns the bytes read.
            pub async fn read_all(
                file: Arc<ArrayFile>,
                n: usize,
                parallelism: usize,
                concurrency: usize,
            ) -> u64 {
                let mut tasks = Vec::with_capacity(parallelism);
                for part in $crate::partitions(n, parallelism) {
                    let file = Arc::clone(&file);
                    tasks.push(tokio::spawn(async move {
                        let mut bytes = 0u64;
                        let mut reads = futures::stream::iter(part)
                            .map(|i| {
                                let file = Arc::clone(&file);
                                async move {
                                    file.read_array::<i32>(&name(i), vec![], vec![])
                                        .await
                                        .expect("read")
                                        .len()
                                }
                            })
                            .buffered(concurrency);
                        while let Some(len) = reads.next().await {
                            bytes += len as u64 * 4;
                        }
                        bytes
                    }));
                }
                let mut total = 0;
                for t in tasks {
                    total += t.await.expect("read task");
                }
                total
            }

            /// Seconds to open the file in `dir`.
            pub async fn w1_open(dir: &Path, codec: Codec) -> f64 {
                let t = Instant::now();
                let file = $crate::with_codec!($k, codec, c => open(dir, config(c)).await);
                let s = t.elapsed().as_secs_f64();
                drop(file);
                s
            }

            /// W1 read from disk: seconds to read all `n` arrays (24 x 8)
            /// through a freshly opened handle (open excluded).
            pub async fn w1_read_disk(dir: &Path, codec: Codec, n: usize) -> f64 {
                let file = Arc::new($crate::with_codec!($k, codec, c => open(dir, config(c)).await));
                let t = Instant::now();
                let bytes = read_all(file, n, 24, 8).await;
                assert!(bytes > 0);
                t.elapsed().as_secs_f64()
            }

            /// [`w1_read_disk`] with the file opened through `object_store`'s
            /// `LocalFileSystem`, as the seeds' API does.
            pub async fn w1_read_disk_via_store(dir: &Path, codec: Codec, n: usize) -> f64 {
                let file = $crate::with_codec!($k, codec, c => ArrayFile::open(store(dir), path(), config(c)).await)
                    .expect("open");
                let file = Arc::new(file);
                let t = Instant::now();
                let bytes = read_all(file, n, 24, 8).await;
                assert!(bytes > 0);
                t.elapsed().as_secs_f64()
            }

            /// W1 read in memory: writes `arrays` into an in-memory file,
            /// flushes, then returns the seconds of reading all of them.
            pub async fn w1_read_memory(
                codec: Codec,
                arrays: &[Vec<i32>],
                reps: usize,
            ) -> Vec<f64> {
                let mut file = $crate::with_codec!($k, codec, c => ArrayFile::create_memory(config(c))
                    .await
                    .expect("create_memory"));
                write_arrays(&mut file, arrays).await;
                file.flush().await.expect("flush");
                let file = Arc::new(file);
                let mut times = Vec::new();
                for _ in 0..reps {
                    let t = Instant::now();
                    read_all(Arc::clone(&file), arrays.len(), 24, 8).await;
                    times.push(t.elapsed().as_secs_f64());
                }
                times
            }

            /// Cold random reads: opens the file fresh and reads each of
            /// `rows` once, in turn; mean seconds per read (open excluded).
            pub async fn w1_cold_random(dir: &Path, codec: Codec, rows: &[usize]) -> f64 {
                let file = $crate::with_codec!($k, codec, c => open(dir, config(c)).await);
                let t = Instant::now();
                for &i in rows {
                    let a = file
                        .read_array::<i32>(&name(i), vec![], vec![])
                        .await
                        .expect("read");
                    std::hint::black_box(a);
                }
                t.elapsed().as_secs_f64() / rows.len().max(1) as f64
            }

            // ---- W2 and W4: one large 2-D f32 grid ---------------------------

            /// Name of the W2/W4 grid array.
            pub const GRID: &str = "grid";

            /// The W2/W4 codec: zstd at the peers' level.
            fn grid_codec() -> $k::ZstdCodec {
                $k::ZstdCodec {
                    level: $crate::zarrs_peer::W2_ZSTD_LEVEL,
                }
            }

            /// Opens the file `bench.af` of `store` (any object store, e.g.
            /// one that counts the bytes read), with the default caches or,
            /// if `caches` is false, with both caches off.
            pub async fn open_store(store: Arc<dyn ObjectStore>, caches: bool) -> ArrayFile {
                ArrayFile::open(store, path(), grid_config(caches))
                    .await
                    .expect("open")
            }

            /// Opens the grid file in `dir` the way this version reads a
            /// local file best (`open_path` where it has it), with the
            /// default caches or with both off.
            pub async fn open_grid_local(dir: &Path, caches: bool) -> ArrayFile {
                $crate::af_open_local!($local, $k, dir, grid_config(caches)).expect("open")
            }

            fn grid_config(caches: bool) -> FileConfig<impl CompressionCodec + 'static> {
                if caches {
                    FileConfig::new(grid_codec())
                } else {
                    FileConfig {
                        cache_capacity: 0,
                        io_cache_capacity: 0,
                        cache: None,
                        ..FileConfig::new(grid_codec())
                    }
                }
            }

            /// Writes the whole `[side, side]` grid into `file` by bands of
            /// `chunk` rows; row `r` is `f32_signal(r, side)`. Returns the
            /// seconds spent in `write_array` (generation excluded).
            async fn write_grid(file: &mut ArrayFile, side: usize, chunk: usize) -> f64 {
                file.define_array::<f32>(
                    GRID,
                    vec!["y".into(), "x".into()],
                    vec![side, side],
                    Some(vec![chunk, chunk]),
                    None,
                )
                .expect("define");
                let mut secs = 0.0;
                for r0 in (0..side).step_by(chunk) {
                    let r1 = (r0 + chunk).min(side);
                    let mut band = Vec::with_capacity((r1 - r0) * side);
                    for r in r0..r1 {
                        band.extend_from_slice(&$crate::f32_signal(r as u64, side));
                    }
                    let view = ndarray::ArrayView::from_shape(vec![r1 - r0, side], &band)
                        .expect("shape")
                        .into_dyn();
                    let t = Instant::now();
                    file.write_array(GRID, vec![r0, 0], view)
                        .await
                        .expect("write a band");
                    secs += t.elapsed().as_secs_f64();
                }
                secs
            }

            /// W2 write: creates the `[side, side]` f32 grid (chunks
            /// `[chunk, chunk]`, zstd level 3, default configuration) in a
            /// new file in `dir`, writes it by bands of `chunk` rows, flushes
            /// and compacts. Returns the seconds of (write, flush, compact).
            pub async fn w2_write(dir: &Path, side: usize, chunk: usize) -> (f64, f64, f64) {
                let mut file = create(dir, FileConfig::new(grid_codec())).await;
                let write = write_grid(&mut file, side, chunk).await;
                let (flush, compact) = flush_and_compact(&mut file).await;
                (write, flush, compact)
            }

            /// W2 windows: reads each `[chunk, chunk]` window whose origin is
            /// listed in `windows` through `file`, in turn, and returns the
            /// seconds each took. The first window is checked against the
            /// values written.
            pub async fn w2_windows(
                file: &ArrayFile,
                side: usize,
                windows: &[(usize, usize)],
                chunk: usize,
            ) -> Vec<f64> {
                let mut times = Vec::with_capacity(windows.len());
                for (i, &(r0, c0)) in windows.iter().enumerate() {
                    let t = Instant::now();
                    let w = file
                        .read_array::<f32>(GRID, vec![r0, c0], vec![chunk, chunk])
                        .await
                        .expect("read a window");
                    times.push(t.elapsed().as_secs_f64());
                    if i == 0 {
                        for (r, row) in w.outer_iter().enumerate() {
                            let want = $crate::f32_signal((r0 + r) as u64, side);
                            assert!(
                                row.iter().eq(want[c0..c0 + chunk].iter()),
                                "W2 window ({r0}, {c0}) differs in row {r}"
                            );
                        }
                    }
                }
                times
            }

            /// W4 values of the `j`-th block rewritten by flush `round`.
            fn w4_block(round: usize, j: usize, chunk: usize) -> Vec<f32> {
                $crate::f32_signal(1_000_000 + (round * 10_000 + j) as u64, chunk * chunk)
            }

            /// W4 build: writes the W2 grid into a new file in `dir` and
            /// flushes it (no compaction), then for each entry of `rounds`
            /// rewrites the listed chunks (grid coordinates, in units of
            /// `chunk`) with new values and flushes. Returns the seconds of
            /// all writes and flushes and the number of layers afterwards.
            pub async fn w4_build(
                dir: &Path,
                side: usize,
                chunk: usize,
                rounds: &[Vec<(usize, usize)>],
            ) -> (f64, usize) {
                let mut file = create(dir, FileConfig::new(grid_codec())).await;
                let mut secs = write_grid(&mut file, side, chunk).await;
                let t = Instant::now();
                file.flush().await.expect("flush");
                secs += t.elapsed().as_secs_f64();
                for (round, blocks) in rounds.iter().enumerate() {
                    for (j, &(br, bc)) in blocks.iter().enumerate() {
                        let v = w4_block(round, j, chunk);
                        let view = ndarray::ArrayView::from_shape(vec![chunk, chunk], &v)
                            .expect("shape")
                            .into_dyn();
                        let t = Instant::now();
                        file.write_array(GRID, vec![br * chunk, bc * chunk], view)
                            .await
                            .expect("rewrite a block");
                        secs += t.elapsed().as_secs_f64();
                    }
                    let t = Instant::now();
                    file.flush().await.expect("flush");
                    secs += t.elapsed().as_secs_f64();
                }
                (secs, file.num_layers())
            }

            /// Seconds to open the file in `dir` (default configuration) and
            /// its number of layers.
            pub async fn timed_open(dir: &Path) -> (f64, usize) {
                let t = Instant::now();
                let file = open(dir, FileConfig::new(grid_codec())).await;
                let s = t.elapsed().as_secs_f64();
                (s, file.num_layers())
            }

            /// W4 full read: opens the file in `dir` afresh (not timed) and
            /// reads the whole grid. Returns the seconds of the read and a
            /// hash of the values (to compare systems and layouts).
            pub async fn w4_read_whole(dir: &Path) -> (f64, u64) {
                let file = open(dir, FileConfig::new(grid_codec())).await;
                let t = Instant::now();
                let a = file
                    .read_array::<f32>(GRID, vec![], vec![])
                    .await
                    .expect("read the grid");
                let s = t.elapsed().as_secs_f64();
                let hash = a.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
                    (h ^ u64::from(v.to_bits())).wrapping_mul(0x0100_0000_01b3)
                });
                (s, hash)
            }

            /// Opens the file in `dir` and compacts it; returns the seconds
            /// of the compaction.
            pub async fn timed_compact(dir: &Path) -> f64 {
                let mut file = open(dir, FileConfig::new(grid_codec())).await;
                let t = Instant::now();
                file.compact().await.expect("compact");
                t.elapsed().as_secs_f64()
            }

            // ---- W3: ingest of a 3-D array by unaligned slabs ----------------

            /// W3 ingest: creates a `shape` f32 array with `chunks` and `codec`
            /// (default configuration otherwise) in a new file in `dir`, writes
            /// the `slabs` (start, shape) in order, slab `k` holding
            /// `f32_signal(k, elements)` generated just before its write, and
            /// flushes. Returns the seconds of the `write_array` and `flush`
            /// calls, the growth of the peak resident set during the ingest,
            /// in bytes, and the bytes the file occupies afterwards.
            pub async fn w3_ingest(
                dir: &Path,
                codec: Codec,
                shape: [usize; 3],
                chunks: [usize; 3],
                slabs: &[([usize; 3], [usize; 3])],
            ) -> (f64, u64, u64) {
                let rss_before = $crate::current_rss();
                $crate::reset_peak_rss();
                let mut file =
                    $crate::with_codec!($k, codec, c => create(dir, FileConfig::new(c)).await);
                file.define_array::<f32>(
                    "volume",
                    vec!["z".into(), "y".into(), "x".into()],
                    shape.to_vec(),
                    Some(chunks.to_vec()),
                    None,
                )
                .expect("define");
                let mut secs = 0.0;
                for (k, (start, sh)) in slabs.iter().enumerate() {
                    let values = $crate::f32_signal(k as u64, sh.iter().product());
                    let view = ndarray::ArrayView::from_shape(sh.to_vec(), &values)
                        .expect("shape")
                        .into_dyn();
                    let t = Instant::now();
                    file.write_array("volume", start.to_vec(), view)
                        .await
                        .expect("write a slab");
                    secs += t.elapsed().as_secs_f64();
                }
                let t = Instant::now();
                file.flush().await.expect("flush");
                secs += t.elapsed().as_secs_f64();
                let growth = $crate::peak_rss().saturating_sub(rss_before);
                drop(file);
                (secs, growth, $crate::dir_bytes(dir))
            }

            // ---- W5: many tiny arrays with attributes -------------------------

            /// Name of the `i`-th W5 array.
            pub fn w5_name(i: usize) -> String {
                format!("meta_{i:06}")
            }

            /// Key of the `j`-th W5 attribute.
            pub fn w5_key(j: usize) -> String {
                format!("attr_{j:02}")
            }

            /// W5 build: in a new file in `dir`, defines `n` 1-D i32 arrays of
            /// 4 elements (one chunk), writes each and sets `attrs` attributes
            /// on each (Int64, Float64 and String in turn; attribute `j` of
            /// array `i` depends on `(i % distinct, j)`), then flushes and
            /// compacts. Returns the seconds of (define + write + attributes,
            /// flush, compact).
            pub async fn w5_build(
                dir: &Path,
                n: usize,
                attrs: usize,
                distinct: usize,
            ) -> (f64, f64, f64) {
                use $k::AttributeValue;
                let mut file = create(dir, FileConfig::new($k::Lz4Codec)).await;
                let t = Instant::now();
                for i in 0..n {
                    let name = w5_name(i);
                    file.define_array::<i32>(&name, vec!["x".into()], vec![4], None, None)
                        .expect("define");
                    let v: Vec<i32> = (0..4).map(|e| (i * 4 + e) as i32).collect();
                    let view = ndarray::ArrayView::from_shape(vec![4], &v)
                        .expect("shape")
                        .into_dyn();
                    file.write_array(&name, vec![0], view).await.expect("write");
                    let v = i % distinct.max(1);
                    for j in 0..attrs {
                        let value = match j % 3 {
                            0 => AttributeValue::Int64((v * attrs + j) as i64),
                            1 => AttributeValue::Float64(v as f64 + j as f64 * 0.5),
                            _ => AttributeValue::String(format!("value {v} {j}")),
                        };
                        file.set_attribute(&name, &w5_key(j), value)
                            .expect("set an attribute");
                    }
                }
                let write = t.elapsed().as_secs_f64();
                let (flush, compact) = flush_and_compact(&mut file).await;
                (write, flush, compact)
            }

            /// Opens the W5 file in `dir` (default configuration); returns the
            /// seconds taken and the handle.
            pub async fn w5_open(dir: &Path) -> (f64, ArrayFile) {
                let t = Instant::now();
                let file = open(dir, FileConfig::new($k::Lz4Codec)).await;
                (t.elapsed().as_secs_f64(), file)
            }

            /// Seconds of one `list_arrays` call on `file`, checking that it
            /// lists `n` arrays.
            pub fn w5_list(file: &ArrayFile, n: usize) -> f64 {
                let t = Instant::now();
                let list = file.list_arrays();
                let s = t.elapsed().as_secs_f64();
                assert_eq!(list.len(), n, "list_arrays");
                s
            }

            /// Mean seconds per `get_array` call over `names`.
            pub fn w5_get_array(file: &ArrayFile, names: &[String]) -> f64 {
                let t = Instant::now();
                let mut found = 0usize;
                for name in names {
                    found += usize::from(std::hint::black_box(file.get_array(name)).is_ok());
                }
                let s = t.elapsed().as_secs_f64();
                assert_eq!(found, names.len(), "get_array missed arrays");
                s / names.len().max(1) as f64
            }

            /// Mean seconds per `get_attribute` call over `pairs` of (array,
            /// key).
            pub fn w5_get_attribute(file: &ArrayFile, pairs: &[(String, String)]) -> f64 {
                let t = Instant::now();
                let mut found = 0usize;
                for (name, key) in pairs {
                    let v = file.get_attribute(name, key).expect("get_attribute");
                    found += usize::from(std::hint::black_box(v).is_some());
                }
                let s = t.elapsed().as_secs_f64();
                assert_eq!(found, pairs.len(), "get_attribute missed attributes");
                s / pairs.len().max(1) as f64
            }
        }
    };
}
