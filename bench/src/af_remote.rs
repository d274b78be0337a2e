//! W6 drivers for array-format on any object store: the W1 and W2 files
//! written to and opened from a store the caller passes (a bucket of an S3
//! server behind counting wrappers), where the drivers of
//! [`af_drivers`](crate::af_drivers) use a local directory. Expanded by
//! `af_drivers!` inside each version's module as `remote`
//! (`ours::remote`, `v010::remote`), so one body drives both versions and
//! shares their W1 and W2 code (configuration, writers, grid codec).

/// Expands module `remote` of W6 drivers written against crate `$k`;
/// expanded inside the module `af_drivers!` makes for `$k`.
#[macro_export]
macro_rules! af_remote_drivers {
    ($k:ident) => {
        /// W1 and W2 on an object store passed in.
        pub mod remote {
            use std::sync::Arc;
            use std::time::Instant;

            use object_store::ObjectStore;
            use $k::{ArrayFile, FileConfig};

            use $crate::zarrs_peer::Codec;

            /// Creates `bench.af` in `store` with W1's configuration,
            /// writes `arrays`, flushes and compacts; returns the seconds
            /// of (write, flush, compact).
            pub async fn w1_write(
                store: Arc<dyn ObjectStore>,
                codec: Codec,
                arrays: &[Vec<i32>],
            ) -> (f64, f64, f64) {
                let mut file = $crate::with_codec!($k, codec, c => {
                    ArrayFile::create(store, super::path(), super::config(c))
                        .await
                        .expect("create")
                });
                let write = super::write_arrays(&mut file, arrays).await;
                let (flush, compact) = super::flush_and_compact(&mut file).await;
                (write, flush, compact)
            }

            /// Opens `bench.af` of `store` with W1's configuration; returns
            /// the seconds taken and the handle.
            pub async fn w1_open(store: Arc<dyn ObjectStore>, codec: Codec) -> (f64, ArrayFile) {
                let t = Instant::now();
                let file = $crate::with_codec!($k, codec, c => {
                    ArrayFile::open(store, super::path(), super::config(c))
                        .await
                        .expect("open")
                });
                (t.elapsed().as_secs_f64(), file)
            }

            /// Seconds to read W1 array `i` whole through `file`, checking
            /// its length.
            pub async fn w1_read_one(file: &ArrayFile, i: usize, len: usize) -> f64 {
                let t = Instant::now();
                let a = file
                    .read_array::<i32>(&super::name(i), vec![], vec![])
                    .await
                    .expect("read");
                let s = t.elapsed().as_secs_f64();
                assert_eq!(a.len(), len, "W1 array {i}");
                s
            }

            /// Creates `bench.af` in `store` holding the W2 grid (written
            /// by bands, default configuration), flushes and compacts;
            /// returns the seconds of (write, flush, compact).
            pub async fn w2_write(
                store: Arc<dyn ObjectStore>,
                side: usize,
                chunk: usize,
            ) -> (f64, f64, f64) {
                let mut file =
                    ArrayFile::create(store, super::path(), FileConfig::new(super::grid_codec()))
                        .await
                        .expect("create");
                let write = super::write_grid(&mut file, side, chunk).await;
                let (flush, compact) = super::flush_and_compact(&mut file).await;
                (write, flush, compact)
            }

            /// Seconds to read the `chunk x chunk` window at `(r0, c0)`.
            pub async fn w2_window(file: &ArrayFile, r0: usize, c0: usize, chunk: usize) -> f64 {
                let t = Instant::now();
                let w = file
                    .read_array::<f32>(super::GRID, vec![r0, c0], vec![chunk, chunk])
                    .await
                    .expect("read a window");
                let s = t.elapsed().as_secs_f64();
                assert_eq!(w.len(), chunk * chunk);
                s
            }
        }
    };
}
