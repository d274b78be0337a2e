//! Tagged values in the footer: fill values, chunk statistics and attribute
//! values (`docs/FORMAT.md`, sections 6.4 to 6.7).

use crate::value::{AttributeValue, FillValue, StatValue};

use super::wire::{WireReader, WireResult, WireWriter};

pub(super) fn put_fill(w: &mut WireWriter, v: Option<&FillValue>) {
    match v {
        None => w.u8(0),
        Some(FillValue::Bool(b)) => {
            w.u8(1);
            w.u8(u8::from(*b));
        }
        Some(FillValue::Int(i)) => {
            w.u8(2);
            w.ivar(*i);
        }
        Some(FillValue::UInt(u)) => {
            w.u8(3);
            w.var(*u);
        }
        Some(FillValue::Float(f)) => {
            w.u8(4);
            w.f64(*f);
        }
        Some(FillValue::String(s)) => {
            w.u8(5);
            w.str(s);
        }
        Some(FillValue::TimestampNs(t)) => {
            w.u8(6);
            w.ivar(*t);
        }
        Some(FillValue::Binary(b)) => {
            w.u8(7);
            w.bytes(b);
        }
        Some(FillValue::Complex(re, im)) => {
            w.u8(8);
            w.f64(*re);
            w.f64(*im);
        }
    }
}

pub(super) fn get_fill(r: &mut WireReader<'_>) -> WireResult<Option<FillValue>> {
    let at = r.position();
    Ok(Some(match r.u8("fill value tag")? {
        0 => return Ok(None),
        1 => FillValue::Bool(get_bool(r, "bool fill value")?),
        2 => FillValue::Int(r.ivar("int fill value")?),
        3 => FillValue::UInt(r.var("uint fill value")?),
        4 => FillValue::Float(r.f64("float fill value")?),
        5 => FillValue::String(r.string("string fill value")?),
        6 => FillValue::TimestampNs(r.ivar("timestamp fill value")?),
        7 => FillValue::Binary(r.bytes("binary fill value")?.to_vec()),
        8 => FillValue::Complex(r.f64("complex fill value")?, r.f64("complex fill value")?),
        t => return Err(format!("unknown fill value tag {t} at footer offset {at}")),
    }))
}

fn get_bool(r: &mut WireReader<'_>, what: &str) -> WireResult<bool> {
    let at = r.position();
    match r.u8(what)? {
        0 => Ok(false),
        1 => Ok(true),
        b => Err(format!("{what} at footer offset {at} is {b}, not 0 or 1")),
    }
}

pub(super) fn put_stat(w: &mut WireWriter, v: &StatValue) {
    match v {
        StatValue::Int(i) => {
            w.u8(1);
            w.ivar(*i);
        }
        StatValue::UInt(u) => {
            w.u8(2);
            w.var(*u);
        }
        StatValue::Float(f) => {
            w.u8(3);
            w.f64(*f);
        }
        StatValue::Bytes(b) => {
            w.u8(4);
            w.bytes(b);
        }
        StatValue::TimestampNs(t) => {
            w.u8(5);
            w.ivar(*t);
        }
    }
}

pub(super) fn get_stat(r: &mut WireReader<'_>) -> WireResult<StatValue> {
    let at = r.position();
    Ok(match r.u8("statistic tag")? {
        1 => StatValue::Int(r.ivar("int statistic")?),
        2 => StatValue::UInt(r.var("uint statistic")?),
        3 => StatValue::Float(r.f64("float statistic")?),
        4 => StatValue::Bytes(r.bytes("bytes statistic")?.to_vec()),
        5 => StatValue::TimestampNs(r.ivar("timestamp statistic")?),
        t => return Err(format!("unknown statistic tag {t} at footer offset {at}")),
    })
}

macro_rules! list {
    ($w:expr, $tag:expr, $v:expr, $put:expr) => {{
        $w.u8($tag);
        $w.len($v.len());
        for x in $v {
            $put($w, x);
        }
    }};
}

pub(super) fn put_attr(w: &mut WireWriter, v: &AttributeValue) {
    use AttributeValue as A;
    match v {
        A::Bool(b) => {
            w.u8(1);
            w.u8(u8::from(*b));
        }
        A::Int8(x) => {
            w.u8(2);
            w.raw(&x.to_le_bytes());
        }
        A::Int16(x) => {
            w.u8(3);
            w.raw(&x.to_le_bytes());
        }
        A::Int32(x) => {
            w.u8(4);
            w.raw(&x.to_le_bytes());
        }
        A::Int64(x) => {
            w.u8(5);
            w.raw(&x.to_le_bytes());
        }
        A::UInt8(x) => {
            w.u8(6);
            w.raw(&x.to_le_bytes());
        }
        A::UInt16(x) => {
            w.u8(7);
            w.raw(&x.to_le_bytes());
        }
        A::UInt32(x) => {
            w.u8(8);
            w.raw(&x.to_le_bytes());
        }
        A::UInt64(x) => {
            w.u8(9);
            w.raw(&x.to_le_bytes());
        }
        A::Float32(x) => {
            w.u8(10);
            w.raw(&x.to_le_bytes());
        }
        A::Float64(x) => {
            w.u8(11);
            w.raw(&x.to_le_bytes());
        }
        A::String(s) => {
            w.u8(12);
            w.str(s);
        }
        A::Binary(b) => {
            w.u8(13);
            w.bytes(b);
        }
        A::BoolList(v) => list!(w, 14, v, |w: &mut WireWriter, x: &bool| w.u8(u8::from(*x))),
        A::Int8List(v) => list!(w, 15, v, |w: &mut WireWriter, x: &i8| w
            .raw(&x.to_le_bytes())),
        A::Int16List(v) => list!(w, 16, v, |w: &mut WireWriter, x: &i16| w
            .raw(&x.to_le_bytes())),
        A::Int32List(v) => list!(w, 17, v, |w: &mut WireWriter, x: &i32| w
            .raw(&x.to_le_bytes())),
        A::Int64List(v) => list!(w, 18, v, |w: &mut WireWriter, x: &i64| w
            .raw(&x.to_le_bytes())),
        A::UInt8List(v) => list!(w, 19, v, |w: &mut WireWriter, x: &u8| w.u8(*x)),
        A::UInt16List(v) => list!(w, 20, v, |w: &mut WireWriter, x: &u16| w
            .raw(&x.to_le_bytes())),
        A::UInt32List(v) => list!(w, 21, v, |w: &mut WireWriter, x: &u32| w
            .raw(&x.to_le_bytes())),
        A::UInt64List(v) => list!(w, 22, v, |w: &mut WireWriter, x: &u64| w
            .raw(&x.to_le_bytes())),
        A::Float32List(v) => list!(w, 23, v, |w: &mut WireWriter, x: &f32| w
            .raw(&x.to_le_bytes())),
        A::Float64List(v) => list!(w, 24, v, |w: &mut WireWriter, x: &f64| w
            .raw(&x.to_le_bytes())),
        A::StringList(v) => list!(w, 25, v, |w: &mut WireWriter, x: &String| w.str(x)),
    }
}

fn fixed<const N: usize>(r: &mut WireReader<'_>, what: &str) -> WireResult<[u8; N]> {
    let b = r.take(N, what)?;
    <[u8; N]>::try_from(b).map_err(|_| format!("{what}: short read"))
}

fn get_list<T>(
    r: &mut WireReader<'_>,
    size: usize,
    what: &str,
    mut get: impl FnMut(&mut WireReader<'_>) -> WireResult<T>,
) -> WireResult<Vec<T>> {
    let n = r.count(size, what)?;
    (0..n).map(|_| get(r)).collect()
}

pub(super) fn get_attr(r: &mut WireReader<'_>, tag: u8, at: usize) -> WireResult<AttributeValue> {
    use AttributeValue as A;
    Ok(match tag {
        1 => A::Bool(get_bool(r, "bool attribute")?),
        2 => A::Int8(i8::from_le_bytes(fixed(r, "i8 attribute")?)),
        3 => A::Int16(i16::from_le_bytes(fixed(r, "i16 attribute")?)),
        4 => A::Int32(i32::from_le_bytes(fixed(r, "i32 attribute")?)),
        5 => A::Int64(i64::from_le_bytes(fixed(r, "i64 attribute")?)),
        6 => A::UInt8(u8::from_le_bytes(fixed(r, "u8 attribute")?)),
        7 => A::UInt16(u16::from_le_bytes(fixed(r, "u16 attribute")?)),
        8 => A::UInt32(u32::from_le_bytes(fixed(r, "u32 attribute")?)),
        9 => A::UInt64(u64::from_le_bytes(fixed(r, "u64 attribute")?)),
        10 => A::Float32(f32::from_le_bytes(fixed(r, "f32 attribute")?)),
        11 => A::Float64(f64::from_le_bytes(fixed(r, "f64 attribute")?)),
        12 => A::String(r.string("string attribute")?),
        13 => A::Binary(r.bytes("binary attribute")?.to_vec()),
        14 => A::BoolList(get_list(r, 1, "bool list", |r| {
            get_bool(r, "bool list item")
        })?),
        15 => A::Int8List(get_list(r, 1, "i8 list", |r| {
            fixed(r, "i8").map(i8::from_le_bytes)
        })?),
        16 => A::Int16List(get_list(r, 2, "i16 list", |r| {
            fixed(r, "i16").map(i16::from_le_bytes)
        })?),
        17 => A::Int32List(get_list(r, 4, "i32 list", |r| {
            fixed(r, "i32").map(i32::from_le_bytes)
        })?),
        18 => A::Int64List(get_list(r, 8, "i64 list", |r| {
            fixed(r, "i64").map(i64::from_le_bytes)
        })?),
        19 => A::UInt8List(get_list(r, 1, "u8 list", |r| r.u8("u8"))?),
        20 => A::UInt16List(get_list(r, 2, "u16 list", |r| {
            fixed(r, "u16").map(u16::from_le_bytes)
        })?),
        21 => A::UInt32List(get_list(r, 4, "u32 list", |r| {
            fixed(r, "u32").map(u32::from_le_bytes)
        })?),
        22 => A::UInt64List(get_list(r, 8, "u64 list", |r| {
            fixed(r, "u64").map(u64::from_le_bytes)
        })?),
        23 => A::Float32List(get_list(r, 4, "f32 list", |r| {
            fixed(r, "f32").map(f32::from_le_bytes)
        })?),
        24 => A::Float64List(get_list(r, 8, "f64 list", |r| {
            fixed(r, "f64").map(f64::from_le_bytes)
        })?),
        25 => A::StringList(get_list(r, 1, "string list", |r| {
            r.string("string list item")
        })?),
        t => return Err(format!("unknown attribute tag {t} at footer offset {at}")),
    })
}

/// Checks an attribute value with tag `tag` (at footer offset `at`) and
/// moves past it, allocating nothing: it accepts exactly what [`get_attr`]
/// accepts.
pub(super) fn skip_attr(r: &mut WireReader<'_>, tag: u8, at: usize) -> WireResult<()> {
    /// Encoded size of the fixed-width scalars and list items, by tag.
    fn fixed(tag: u8) -> Option<usize> {
        match tag {
            2 | 6 | 15 | 19 => Some(1),
            3 | 7 | 16 | 20 => Some(2),
            4 | 8 | 10 | 17 | 21 | 23 => Some(4),
            5 | 9 | 11 | 18 | 22 | 24 => Some(8),
            _ => None,
        }
    }
    match tag {
        1 => {
            get_bool(r, "bool attribute")?;
        }
        2..=11 => {
            r.take(fixed(tag).unwrap_or(0), "fixed-width attribute")?;
        }
        12 => {
            r.str("string attribute")?;
        }
        13 => {
            r.bytes("binary attribute")?;
        }
        14 => {
            for _ in 0..r.count(1, "bool list")? {
                get_bool(r, "bool list item")?;
            }
        }
        15..=24 => {
            let size = fixed(tag).unwrap_or(1);
            let n = r.count(size, "list")?;
            r.take(n.saturating_mul(size), "list items")?;
        }
        25 => {
            for _ in 0..r.count(1, "string list")? {
                r.str("string list item")?;
            }
        }
        t => return Err(format!("unknown attribute tag {t} at footer offset {at}")),
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Whether `skip_attr` and `get_attr` agree on `bytes` after `tag`:
    /// both fail, or both succeed having read the same bytes.
    fn agree(tag: u8, bytes: &[u8]) -> bool {
        let mut skip = WireReader::new(bytes);
        let mut get = WireReader::new(bytes);
        match (skip_attr(&mut skip, tag, 0), get_attr(&mut get, tag, 0)) {
            (Ok(()), Ok(_)) => skip.position() == get.position(),
            (Err(_), Err(_)) => true,
            _ => false,
        }
    }

    #[test]
    fn skipping_an_attribute_accepts_exactly_what_decoding_accepts() {
        use AttributeValue as A;
        let samples = [
            A::Bool(true),
            A::Int8(-1),
            A::Int16(-300),
            A::Int32(7),
            A::Int64(i64::MIN),
            A::UInt8(255),
            A::UInt16(9),
            A::UInt32(u32::MAX),
            A::UInt64(1),
            A::Float32(f32::NAN),
            A::Float64(0.5),
            A::String("héllo".into()),
            A::Binary(vec![0, 255]),
            A::BoolList(vec![true, false]),
            A::Int8List(vec![1, -1]),
            A::Int16List(vec![2]),
            A::Int32List(vec![3, 4]),
            A::Int64List(vec![]),
            A::UInt8List(vec![5]),
            A::UInt16List(vec![6, 7]),
            A::UInt32List(vec![8]),
            A::UInt64List(vec![9]),
            A::Float32List(vec![1.5]),
            A::Float64List(vec![2.5, 3.5]),
            A::StringList(vec!["a".into(), "".into(), "ß".into()]),
        ];
        // Every value's encoding, and every truncation and one-byte change
        // of it, under its own tag and every other.
        for v in &samples {
            let mut w = WireWriter::new();
            put_attr(&mut w, v);
            let enc = w.into_inner();
            let (own, payload) = (enc[0], &enc[1..]);
            assert!(agree(own, payload));
            let mut back = WireReader::new(payload);
            assert_eq!(&get_attr(&mut back, own, 0).unwrap(), v);
            for tag in 0..=27u8 {
                for len in 0..=payload.len() {
                    assert!(agree(tag, &payload[..len]), "tag {tag}, {v:?} cut at {len}");
                }
                for i in 0..payload.len() {
                    for b in [0u8, 1, 2, 0x7f, 0x80, 0xc3, 0xff] {
                        let mut p = payload.to_vec();
                        p[i] = b;
                        assert!(agree(tag, &p), "tag {tag}, {v:?} with byte {i} = {b}");
                    }
                }
            }
        }
        // And random bytes.
        let mut x = 0x5eed_u64;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (x >> 60) as usize;
            let bytes: Vec<u8> = (0..len).map(|i| (x >> (i * 4 % 56)) as u8).collect();
            assert!(agree((x >> 32) as u8 % 28, &bytes), "{bytes:?}");
        }
    }
}
