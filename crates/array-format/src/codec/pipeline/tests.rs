//! Pipeline specs parsed and printed, checked against element types,
//! composed with the defaults.

#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn specs_parse_and_print_canonically() {
    for (spec, canonical) in [
        ("lz4", "lz4"),
        ("zstd", "zstd:3"),
        (" Shuffle + ZSTD:5 ", "shuffle+zstd:5"),
        ("delta+shuffle+lz4", "delta+shuffle+lz4"),
        ("bitround:10+shuffle+zstd:3", "bitround:10+shuffle+zstd:3"),
        ("pco", "pco:8"),
        ("PCO:12", "pco:12"),
        ("bitround: 0+pco:0", "bitround:0+pco:0"),
        ("shuffle+none", "shuffle+none"),
        ("brotli", "brotli"),
    ] {
        let p = Pipeline::parse(spec).unwrap();
        assert_eq!(p.to_string(), canonical, "{spec}");
        assert_eq!(Pipeline::parse(canonical).unwrap(), p);
    }
    assert_eq!(
        Pipeline::parse("bitround:7+delta+shuffle+zstd")
            .unwrap()
            .filters(),
        [
            Filter::BitRound { keep_bits: 7 },
            Filter::Delta,
            Filter::Shuffle
        ]
    );
}

#[test]
fn bad_specs_say_why() {
    for (spec, says) in [
        ("shuffle+brotli", "unknown codec"),
        ("shufle+zstd", "unknown filter"),
        ("shuffle+shuffle+zstd", "order"),
        ("shuffle+delta+zstd", "order"),
        ("bitround+zstd", "how many"),
        ("bitround:x+zstd", "number"),
        ("bitround:53+zstd", "at most 52"),
        ("shuffle:2+zstd", "no parameter"),
        ("pco:13", "outside 0-12"),
        ("pco:fast", "not a number"),
        ("zstd:0", "outside 1-22"),
        ("", "unknown codec"),
        ("shuffle+", "unknown codec"),
    ] {
        let e = Pipeline::parse(spec).unwrap_err().to_string();
        assert!(e.contains(says), "{spec:?}: {e}");
    }
}

#[test]
fn pipelines_check_the_element_type() {
    let ok = |spec: &str, dtype| Pipeline::parse(spec).unwrap().check_dtype(dtype);
    assert!(ok("bitround:23+shuffle+zstd", DType::Float32).is_ok());
    assert!(ok("bitround:24+zstd", DType::Float32).is_err());
    assert!(ok("bitround:52+zstd", DType::Float64).is_ok());
    assert!(ok("bitround:4+zstd", DType::Int32).is_err());
    assert!(ok("delta+shuffle+zstd", DType::TimestampNs).is_ok());
    assert!(ok("delta+zstd", DType::Float64).is_err());
    assert!(ok("delta+zstd", DType::Bool).is_err());
    assert!(ok("shuffle+zstd", DType::UInt8).is_ok());
    assert!(ok("shuffle+zstd", DType::String).is_err());
    assert!(ok("zstd", DType::String).is_ok());
    assert!(ok("pco", DType::UInt8).is_ok());
    assert!(ok("pco", DType::Bool).is_err());
    assert!(ok("pco", DType::Binary).is_err());
    assert!(ok("bitround:9+pco", DType::Float64).is_ok());
    let e = ok("shuffle+pco", DType::Float32).unwrap_err().to_string();
    assert!(e.contains("only bitround"), "{e}");
}

#[test]
fn codecs_and_filters_compose_with_the_defaults() {
    let c = |dtype, codec, filters: Option<&[&str]>| {
        Pipeline::compose(dtype, codec, filters).map(|p| p.to_string())
    };
    assert_eq!(c(DType::Int64, None, None).unwrap(), "pco:8");
    assert_eq!(
        c(DType::Float32, Some("zstd:3"), None).unwrap(),
        "shuffle+zstd:3"
    );
    assert_eq!(
        c(DType::Float32, None, Some(&["bitround:9"])).unwrap(),
        "bitround:9+pco:8"
    );
    assert_eq!(c(DType::Complex64, None, None).unwrap(), "shuffle+zstd:3");
    assert_eq!(c(DType::UInt8, Some("lz4"), None).unwrap(), "lz4");
    assert_eq!(c(DType::Float64, Some("none"), None).unwrap(), "none");
    assert_eq!(c(DType::Float64, Some("PCO:3"), None).unwrap(), "pco:3");
    assert_eq!(
        c(DType::Int32, None, Some(&["delta", "shuffle"])).unwrap(),
        "delta+shuffle+zstd:3"
    );
    assert_eq!(c(DType::Float32, Some("xor"), None).unwrap(), "xor");
    for (dtype, codec, filters, says) in [
        (
            DType::Float32,
            Some("shuffle+lz4"),
            Some(&["delta"][..]),
            "not both",
        ),
        (
            DType::Float32,
            None,
            Some(&["shuffle", "delta"][..]),
            "order",
        ),
        (DType::Float32, None, Some(&["delta"][..]), "integers"),
        (DType::String, Some("pco"), None, "numbers"),
        (DType::Float32, Some("zstd:0"), None, "1-22"),
    ] {
        let e = c(dtype, codec, filters).unwrap_err().to_string();
        assert!(e.contains(says), "{codec:?} {filters:?}: {e}");
    }
}

#[test]
fn defaults_are_pco_for_numbers_and_zstd_for_the_rest() {
    assert_eq!(Pipeline::default_for(DType::Float32).to_string(), "pco:8");
    assert_eq!(
        Pipeline::default_for(DType::TimestampNs).to_string(),
        "pco:8"
    );
    assert_eq!(
        Pipeline::default_for(DType::BFloat16).to_string(),
        "shuffle+zstd:3"
    );
    assert_eq!(
        Pipeline::default_for(DType::Complex128).to_string(),
        "shuffle+zstd:3"
    );
    assert_eq!(Pipeline::default_for(DType::UInt8).to_string(), "zstd:3");
    assert_eq!(Pipeline::default_for(DType::Bool).to_string(), "zstd:3");
    assert_eq!(Pipeline::default_for(DType::String).to_string(), "zstd:3");
    for d in crate::dtype::ALL_DTYPES {
        assert!(Pipeline::default_for(d).check_dtype(d).is_ok(), "{d}");
    }
}
