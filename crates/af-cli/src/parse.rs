//! Values typed on the command line: attribute values (with or without a
//! type) and fill values for an array's dtype.

use array_format::{AttributeValue, DType, FillValue};
use serde_json::Value as Json;

use crate::format::parse_hex;

fn parse_scalar<T: std::str::FromStr>(s: &str, ty: &str) -> Result<T, String> {
    s.trim()
        .parse::<T>()
        .map_err(|_| format!("{:?} is not a valid {ty}", s.trim()))
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => Err(format!("{other:?} is not a bool (true or false)")),
    }
}

fn parse_f64(s: &str) -> Result<f64, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "nan" => Ok(f64::NAN),
        "inf" | "+inf" | "infinity" => Ok(f64::INFINITY),
        "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
        _ => parse_scalar(s, "f64"),
    }
}

fn parse_f32(s: &str) -> Result<f32, String> {
    let v = parse_f64(s)?;
    let x = v as f32;
    if v.is_finite() && x.is_infinite() {
        return Err(format!("{:?} is out of range for f32", s.trim()));
    }
    Ok(x)
}

/// Splits a list value: `1,2,3` or `[1, 2, 3]`; strings may be JSON-quoted.
fn split_list(s: &str) -> Result<Vec<String>, String> {
    let t = s.trim();
    if t.starts_with('[')
        && let Ok(Json::Array(items)) = serde_json::from_str::<Json>(t)
    {
        return Ok(items
            .into_iter()
            .map(|v| match v {
                Json::String(s) => s,
                other => other.to_string(),
            })
            .collect());
    }
    let inner = t
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(t);
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    Ok(inner.split(',').map(|x| x.trim().to_owned()).collect())
}

fn parse_list<T>(s: &str, f: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    split_list(s)?.iter().map(|x| f(x)).collect()
}

/// Parses an attribute value of type `ty` (see `af attrs --help`), or
/// guesses the type when `ty` is `None`.
pub fn parse_attr(value: &str, ty: Option<&str>) -> Result<AttributeValue, String> {
    use AttributeValue as A;
    let Some(ty) = ty else {
        return Ok(guess_attr(value));
    };
    let v = match ty.trim() {
        "bool" => A::Bool(parse_bool(value)?),
        "i8" => A::Int8(parse_scalar(value, "i8")?),
        "i16" => A::Int16(parse_scalar(value, "i16")?),
        "i32" => A::Int32(parse_scalar(value, "i32")?),
        "i64" => A::Int64(parse_scalar(value, "i64")?),
        "u8" => A::UInt8(parse_scalar(value, "u8")?),
        "u16" => A::UInt16(parse_scalar(value, "u16")?),
        "u32" => A::UInt32(parse_scalar(value, "u32")?),
        "u64" => A::UInt64(parse_scalar(value, "u64")?),
        "f32" => A::Float32(parse_f32(value)?),
        "f64" => A::Float64(parse_f64(value)?),
        "string" | "str" => A::String(value.to_owned()),
        "binary" | "bytes" => A::Binary(parse_hex(value)?),
        "bool[]" => A::BoolList(parse_list(value, parse_bool)?),
        "i8[]" => A::Int8List(parse_list(value, |x| parse_scalar(x, "i8"))?),
        "i16[]" => A::Int16List(parse_list(value, |x| parse_scalar(x, "i16"))?),
        "i32[]" => A::Int32List(parse_list(value, |x| parse_scalar(x, "i32"))?),
        "i64[]" => A::Int64List(parse_list(value, |x| parse_scalar(x, "i64"))?),
        "u8[]" => A::UInt8List(parse_list(value, |x| parse_scalar(x, "u8"))?),
        "u16[]" => A::UInt16List(parse_list(value, |x| parse_scalar(x, "u16"))?),
        "u32[]" => A::UInt32List(parse_list(value, |x| parse_scalar(x, "u32"))?),
        "u64[]" => A::UInt64List(parse_list(value, |x| parse_scalar(x, "u64"))?),
        "f32[]" => A::Float32List(parse_list(value, parse_f32)?),
        "f64[]" => A::Float64List(parse_list(value, parse_f64)?),
        "string[]" | "str[]" => A::StringList(split_list(value)?),
        other => {
            return Err(format!(
                "unknown attribute type {other:?}: use bool, i8..i64, u8..u64, f32, f64, string, binary, or TYPE[]"
            ));
        }
    };
    Ok(v)
}

/// bool, i64, f64, a list of one of them or of strings, else a string.
fn guess_attr(value: &str) -> AttributeValue {
    use AttributeValue as A;
    let t = value.trim();
    if t.starts_with('[')
        && t.ends_with(']')
        && let Ok(items) = split_list(t)
    {
        if let Ok(l) = items.iter().map(|x| x.parse::<i64>()).collect() {
            return A::Int64List(l);
        }
        if let Ok(l) = items.iter().map(|x| parse_f64(x)).collect() {
            return A::Float64List(l);
        }
        if let Ok(l) = items
            .iter()
            .map(|x| match x.as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(()),
            })
            .collect()
        {
            return A::BoolList(l);
        }
        return A::StringList(items);
    }
    match t {
        "true" => return A::Bool(true),
        "false" => return A::Bool(false),
        _ => {}
    }
    if let Ok(i) = t.parse::<i64>() {
        return A::Int64(i);
    }
    if !t.is_empty()
        && t.chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || "+-.".contains(c))
        && let Ok(f) = t.parse::<f64>()
    {
        return A::Float64(f);
    }
    A::String(value.to_owned())
}

/// Parses a fill value for an array of `dtype`.
pub fn parse_fill(s: &str, dtype: DType) -> Result<FillValue, String> {
    let t = s.trim();
    let fill = match dtype {
        DType::Bool => FillValue::Bool(parse_bool(t)?),
        DType::Int8 | DType::Int16 | DType::Int32 | DType::Int64 => {
            FillValue::Int(parse_scalar(t, dtype.name())?)
        }
        DType::UInt8 | DType::UInt16 | DType::UInt32 | DType::UInt64 => {
            FillValue::UInt(parse_scalar(t, dtype.name())?)
        }
        DType::Float16 | DType::BFloat16 | DType::Float32 | DType::Float64 => {
            FillValue::Float(parse_f64(t)?)
        }
        // A real number, or `re,im`.
        DType::Complex64 | DType::Complex128 => match t.split_once(',') {
            Some((re, im)) => FillValue::Complex(parse_f64(re.trim())?, parse_f64(im.trim())?),
            None => FillValue::Float(parse_f64(t)?),
        },
        DType::TimestampNs => FillValue::TimestampNs(parse_scalar(t, "timestamp (nanoseconds)")?),
        DType::String => FillValue::String(match serde_json::from_str::<Json>(t) {
            Ok(Json::String(s)) => s,
            _ => s.to_owned(),
        }),
        DType::Binary => FillValue::Binary(parse_hex(t)?),
    };
    fill.canonical_for(dtype)
        .ok_or_else(|| format!("fill value {t:?} does not fit dtype {dtype}"))
}
