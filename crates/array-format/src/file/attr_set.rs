//! Decoded attribute sets: an array's or the file's attributes with the
//! layers that wrote them, the decoding (and checking) of the attribute
//! sections of the footers, and the cache that lets records sharing a
//! section share its decoded set.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::index::{RecordRef, layer_at};
use crate::error::Result;
use crate::format::DefParts;
use crate::format::Op;
use crate::format::records::{AttrEntry, Owner};
use crate::layer::LayerReader;
use crate::value::AttributeValue;

/// An attribute value and the layer that wrote it.
#[derive(Debug, Clone)]
pub(crate) struct Attr {
    /// Shared with every array of the layer that has this key.
    pub(crate) key: Arc<str>,
    pub(crate) value: AttributeValue,
    pub(crate) seq: u64,
}

/// The first eight bytes of `key` as a big-endian number (zero-padded):
/// ordering keys by it, then by the whole key, is their string order, and
/// most keys differ in their first eight bytes. A lookup then compares
/// numbers, not strings, on its way to the key.
fn prefix(key: &str) -> u64 {
    let mut b = [0u8; 8];
    for (d, s) in b.iter_mut().zip(key.as_bytes()) {
        *d = *s;
    }
    u64::from_be_bytes(b)
}

/// An array's committed attributes.
#[derive(Debug, Clone, Default)]
pub(crate) struct AttrSet {
    /// Sorted by key.
    attrs: Vec<Attr>,
    /// The [`prefix`] of each key of `attrs`: a lookup searches these eight
    /// bytes a key, a few cache lines for a whole set, and reads one
    /// attribute.
    prefixes: Vec<u64>,
    /// Keys removed by a delta since the array's last snapshot, sorted, with
    /// the layer that removed them: a concurrent writer setting such a key
    /// conflicts just as one removing a key that was set.
    removed: Vec<(Arc<str>, u64)>,
}

impl AttrSet {
    /// A set of `attrs`, sorted by key, and removals, sorted by key.
    fn new(attrs: Vec<Attr>, removed: Vec<(Arc<str>, u64)>) -> Self {
        let prefixes = attrs.iter().map(|a| prefix(&a.key)).collect();
        Self {
            attrs,
            prefixes,
            removed,
        }
    }

    /// Where `key` is in `attrs`, or where it would go.
    fn position(&self, key: &str) -> std::result::Result<usize, usize> {
        let p = prefix(key);
        let lo = self.prefixes.partition_point(|&q| q < p);
        let run = self
            .prefixes
            .get(lo..)
            .map_or(0, |rest| rest.partition_point(|&q| q == p));
        match self.attrs.get(lo..lo + run) {
            Some(same) => same
                .binary_search_by(|a| (*a.key).cmp(key))
                .map(|i| lo + i)
                .map_err(|i| lo + i),
            None => Err(lo),
        }
    }

    /// Attribute `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&Attr> {
        self.position(key).ok().and_then(|i| self.attrs.get(i))
    }

    /// Every attribute, sorted by key.
    pub(crate) fn all(&self) -> &[Attr] {
        &self.attrs
    }

    /// The layer that removed attribute `key`, if a delta did.
    pub(crate) fn removed(&self, key: &str) -> Option<u64> {
        self.removed
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .and_then(|i| self.removed.get(i))
            .map(|(_, seq)| *seq)
    }

    /// The layers that removed attributes.
    pub(crate) fn removal_seqs(&self) -> impl Iterator<Item = u64> + '_ {
        self.removed.iter().map(|(_, seq)| *seq)
    }

    /// Applies the changes of an update record.
    pub(super) fn apply(&mut self, update: &AttrSet) {
        for a in &update.attrs {
            self.set(Arc::clone(&a.key), a.value.clone(), a.seq);
        }
        for (key, seq) in &update.removed {
            self.remove(Arc::clone(key), *seq);
        }
    }

    fn set(&mut self, key: Arc<str>, value: AttributeValue, seq: u64) {
        if let Ok(i) = self.removed.binary_search_by(|(k, _)| k.cmp(&key)) {
            self.removed.remove(i);
        }
        match self.position(&key) {
            Ok(i) => {
                if let Some(slot) = self.attrs.get_mut(i) {
                    *slot = Attr { key, value, seq };
                }
            }
            Err(i) => {
                self.prefixes.insert(i, prefix(&key));
                self.attrs.insert(i, Attr { key, value, seq });
            }
        }
    }

    fn remove(&mut self, key: Arc<str>, seq: u64) {
        if let Ok(i) = self.position(&key) {
            self.attrs.remove(i);
            self.prefixes.remove(i);
        }
        match self.removed.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) => {
                if let Some(slot) = self.removed.get_mut(i) {
                    slot.1 = seq;
                }
            }
            Err(i) => self.removed.insert(i, (key, seq)),
        }
    }
}

/// Decoded attribute sections by layer and footer offset. Records may share
/// a section (a writer stores each distinct attribute set once), and then
/// their arrays share one decoded set: 100,000 arrays with the same 20
/// attributes hold 20 values, not 2,000,000, and look them up in memory
/// that stays in cache.
#[derive(Debug, Default)]
pub(crate) struct SectionCache(
    Mutex<HashMap<(u32, u32), Arc<AttrSet>, foldhash::fast::RandomState>>,
);

impl SectionCache {
    fn get(&self, key: (u32, u32)) -> Option<Arc<AttrSet>> {
        // A poisoned lock only costs the sharing.
        self.0.lock().ok()?.get(&key).cloned()
    }

    fn put(&self, key: (u32, u32), set: &Arc<AttrSet>) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(key, Arc::clone(set));
        }
    }

    pub(super) fn clear(&mut self) {
        if let Ok(map) = self.0.get_mut() {
            map.clear();
        }
    }
}

/// The attributes the record at `r` sets and removes, decoded and checked
/// (open passed over them).
pub(super) fn record_attrs(
    layers: &[Arc<LayerReader>],
    cache: &SectionCache,
    r: RecordRef,
) -> Result<Arc<AttrSet>> {
    let layer = layer_at(layers, r.layer)?;
    let records = layer.records();
    let wire = |w: String| records.damaged(w);
    let mut rec = records.reader(r.at as usize);
    let head = rec.head(&mut DefParts::default()).map_err(wire)?;
    let n = rec.attr_count(&head).map_err(wire)?;
    let key = u32::try_from(rec.attrs_position())
        .ok()
        .map(|at| (r.layer, at));
    let owner = Owner::Array(head.name);
    let set = match key.and_then(|k| cache.get(k)) {
        Some(set) => set,
        None => {
            let mut entries = Vec::with_capacity(n);
            for _ in 0..n {
                entries.push(rec.next_attr(&head, None).map_err(wire)?);
            }
            rec.end_attrs(&head).map_err(wire)?;
            let set = Arc::new(decode_set(layer, entries, owner)?);
            if let Some(k) = key {
                cache.put(k, &set);
            }
            set
        }
    };
    // A section shared with an update record may remove keys; a definition
    // may not.
    if matches!(head.op, Op::Define(_)) && !set.removed.is_empty() {
        return Err(wire(format!(
            "{owner}: attribute removal in a complete attribute set (a define record or a snapshot)"
        )));
    }
    Ok(set)
}

/// The file attributes the layer at `idx` sets and removes (a snapshot:
/// all of them), decoded and checked (open passed over them).
pub(super) fn file_attr_section(
    layers: &[Arc<LayerReader>],
    cache: &SectionCache,
    idx: u32,
) -> Result<Arc<AttrSet>> {
    let layer = layer_at(layers, idx)?;
    let records = layer.records();
    let wire = |w: String| records.damaged(w);
    let Some((first, entries)) = records.file_attr_entries(None).map_err(wire)? else {
        return Ok(Arc::default());
    };
    let key = u32::try_from(first).ok().map(|at| (idx, at));
    let set = match key.and_then(|k| cache.get(k)) {
        Some(set) => set,
        None => {
            let set = Arc::new(decode_set(layer, entries, Owner::File)?);
            if let Some(k) = key {
                cache.put(k, &set);
            }
            set
        }
    };
    if records.kind == crate::format::LayerKind::Snapshot && !set.removed.is_empty() {
        return Err(wire(format!(
            "{}: attribute removal in a complete attribute set (a define record or a snapshot)",
            Owner::File
        )));
    }
    Ok(set)
}

/// The set of the checked `entries` of one attribute section of `layer`,
/// values decoded; a key the section lists twice is damage.
fn decode_set(
    layer: &LayerReader,
    entries: Vec<AttrEntry<'_>>,
    owner: Owner<'_>,
) -> Result<AttrSet> {
    let records = layer.records();
    let wire = |w: String| records.damaged(w);
    let mut decoded: Vec<(Arc<str>, Option<AttributeValue>, u64)> =
        Vec::with_capacity(entries.len());
    for a in entries {
        let key = layer
            .keys
            .get(a.key)
            .cloned()
            .ok_or_else(|| wire(format!("attribute key {} is not in the dictionary", a.key)))?;
        let value = a.value.map(|v| v.decode()).transpose().map_err(wire)?;
        decoded.push((key, value, a.seq));
    }
    // Sorting finds a repeated key without a table the size of the key
    // dictionary, and is the order the set keeps anyway.
    decoded.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = decoded
        .windows(2)
        .find(|w| matches!(w, [a, b] if a.0 == b.0))
    {
        let key = w.first().map_or("", |e| &*e.0);
        return Err(wire(format!("{owner}: attribute {key:?} appears twice")));
    }
    let mut attrs = Vec::with_capacity(decoded.len());
    let mut removed = Vec::new();
    for (key, value, seq) in decoded {
        match value {
            Some(value) => attrs.push(Attr { key, value, seq }),
            None => removed.push((key, seq)),
        }
    }
    Ok(AttrSet::new(attrs, removed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_ordered_by_prefix_then_whole_are_in_string_order() {
        let keys = [
            "",
            "\0",
            "a",
            "a\0",
            "ab",
            "abcdefgh",
            "abcdefgh\0",
            "abcdefghi",
            "abcdefgi",
            "abcdefg",
            "b",
            "units",
            "units_long",
            "ß",
            "\u{10ffff}",
            "attr_00",
            "attr_19",
        ];
        let mut by_prefix: Vec<&str> = keys.to_vec();
        by_prefix.sort_by(|a, b| prefix(a).cmp(&prefix(b)).then_with(|| a.cmp(b)));
        let mut by_string = keys.to_vec();
        by_string.sort();
        assert_eq!(by_prefix, by_string);

        let mut set = AttrSet::default();
        for (i, k) in keys.iter().enumerate() {
            set.set(Arc::from(*k), AttributeValue::UInt64(i as u64), 1);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(set.get(k).unwrap().value, AttributeValue::UInt64(i as u64));
        }
        assert!(set.get("abcdefgh\0\0").is_none());
        set.remove(Arc::from("ab"), 2);
        assert!(set.get("ab").is_none());
        assert_eq!(set.removed("ab"), Some(2));
        let listed: Vec<&str> = set.all().iter().map(|a| &*a.key).collect();
        assert_eq!(listed.len(), keys.len() - 1);
        assert!(listed.windows(2).all(|w| w[0] < w[1]));
    }
}
