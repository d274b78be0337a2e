//! Reading attribute sections: the entries of an array's or the file's
//! attribute section (in the attribute region, `docs/FORMAT.md` section
//! 5.6) or of a version 2 record, checked but with their values left
//! encoded until asked for.

use std::ops::Range;
use std::sync::Arc;

use crate::value::AttributeValue;

use super::values::{get_attr, skip_attr};
use super::wire::{WireReader, WireResult};

/// A sequence number recorded in layer `layer`: never from a later layer.
pub(super) fn get_seq(r: &mut WireReader<'_>, layer: u64, what: &str) -> WireResult<u64> {
    let at = r.position();
    let v = r.var(what)?;
    if v > layer {
        return Err(format!(
            "{what} {v} at footer offset {at} is newer than layer {layer} itself"
        ));
    }
    Ok(v)
}

/// An attribute entry of a record; the value stays encoded (checked, not
/// decoded) until asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttrEntry<'a> {
    /// Index into the key dictionary.
    pub(crate) key: usize,
    /// `None` removes the key.
    pub(crate) value: Option<EncodedAttr<'a>>,
    pub(crate) seq: u64,
}

/// A checked attribute value still in its encoded form.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EncodedAttr<'a> {
    /// The whole footer (so that errors name footer offsets).
    buf: &'a [u8],
    /// Offset of the tag byte.
    at: usize,
    tag: u8,
}

impl EncodedAttr<'_> {
    /// The value.
    pub(crate) fn decode(&self) -> WireResult<AttributeValue> {
        let mut r = WireReader::at(self.buf, self.at.saturating_add(1));
        get_attr(&mut r, self.tag, self.at)
    }
}

/// Which dictionary keys the current record has used, to find a repeated
/// key in constant time: a key is taken when its mark equals the record's
/// number.
#[derive(Debug)]
pub(crate) struct KeyMarks {
    marks: Vec<u32>,
    record: u32,
}

impl KeyMarks {
    pub(crate) fn new(keys: usize) -> Self {
        Self {
            marks: vec![0; keys],
            record: 0,
        }
    }

    /// Starts the next record.
    pub(crate) fn next_record(&mut self) {
        self.record = self.record.wrapping_add(1);
        if self.record == 0 {
            self.marks.fill(0);
            self.record = 1;
        }
    }

    /// Marks `key`; true if the record had it already.
    pub(super) fn repeated(&mut self, key: usize) -> bool {
        match self.marks.get_mut(key) {
            Some(m) if *m == self.record => true,
            Some(m) => {
                *m = self.record;
                false
            }
            None => false,
        }
    }
}

/// Whose attributes a section holds, for errors.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Owner<'a> {
    /// An array's.
    Array(&'a str),
    /// The file's own.
    File,
}

impl std::fmt::Display for Owner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Array(name) => write!(f, "array {name:?}"),
            Owner::File => f.write_str("the file's attributes"),
        }
    }
}

/// What reading the entries of an attribute section needs.
pub(super) struct Entries<'a> {
    /// The whole footer.
    pub(super) buf: &'a [u8],
    pub(super) keys: &'a [Arc<str>],
    /// The layer's number (no entry is newer).
    pub(super) layer: u64,
    pub(super) owner: Owner<'a>,
    /// Whether entries may remove keys (changes, not a complete set).
    pub(super) removals: bool,
}

impl<'a> Entries<'a> {
    /// The next entry read from `r`, its value checked but left encoded.
    /// `marks`, started for this section with [`KeyMarks::next_record`],
    /// rejects a repeated key; without it a repeated key is not noticed
    /// (for sections checked before).
    pub(super) fn next(
        &self,
        r: &mut WireReader<'a>,
        marks: Option<&mut KeyMarks>,
    ) -> WireResult<AttrEntry<'a>> {
        let owner = self.owner;
        let k = r.bounded(
            self.keys.len().saturating_sub(1) as u64,
            "attribute key index",
        )?;
        let key = self
            .keys
            .get(k)
            .ok_or_else(|| format!("{owner} refers to missing attribute key {k}"))?;
        let at = r.position();
        let tag = r.u8("attribute tag")?;
        let value = if tag == 0 {
            if !self.removals {
                return Err(format!(
                    "{owner}: attribute removal in a complete attribute set (a define record or a snapshot)"
                ));
            }
            None
        } else {
            skip_attr(r, tag, at)?;
            Some(EncodedAttr {
                buf: self.buf,
                at,
                tag,
            })
        };
        let seq = get_seq(r, self.layer, "attribute layer")?;
        if marks.is_some_and(|m| m.repeated(k)) {
            return Err(format!("{owner}: attribute {key:?} appears twice"));
        }
        Ok(AttrEntry { key: k, value, seq })
    }
}

/// The footer range of the attribute section of `len` bytes at `at` in the
/// attribute region `region`, checked to lie in it and not to be empty.
pub(crate) fn section_range(
    region: &Range<usize>,
    at: u64,
    len: u64,
    owner: Owner<'_>,
) -> WireResult<Range<usize>> {
    let size = region.len() as u64;
    match at.checked_add(len) {
        Some(end) if len > 0 && end <= size => {
            // Both fit: the region lies in the footer.
            let start = region.start + at as usize;
            Ok(start..start + len as usize)
        }
        _ => Err(format!(
            "{owner}: attribute section of {len} bytes at {at} does not fit the {size}-byte attribute region"
        )),
    }
}
