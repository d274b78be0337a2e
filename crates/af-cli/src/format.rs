//! How values look on the terminal and in JSON: elements, fill values,
//! statistics, attributes, sizes, times; and plain-text tables.

use array_format::{ArrayElement, AttributeValue, DType, FillValue, StatValue, TimestampNs};
use serde_json::{Value as Json, json};

pub use crate::parse::{parse_attr, parse_fill};
pub use crate::table::Table;

/// An element type the tool can print and compare.
pub trait Elem: ArrayElement {
    /// Whether text output aligns these values to the left (strings).
    const LEFT_ALIGN: bool = false;
    /// numpy-like text (`1.5`, `nan`, `"abc"`, `2024-01-01T00:00:00Z`).
    fn text(&self) -> String;
    /// A CSV field (strings quoted only when needed).
    fn csv(&self) -> String {
        self.text()
    }
    /// A JSON value (NaN and infinities as `null`).
    fn json(&self) -> String;
    /// Equality that treats NaN as equal to NaN (for fill comparisons).
    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

macro_rules! int_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            fn text(&self) -> String {
                self.to_string()
            }
            fn json(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
int_elem!(i8, i16, i32, i64, u8, u16, u32, u64);

/// A float in the shortest form that reads back exactly, with a `.0` or an
/// exponent so that it looks like a float.
pub fn float_text(v: f64, single: bool) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = v.abs();
    let s = if a != 0.0 && !(1e-5..1e16).contains(&a) {
        if single {
            format!("{:e}", v as f32)
        } else {
            format!("{v:e}")
        }
    } else if single {
        format!("{}", v as f32)
    } else {
        format!("{v}")
    };
    if s.contains(['.', 'e', 'n', 'i']) {
        s
    } else {
        s + ".0"
    }
}

fn float_json(v: f64, single: bool) -> String {
    if v.is_finite() {
        float_text(v, single)
    } else {
        "null".into()
    }
}

impl Elem for f32 {
    fn text(&self) -> String {
        float_text(f64::from(*self), true)
    }
    fn json(&self) -> String {
        float_json(f64::from(*self), true)
    }
    fn same(&self, other: &Self) -> bool {
        self == other || (self.is_nan() && other.is_nan())
    }
}

impl Elem for f64 {
    fn text(&self) -> String {
        float_text(*self, false)
    }
    fn json(&self) -> String {
        float_json(*self, false)
    }
    fn same(&self, other: &Self) -> bool {
        self == other || (self.is_nan() && other.is_nan())
    }
}

macro_rules! half_elem {
    ($($t:ty),*) => {$(
        impl Elem for $t {
            fn text(&self) -> String {
                float_text(self.to_f64(), true)
            }
            fn json(&self) -> String {
                float_json(self.to_f64(), true)
            }
            fn same(&self, other: &Self) -> bool {
                self.to_bits() == other.to_bits() || (self.is_nan() && other.is_nan())
            }
        }
    )*};
}
half_elem!(array_format::half::f16, array_format::half::bf16);

/// Complex numbers as numpy prints them (`(1.5-2.0j)`); in JSON, the pair
/// `[re, im]`.
impl<T: Elem + num_traits_float::Part> Elem for array_format::num_complex::Complex<T>
where
    array_format::num_complex::Complex<T>: ArrayElement,
{
    fn text(&self) -> String {
        let im = self.im.text();
        let sign = if im.starts_with('-') { "" } else { "+" };
        format!("({}{sign}{im}j)", self.re.text())
    }
    fn json(&self) -> String {
        format!("[{}, {}]", self.re.json(), self.im.json())
    }
    fn same(&self, other: &Self) -> bool {
        self.re.same(&other.re) && self.im.same(&other.im)
    }
}

/// The part types of complex numbers.
mod num_traits_float {
    /// `f32` or `f64`.
    pub trait Part {}
    impl Part for f32 {}
    impl Part for f64 {}
}

impl Elem for bool {
    fn text(&self) -> String {
        self.to_string()
    }
    fn json(&self) -> String {
        self.to_string()
    }
}

impl Elem for TimestampNs {
    fn text(&self) -> String {
        timestamp_text(self.nanos())
    }
    fn json(&self) -> String {
        json_string(&self.text())
    }
}

impl Elem for String {
    const LEFT_ALIGN: bool = true;
    fn text(&self) -> String {
        json_string(self)
    }
    fn csv(&self) -> String {
        csv_field(self)
    }
    fn json(&self) -> String {
        json_string(self)
    }
}

impl Elem for Vec<u8> {
    fn text(&self) -> String {
        format!("b\"{}\"", self.escape_ascii())
    }
    fn csv(&self) -> String {
        hex(self)
    }
    fn json(&self) -> String {
        json_string(&hex(self))
    }
}

/// `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// A CSV field: quoted (with doubled quotes) when it needs to be.
pub fn csv_field(s: &str) -> String {
    if s.is_empty() || s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ')
    {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// `0x` followed by two lower-case hex digits per byte.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * b.len());
    s.push_str("0x");
    for byte in b {
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

/// Parses `0x…` (or bare) hex digits.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let t = s.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    if !t.len().is_multiple_of(2) {
        return Err(format!(
            "{s:?} is not hex bytes (an even number of hex digits)"
        ));
    }
    (0..t.len())
        .step_by(2)
        .map(|i| {
            t.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .ok_or_else(|| format!("{s:?} is not hex bytes"))
        })
        .collect()
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// ISO 8601 in UTC: `2024-01-01T06:00:00Z`, with the fraction of a second
/// when there is one; `NaT` for numpy's not-a-time (`i64::MIN`).
pub fn timestamp_text(ns: i64) -> String {
    if ns == i64::MIN {
        return "NaT".into();
    }
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if frac != 0 {
        let f = format!("{frac:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// `1.5 KiB`-style sizes.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = "KiB";
    for u in UNITS.iter().skip(1) {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// A compression ratio, raw / stored.
pub fn ratio(raw: u64, stored: u64) -> Option<f64> {
    (stored > 0).then(|| raw as f64 / stored as f64)
}

/// `48x90x180`, or `()` for a scalar.
pub fn shape_text(shape: &[u64]) -> String {
    if shape.is_empty() {
        "()".into()
    } else {
        shape
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("x")
    }
}

/// A fill value as text (`-` for none).
pub fn fill_text(fill: Option<&FillValue>, dtype: DType) -> String {
    match fill {
        None => "-".into(),
        Some(FillValue::Bool(b)) => b.to_string(),
        Some(FillValue::Int(v)) => v.to_string(),
        Some(FillValue::UInt(v)) => v.to_string(),
        Some(FillValue::Float(v)) => float_text(*v, dtype != DType::Float64),
        Some(FillValue::String(s)) => json_string(s),
        Some(FillValue::TimestampNs(v)) => timestamp_text(*v),
        Some(FillValue::Binary(b)) => hex(b),
        Some(FillValue::Complex(re, im)) => {
            let single = dtype == DType::Complex64;
            let im = float_text(*im, single);
            let sign = if im.starts_with('-') { "" } else { "+" };
            format!("({}{sign}{im}j)", float_text(*re, single))
        }
    }
}

/// A fill value as JSON (`null` for none; non-finite floats as strings).
pub fn fill_json(fill: Option<&FillValue>, dtype: DType) -> Json {
    match fill {
        None => Json::Null,
        Some(FillValue::Bool(b)) => json!(b),
        Some(FillValue::Int(v)) => json!(v),
        Some(FillValue::UInt(v)) => json!(v),
        Some(FillValue::Float(v)) => float_value(*v, dtype != DType::Float64),
        Some(FillValue::String(s)) => json!(s),
        Some(FillValue::TimestampNs(v)) => json!(timestamp_text(*v)),
        Some(FillValue::Binary(b)) => json!(hex(b)),
        Some(FillValue::Complex(re, im)) => {
            let single = dtype == DType::Complex64;
            json!([float_value(*re, single), float_value(*im, single)])
        }
    }
}

/// A float as a JSON number, or a string for NaN and infinities.
fn float_value(v: f64, single: bool) -> Json {
    if v.is_finite() {
        serde_json::from_str(&float_text(v, single)).unwrap_or(Json::Null)
    } else {
        json!(float_text(v, single))
    }
}

/// A statistic of an array of `dtype` as text.
pub fn stat_text(v: &StatValue, dtype: DType) -> String {
    match v {
        StatValue::Int(i) => i.to_string(),
        StatValue::UInt(u) if dtype == DType::Bool => (*u != 0).to_string(),
        StatValue::UInt(u) => u.to_string(),
        StatValue::Float(f) => float_text(*f, dtype == DType::Float32),
        StatValue::Bytes(b) if dtype == DType::String => json_string(&String::from_utf8_lossy(b)),
        StatValue::Bytes(b) => hex(b),
        StatValue::TimestampNs(t) => timestamp_text(*t),
    }
}

/// A statistic as JSON.
pub fn stat_json(v: &StatValue, dtype: DType) -> Json {
    match v {
        StatValue::Int(i) => json!(i),
        StatValue::UInt(u) if dtype == DType::Bool => json!(*u != 0),
        StatValue::UInt(u) => json!(u),
        StatValue::Float(f) => float_value(*f, dtype == DType::Float32),
        StatValue::Bytes(b) if dtype == DType::String => json!(String::from_utf8_lossy(b)),
        StatValue::Bytes(b) => json!(hex(b)),
        StatValue::TimestampNs(t) => json!(timestamp_text(*t)),
    }
}

fn list_text<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    format!("[{}]", items.iter().map(f).collect::<Vec<_>>().join(", "))
}

/// An attribute value as text; strings quoted when `quote`.
pub fn attr_text(v: &AttributeValue, quote: bool) -> String {
    use AttributeValue as A;
    let f32t = |x: &f32| float_text(f64::from(*x), true);
    let f64t = |x: &f64| float_text(*x, false);
    match v {
        A::Bool(b) => b.to_string(),
        A::Int8(x) => x.to_string(),
        A::Int16(x) => x.to_string(),
        A::Int32(x) => x.to_string(),
        A::Int64(x) => x.to_string(),
        A::UInt8(x) => x.to_string(),
        A::UInt16(x) => x.to_string(),
        A::UInt32(x) => x.to_string(),
        A::UInt64(x) => x.to_string(),
        A::Float32(x) => f32t(x),
        A::Float64(x) => f64t(x),
        A::String(s) if quote => json_string(s),
        A::String(s) => s.clone(),
        A::Binary(b) => hex(b),
        A::BoolList(l) => list_text(l, bool::to_string),
        A::Int8List(l) => list_text(l, i8::to_string),
        A::Int16List(l) => list_text(l, i16::to_string),
        A::Int32List(l) => list_text(l, i32::to_string),
        A::Int64List(l) => list_text(l, i64::to_string),
        A::UInt8List(l) => list_text(l, u8::to_string),
        A::UInt16List(l) => list_text(l, u16::to_string),
        A::UInt32List(l) => list_text(l, u32::to_string),
        A::UInt64List(l) => list_text(l, u64::to_string),
        A::Float32List(l) => list_text(l, f32t),
        A::Float64List(l) => list_text(l, f64t),
        A::StringList(l) => list_text(l, |s| json_string(s)),
    }
}

/// An attribute value as JSON.
pub fn attr_json(v: &AttributeValue) -> Json {
    use AttributeValue as A;
    let f32v = |x: &f32| float_value(f64::from(*x), true);
    let f64v = |x: &f64| float_value(*x, false);
    match v {
        A::Bool(b) => json!(b),
        A::Int8(x) => json!(x),
        A::Int16(x) => json!(x),
        A::Int32(x) => json!(x),
        A::Int64(x) => json!(x),
        A::UInt8(x) => json!(x),
        A::UInt16(x) => json!(x),
        A::UInt32(x) => json!(x),
        A::UInt64(x) => json!(x),
        A::Float32(x) => f32v(x),
        A::Float64(x) => f64v(x),
        A::String(s) => json!(s),
        A::Binary(b) => json!(hex(b)),
        A::BoolList(l) => json!(l),
        A::Int8List(l) => json!(l),
        A::Int16List(l) => json!(l),
        A::Int32List(l) => json!(l),
        A::Int64List(l) => json!(l),
        A::UInt8List(l) => json!(l),
        A::UInt16List(l) => json!(l),
        A::UInt32List(l) => json!(l),
        A::UInt64List(l) => json!(l),
        A::Float32List(l) => Json::Array(l.iter().map(f32v).collect()),
        A::Float64List(l) => Json::Array(l.iter().map(f64v).collect()),
        A::StringList(l) => json!(l),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats() {
        assert_eq!(1.0f32.text(), "1.0");
        assert_eq!(288.15f32.text(), "288.15");
        assert_eq!(f32::NAN.text(), "nan");
        assert_eq!(f32::NAN.json(), "null");
        assert_eq!((-0.5f64).text(), "-0.5");
        assert_eq!(1e-7f64.text(), "1e-7");
        assert_eq!(1e20f32.text(), "1e20");
        assert_eq!(f64::NEG_INFINITY.text(), "-inf");
        assert!(f32::NAN.same(&f32::NAN));
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            timestamp_text(1_704_067_200_000_000_000 + 3_600_500_000_000),
            "2024-01-01T01:00:00.5Z"
        );
        assert_eq!(timestamp_text(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(
            timestamp_text(951_782_400_000_000_000),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(timestamp_text(i64::MIN), "NaT");
    }

    #[test]
    fn attributes() {
        assert_eq!(
            parse_attr("K", None).unwrap(),
            AttributeValue::String("K".into())
        );
        assert_eq!(parse_attr("3", None).unwrap(), AttributeValue::Int64(3));
        assert_eq!(
            parse_attr("-2.5", None).unwrap(),
            AttributeValue::Float64(-2.5)
        );
        assert_eq!(
            parse_attr("true", None).unwrap(),
            AttributeValue::Bool(true)
        );
        assert_eq!(
            parse_attr("[1, 2]", None).unwrap(),
            AttributeValue::Int64List(vec![1, 2])
        );
        assert_eq!(
            parse_attr("180,340", Some("f64[]")).unwrap(),
            AttributeValue::Float64List(vec![180.0, 340.0])
        );
        assert_eq!(
            parse_attr("[\"a,b\", \"c\"]", Some("string[]")).unwrap(),
            AttributeValue::StringList(vec!["a,b".into(), "c".into()])
        );
        assert_eq!(
            parse_attr("0x0aff", Some("binary")).unwrap(),
            AttributeValue::Binary(vec![10, 255])
        );
        assert!(parse_attr("300", Some("u8")).is_err());
        assert!(parse_attr("1", Some("complex")).is_err());
        assert_eq!(
            parse_attr("inf", None).unwrap(),
            AttributeValue::String("inf".into())
        );
        assert_eq!(
            attr_text(&AttributeValue::Float64List(vec![1.0, 2.5]), true),
            "[1.0, 2.5]"
        );
        assert_eq!(attr_json(&AttributeValue::Float32(f32::NAN)), json!("nan"));
    }

    #[test]
    fn fills() {
        assert_eq!(
            parse_fill("nan", DType::Float32).unwrap(),
            FillValue::Float(f64::NAN)
        );
        assert_eq!(parse_fill("7", DType::UInt8).unwrap(), FillValue::UInt(7));
        assert!(parse_fill("300", DType::UInt8).is_err());
        assert_eq!(
            parse_fill("\"\"", DType::String).unwrap(),
            FillValue::String(String::new())
        );
        assert_eq!(
            fill_text(Some(&FillValue::Float(f64::NAN)), DType::Float32),
            "nan"
        );
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new(&[("NAME", false), ("N", true)]);
        t.row(vec!["a".into(), "100".into()]);
        t.row(vec!["long".into(), "2".into()]);
        assert_eq!(t.render(), "NAME    N\na     100\nlong    2\n");
    }

    #[test]
    fn sizes_and_csv() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!("x".to_string().csv(), "x");
    }
}
