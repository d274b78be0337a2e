//! The table of visible committed arrays: in definition order, and by name.
//!
//! Open adds every array of a file to it, so it is built for that: entries
//! are appended to a vector in the order the records come, names to one
//! string, and the hash table holds only entry positions (four bytes each),
//! which keeps inserts, and lookups among 100,000 arrays, mostly in cache.
//! Definition order is vector order, so listing needs no sort.

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use super::index::IndexedArray;

/// An array and where its name is in [`ArrayTable::names`].
#[derive(Debug)]
struct Slot {
    name_at: u32,
    name_len: u32,
    array: IndexedArray,
}

/// [`ArrayTable::define`] failed: 2^32 definitions, or 4 GiB of names,
/// since the last snapshot.
#[derive(Debug)]
pub(crate) struct TableFull;

/// The visible arrays, by name and in definition order.
#[derive(Debug, Default)]
pub(crate) struct ArrayTable {
    /// Every array defined since the last snapshot, in definition order;
    /// `None` once deleted or defined again (which takes a new slot).
    slots: Vec<Option<Slot>>,
    /// The names of the slots, back to back.
    names: String,
    /// Positions in `slots` of the visible arrays, by name.
    by_name: HashTable<u32>,
    /// Seeded per process, so that crafted names cannot collide on purpose.
    hasher: foldhash::fast::RandomState,
}

/// The name of slot `i`.
fn slot_name<'t>(names: &'t str, slots: &[Option<Slot>], i: u32) -> &'t str {
    slots
        .get(i as usize)
        .and_then(Option::as_ref)
        .and_then(|s| names.get(s.name_at as usize..(s.name_at as usize + s.name_len as usize)))
        .unwrap_or("")
}

impl ArrayTable {
    fn hash(&self, name: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, name)
    }

    /// Number of visible arrays.
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Makes room for `n` more arrays.
    pub(crate) fn reserve(&mut self, n: usize) {
        let Self {
            slots,
            names,
            by_name,
            hasher,
        } = self;
        slots.reserve(n);
        by_name.reserve(n, |&i| {
            std::hash::BuildHasher::hash_one(&*hasher, slot_name(names, slots, i))
        });
    }

    /// Removes every array.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.names.clear();
        self.by_name.clear();
    }

    fn position(&self, name: &str) -> Option<u32> {
        let (names, slots) = (&self.names, &self.slots);
        self.by_name
            .find(self.hash(name), |&i| slot_name(names, slots, i) == name)
            .copied()
    }

    /// Array `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&IndexedArray> {
        let i = self.position(name)?;
        self.slots
            .get(i as usize)
            .and_then(Option::as_ref)
            .map(|s| &s.array)
    }

    /// Array `name`, to change.
    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut IndexedArray> {
        let i = self.position(name)?;
        self.slots
            .get_mut(i as usize)
            .and_then(Option::as_mut)
            .map(|s| &mut s.array)
    }

    /// Whether array `name` is visible.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Removes array `name` and returns it.
    pub(crate) fn remove(&mut self, name: &str) -> Option<IndexedArray> {
        let hash = self.hash(name);
        let (names, slots) = (&self.names, &mut self.slots);
        let entry = self
            .by_name
            .find_entry(hash, |&i| slot_name(names, slots, i) == name)
            .ok()?;
        let (i, _) = entry.remove();
        slots.get_mut(i as usize)?.take().map(|s| s.array)
    }

    /// Adds array `name` as the newest definition; returns the array of
    /// that name it replaces.
    pub(crate) fn define(
        &mut self,
        name: &str,
        array: IndexedArray,
    ) -> Result<Option<IndexedArray>, TableFull> {
        let i = u32::try_from(self.slots.len()).map_err(|_| TableFull)?;
        let name_at = u32::try_from(self.names.len()).map_err(|_| TableFull)?;
        let name_len = u32::try_from(name.len()).map_err(|_| TableFull)?;
        name_at.checked_add(name_len).ok_or(TableFull)?;
        let hash = self.hash(name);
        let Self {
            slots,
            names,
            by_name,
            hasher,
        } = self;
        let old = match by_name.entry(
            hash,
            |&j| slot_name(names, slots, j) == name,
            |&j| std::hash::BuildHasher::hash_one(&*hasher, slot_name(names, slots, j)),
        ) {
            Entry::Occupied(mut e) => {
                let old = std::mem::replace(e.get_mut(), i);
                slots.get_mut(old as usize).and_then(Option::take)
            }
            Entry::Vacant(e) => {
                e.insert(i);
                None
            }
        };
        names.push_str(name);
        slots.push(Some(Slot {
            name_at,
            name_len,
            array,
        }));
        Ok(old.map(|s| s.array))
    }

    /// The visible arrays with their names, in definition order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &IndexedArray)> {
        let names = &self.names;
        self.slots.iter().flatten().map(move |s| {
            let name = names
                .get(s.name_at as usize..(s.name_at as usize + s.name_len as usize))
                .unwrap_or("");
            (name, &s.array)
        })
    }

    /// The visible arrays, in definition order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &IndexedArray> {
        self.iter().map(|(_, a)| a)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_arrays_in_definition_order() {
        let mut t = ArrayTable::default();
        for (i, name) in ["b", "a", "c"].into_iter().enumerate() {
            t.define(name, IndexedArray::for_test(i as u64)).unwrap();
        }
        assert_eq!(t.len(), 3);
        // Defining "b" again moves it to the end; deleting "a" drops it.
        let old = t.define("b", IndexedArray::for_test(7)).unwrap();
        assert_eq!(old.unwrap().defined_seq, 0);
        assert_eq!(t.remove("a").unwrap().defined_seq, 1);
        assert!(t.remove("a").is_none());
        assert!(!t.contains("a"));
        let listed: Vec<(&str, u64)> = t.iter().map(|(n, a)| (n, a.defined_seq)).collect();
        assert_eq!(listed, vec![("c", 2), ("b", 7)]);
        assert_eq!(t.get("b").unwrap().defined_seq, 7);
        t.get_mut("c").unwrap().defined_seq = 9;
        assert_eq!(t.get("c").unwrap().defined_seq, 9);
        assert!(t.get("zz").is_none());
        // Growth rehashes through the slots.
        for i in 0..1000 {
            t.define(&format!("x{i}"), IndexedArray::for_test(i))
                .unwrap();
        }
        assert_eq!(t.len(), 1002);
        assert_eq!(t.get("x999").unwrap().defined_seq, 999);
        t.clear();
        assert_eq!((t.len(), t.iter().count()), (0, 0));
    }
}
