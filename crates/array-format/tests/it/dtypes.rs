//! The 16-bit floats and complex numbers: fill values in canonical form
//! (and refused when they overflow the type), statistics (16-bit floats
//! widened exactly, complex numbers with nulls but no range), NaN bits
//! kept, through a commit, a reopen and a compaction.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use array_format::half::{bf16, f16};
use array_format::num_complex::Complex;
use array_format::{
    ArrayFile, ArraySpec, DType, Error, FileConfig, FillValue, Lz4Codec, StatValue,
};
use ndarray::{ArrayD, IxDyn};

fn arr<T: Clone>(v: Vec<T>) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(&[v.len()]), v).unwrap()
}

#[tokio::test]
async fn half_floats_and_complex_numbers_keep_values_fills_and_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.af");
    let mut f = ArrayFile::create_path(&path, FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    let spec = |dtype, fill| {
        ArraySpec::new(dtype, vec![6])
            .with_chunk_shape(vec![4])
            .with_fill_value(fill)
    };
    f.define("h", spec(DType::Float16, FillValue::Int(-1)))
        .unwrap();
    f.define("b", spec(DType::BFloat16, FillValue::Float(f64::NAN)))
        .unwrap();
    f.define("c", spec(DType::Complex64, FillValue::Float(2.0)))
        .unwrap();
    f.define("z", spec(DType::Complex128, FillValue::Complex(0.0, -1.0)))
        .unwrap();
    // Fill values are stored canonically: floats for the halves, pairs
    // for complex numbers.
    assert_eq!(
        f.get_array("h").unwrap().fill_value,
        Some(FillValue::Float(-1.0))
    );
    assert_eq!(
        f.get_array("c").unwrap().fill_value,
        Some(FillValue::Complex(2.0, 0.0))
    );

    let payload_nan = f16::from_bits(0x7e01);
    let h = vec![
        f16::from_f32(0.5),
        f16::from_f32(-1.0),
        payload_nan,
        f16::MAX,
    ];
    f.write_array("h", vec![0], arr(h.clone()).view())
        .await
        .unwrap();
    let b = vec![bf16::from_f32(3.0e38), bf16::NAN, bf16::from_f32(-7.5)];
    f.write_array("b", vec![0], arr(b.clone()).view())
        .await
        .unwrap();
    let c = vec![
        Complex::new(1.0f32, 2.0),
        Complex::new(2.0, 0.0),
        Complex::new(f32::NAN, 1.0),
    ];
    f.write_array("c", vec![3], arr(c.clone()).view())
        .await
        .unwrap();
    let z = vec![Complex::new(1e300, -1e-300), Complex::new(0.0, -1.0)];
    f.write_array("z", vec![0], arr(z.clone()).view())
        .await
        .unwrap();
    f.flush().await.unwrap();

    let check = |f: ArrayFile| {
        let (h, b, c, z) = (h.clone(), b.clone(), c.clone(), z.clone());
        async move {
            let got = f.read_array::<f16>("h", vec![], vec![]).await.unwrap();
            let bits: Vec<u16> = got.iter().map(|v| v.to_bits()).collect();
            let mut want: Vec<u16> = h.iter().map(|v| v.to_bits()).collect();
            want.extend([f16::from_f32(-1.0).to_bits(); 2]);
            assert_eq!(bits, want, "NaN payloads are kept");
            let s = f.array_stats("h").unwrap();
            // -1.0 is the fill value: a null, like the unwritten two.
            assert_eq!((s.null_count, s.row_count), (3, 6));
            assert_eq!(s.min, Some(StatValue::Float(0.5)));
            assert_eq!(s.max, Some(StatValue::Float(65504.0)));

            let got = f.read_array::<bf16>("b", vec![], vec![]).await.unwrap();
            assert_eq!(got[0], b[0]);
            assert!(got[1].is_nan() && got[5].is_nan());
            let s = f.array_stats("b").unwrap();
            assert_eq!(s.min, Some(StatValue::Float(-7.5)));

            let got = f
                .read_array::<Complex<f32>>("c", vec![], vec![])
                .await
                .unwrap();
            assert_eq!(got[0], Complex::new(2.0, 0.0));
            assert_eq!(got[3], c[0]);
            assert!(got[5].re.is_nan());
            let s = f.array_stats("c").unwrap();
            assert_eq!(
                (&s.min, &s.max),
                (&None, &None),
                "complex numbers have no order"
            );
            assert_eq!(
                s.null_count, 4,
                "three unwritten, one written equal to the fill"
            );

            let got = f
                .read_array::<Complex<f64>>("z", vec![], vec![])
                .await
                .unwrap();
            assert_eq!(&got.as_slice().unwrap()[..2], &z[..]);
            assert_eq!(got[5], Complex::new(0.0, -1.0));
            assert!(f.verify().await.unwrap().is_ok());
        }
    };
    check(
        ArrayFile::open_path(&path, FileConfig::new(Lz4Codec))
            .await
            .unwrap(),
    )
    .await;
    let mut g = ArrayFile::open_path(&path, FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    g.compact().await.unwrap();
    check(
        ArrayFile::open_path(&path, FileConfig::new(Lz4Codec))
            .await
            .unwrap(),
    )
    .await;
}

#[tokio::test]
async fn fill_values_that_overflow_the_type_are_refused() {
    let mut f = ArrayFile::create_memory(FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    for (dtype, fill) in [
        (DType::Float16, FillValue::Float(70000.0)),
        (DType::BFloat16, FillValue::Float(1e39)),
        (DType::Complex64, FillValue::Complex(0.0, 1e39)),
        (DType::Complex128, FillValue::String("x".into())),
        (DType::Float16, FillValue::Complex(1.0, 0.0)),
    ] {
        let e = f
            .define(
                "a",
                ArraySpec::new(dtype, vec![2]).with_fill_value(fill.clone()),
            )
            .unwrap_err();
        assert!(
            matches!(e, Error::InvalidFillValue { .. }),
            "{dtype} {fill:?}: {e:?}"
        );
    }
    // Infinities and NaN are values of every float type.
    for fill in [FillValue::Float(f64::INFINITY), FillValue::Float(f64::NAN)] {
        f.define(
            "ok",
            ArraySpec::new(DType::Float16, vec![2]).with_fill_value(fill),
        )
        .unwrap();
        f.delete("ok").unwrap();
    }
}

#[tokio::test]
async fn the_wrong_element_type_is_a_typed_error() {
    let mut f = ArrayFile::create_memory(FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    f.define("h", ArraySpec::new(DType::Float16, vec![2]))
        .unwrap();
    let e = f.read_array::<bf16>("h", vec![], vec![]).await.unwrap_err();
    assert!(matches!(e, Error::DTypeMismatch { .. }), "{e:?}");
    let e = f
        .write_array("h", vec![0], arr(vec![1.0f32, 2.0]).view())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::DTypeMismatch { .. }), "{e:?}");
}
