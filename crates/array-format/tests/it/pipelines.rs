//! Pipelines of filters and a codec recorded per array: every fixed-width
//! element type through every pipeline that suits it round-trips exactly
//! (small chunks sharing frames and large chunks with frames of their own,
//! aligned and unaligned writes, after reopening, after compaction, read by
//! a handle configured with another codec), frames record the block codec
//! the pipeline resolves to, `bitround` stores rounded values that reads
//! and statistics agree on, and pipelines that do not suit an element type
//! are typed errors at define time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use array_format::{
    ArrayElement, ArrayFile, ArraySpec, DType, Error, FileConfig, FillValue, Lz4Codec,
    NoCompression, Pipeline, StatValue, TimestampNs, ZstdCodec,
};
use array_format::{half, num_complex::Complex};
use ndarray::{ArrayD, IxDyn};

use crate::common::Place;

/// Pipelines every fixed-width type is tried with, where they suit it.
const PIPELINES: [&str; 9] = [
    "shuffle+zstd:3",
    "shuffle+lz4",
    "delta+shuffle+zstd:3",
    "delta+lz4",
    "shuffle+none",
    "pco",
    "pco:0",
    "bitround:9+shuffle+zstd:3",
    "bitround:5+pco",
];

/// 40 x 30 values: a smooth field with some noise, so every filter has
/// something to do.
fn field<T>(f: impl Fn(f64) -> T) -> ArrayD<T> {
    ArrayD::from_shape_fn(IxDyn(&[40, 30]), |ix| {
        let (i, j) = (ix[0] as f64, ix[1] as f64);
        f(100.0 + 20.0 * (i / 7.0).sin() * (j / 5.0).cos() + ((i * 31.0 + j * 17.0) % 3.0))
    })
}

/// Writes `data` into arrays of every pipeline that suits `T`, chunked
/// small (shared frames) and large (own frames), whole and in unaligned
/// pieces; checks what is read back before and after reopening and
/// compaction, and the block codecs the frames record.
async fn round_trip<T: ArrayElement>(data: ArrayD<T>) {
    let place = Place::kind(af_testkit::Kind::Memory).named("pipelines.af");
    let config = || FileConfig {
        frame_target_size: 2048,
        ..FileConfig::new(Lz4Codec)
    };
    let mut f = place.create_with(config()).await;
    let mut expected = Vec::new();
    for spec in PIPELINES {
        let pipeline = Pipeline::parse(spec).unwrap();
        if pipeline.check_dtype(T::DTYPE).is_err() {
            continue;
        }
        // What a reader gets back: the data, rounded if the pipeline says.
        let mut want: Vec<T> = data.iter().cloned().collect();
        if let Some(keep) = pipeline.keep_bits() {
            T::bit_round(&mut want, keep, None);
        }
        for (chunks, unaligned) in [([4, 5], false), ([40, 30], false), ([7, 11], true)] {
            let name = format!("{spec}/{}x{}", chunks[0], chunks[1]);
            let s = ArraySpec::new(T::DTYPE, vec![40, 30])
                .with_chunk_shape(chunks.to_vec())
                .with_codec(spec);
            f.define(&name, s).unwrap();
            if unaligned {
                for (rows, cols) in [(0..13, 0..30), (13..40, 0..17), (13..40, 17..30)] {
                    let piece = data.slice(ndarray::s![rows.clone(), cols.clone()]);
                    f.write_array(&name, vec![rows.start, cols.start], piece.into_dyn())
                        .await
                        .unwrap();
                }
            } else {
                f.write_array(&name, vec![0, 0], data.view()).await.unwrap();
            }
            expected.push((name, spec, want.clone()));
        }
    }
    assert!(!expected.is_empty(), "{} takes no pipeline", T::DTYPE);
    let check = |f: ArrayFile, expected: Vec<(String, &'static str, Vec<T>)>, committed| async move {
        for (name, spec, want) in &expected {
            let got = f.read_array::<T>(name, vec![], vec![]).await.unwrap();
            assert!(
                got.iter().zip(want).all(|(g, w)| g.same_as(w)) && got.len() == want.len(),
                "{} {name}",
                T::DTYPE
            );
            let canonical = Pipeline::parse(spec).unwrap().to_string();
            assert_eq!(f.array_codec(name).unwrap(), Some(canonical), "{name}");
            if committed {
                let storage = f.array_storage(name).unwrap();
                assert_eq!(storage.codecs, [block_name(spec, T::DTYPE)], "{name}");
            }
        }
        assert!(f.verify().await.unwrap().is_ok());
        (f, expected)
    };
    // The writing handle, before and after its commit.
    let (mut f, expected) = check(f, expected, false).await;
    f.flush().await.unwrap();
    let (f, expected) = check(f, expected, true).await;
    drop(f);
    // Another handle, configured with another codec, reads and compacts.
    let mut f = place.open_with(FileConfig::new(NoCompression)).await;
    f.compact().await.unwrap();
    let (_, expected) = check(f, expected, true).await;
    check(
        place.open_with(FileConfig::new(ZstdCodec::new(1))).await,
        expected,
        true,
    )
    .await;
}

/// The block codec frames of arrays of `dtype` recording `spec` carry.
fn block_name(spec: &str, dtype: DType) -> String {
    let width = dtype.element_size().unwrap();
    let p = Pipeline::parse(spec).unwrap();
    let mut parts: Vec<String> = Vec::new();
    for f in p.filters() {
        match f {
            array_format::Filter::Delta => parts.push(format!("delta:{width}")),
            array_format::Filter::Shuffle if width > 1 => parts.push(format!("shuffle:{width}")),
            _ => {}
        }
    }
    let codec = match p.codec() {
        array_format::PipelineCodec::Pco(_) => {
            let n = match dtype {
                DType::TimestampNs => "i64".to_owned(),
                d => d.name().to_owned(),
            };
            format!("pco:{n}")
        }
        array_format::PipelineCodec::Builtin(b) => b.name().to_owned(),
        other => panic!("{other:?}"),
    };
    parts.push(codec);
    parts.join("+")
}

#[tokio::test]
async fn every_fixed_width_type_round_trips_through_every_pipeline_that_suits_it() {
    round_trip(field(|v| v as f32 * 1.37)).await;
    round_trip(field(|v| v * -0.013)).await;
    round_trip(field(|v| v as i8)).await;
    round_trip(field(|v| (v * 3.0) as i16 - 300)).await;
    round_trip(field(|v| (v * 1e5) as i32 - 7_000_000)).await;
    round_trip(field(|v| (v * 1e12) as i64)).await;
    round_trip(field(|v| v as u8)).await;
    round_trip(field(|v| (v * 100.0) as u16)).await;
    round_trip(field(|v| (v * 1e6) as u32)).await;
    round_trip(field(|v| (v * 1e15) as u64 | 1 << 63)).await;
    round_trip(field(|v| {
        TimestampNs(1_700_000_000_000_000_000 + (v * 1e9) as i64)
    }))
    .await;
    round_trip(field(|v| (v as u64).is_multiple_of(2))).await;
    round_trip(field(|v| half::f16::from_f64(v * 0.37))).await;
    round_trip(field(|v| half::bf16::from_f64(v * -3.1))).await;
    round_trip(field(|v| Complex::new(v as f32, -(v as f32) * 0.5))).await;
    round_trip(field(|v| Complex::new(v * 1e-3, v.sqrt()))).await;
}

#[tokio::test]
async fn bit_rounding_stores_rounded_values_that_reads_and_statistics_agree_on() {
    let mut f = ArrayFile::create_memory(FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    let spec = ArraySpec::new(DType::Float64, vec![6])
        .with_fill_value(FillValue::Float(-9.999e33))
        .with_codec("bitround:4+shuffle+zstd");
    f.define("t", spec).unwrap();
    let v = [1.0f64 + 1.0 / 64.0, 3.13, f64::NAN, -9.999e33, 1e300, -0.3];
    f.write_array(
        "t",
        vec![0],
        ArrayD::from_shape_vec(IxDyn(&[6]), v.to_vec())
            .unwrap()
            .view(),
    )
    .await
    .unwrap();
    f.flush().await.unwrap();
    let got = f.read_array::<f64>("t", vec![], vec![]).await.unwrap();
    // 4 mantissa bits: steps of 1/16 between 1 and 2, of 1/8 between 2 and 4.
    assert_eq!(got[0], 1.0);
    assert_eq!(got[1], 3.125);
    assert!(got[2].is_nan(), "NaN is kept");
    assert_eq!(got[3], -9.999e33, "the fill value is kept exactly");
    assert!((got[4] / 1e300 - 1.0).abs() < 1.0 / 16.0);
    assert_eq!(got[5], -0.296875, "-0.3 is 1.2 x 2^-2; 1.1875 is nearest");
    let stats = f.array_stats("t").unwrap();
    assert_eq!(stats.null_count, 1, "the fill value still counts as null");
    assert_eq!(stats.min, Some(StatValue::Float(-0.296875)));
    assert_eq!(stats.max, Some(StatValue::Float(got[4])));
}

#[tokio::test]
async fn shuffle_and_pco_store_smooth_floats_smaller_than_zstd_alone() {
    let mut f = ArrayFile::create_memory(FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    let data = ArrayD::from_shape_fn(IxDyn(&[64, 256]), |ix| {
        280.0 + 15.0 * ((ix[0] as f32) / 9.0).sin() + (ix[1] as f32 / 40.0).cos()
    });
    let mut sizes = Vec::new();
    for spec in ["zstd:3", "shuffle+zstd:3", "pco"] {
        let s = ArraySpec::new(DType::Float32, vec![64, 256]).with_codec(spec);
        f.define(spec, s).unwrap();
        f.write_array(spec, vec![0, 0], data.view()).await.unwrap();
        f.flush().await.unwrap();
        sizes.push(f.array_storage(spec).unwrap().stored_bytes);
    }
    assert!(sizes[1] < sizes[0], "{sizes:?}");
    assert!(sizes[2] < sizes[1], "{sizes:?}");
}

#[tokio::test]
async fn pipelines_that_do_not_suit_the_element_type_are_refused_at_define() {
    let mut f = ArrayFile::create_memory(FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    for (dtype, spec, says) in [
        (DType::Float32, "delta+zstd", "differences of integers"),
        (DType::Int32, "bitround:3+zstd", "rounds floats"),
        (DType::Float32, "bitround:24+zstd", "23 mantissa bits"),
        (DType::String, "shuffle+zstd", "fixed-width"),
        (DType::Binary, "pco", "pco compresses numbers"),
        (DType::Bool, "pco", "pco compresses numbers"),
        (DType::Float64, "shuffle+pco", "only bitround"),
        (DType::Float64, "shuffle+gzip", "unknown codec"),
        (DType::Float64, "zstd+shuffle", "unknown filter"),
    ] {
        let e = f
            .define("a", ArraySpec::new(dtype, vec![4]).with_codec(spec))
            .unwrap_err();
        match &e {
            Error::InvalidCodec {
                name,
                codec,
                reason,
            } => {
                assert_eq!((name.as_str(), codec.as_str()), ("a", spec));
                assert!(reason.contains(says), "{spec}: {reason}");
            }
            other => panic!("{spec}: {other:?}"),
        }
        assert!(f.get_array("a").is_err(), "nothing is defined");
    }
    // Strings take a codec without filters.
    f.define(
        "s",
        ArraySpec::new(DType::String, vec![2]).with_codec("zstd:9"),
    )
    .unwrap();
}
