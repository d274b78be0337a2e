//! The table of visible committed arrays: in definition order, and by name.
//!
//! Open adds every array of a file to it, so it is built for that: entries
//! are appended to a vector in the order the records come, and the hash
//! table holds only their positions (four bytes each), which keeps inserts
//! in cache for 100,000 arrays and more. Definition order is vector order,
//! so listing needs no sort.

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use super::index::IndexedArray;

/// An array and its name.
#[derive(Debug)]
struct Slot {
    name: Box<str>,
    array: IndexedArray,
}

/// [`ArrayTable::define`] failed: 2^32 definitions since the last snapshot.
#[derive(Debug)]
pub(crate) struct TableFull;

/// The visible arrays, by name and in definition order.
#[derive(Debug, Default)]
pub(crate) struct ArrayTable {
    /// Every array defined since the last snapshot, in definition order;
    /// `None` once deleted or defined again (which takes a new slot).
    slots: Vec<Option<Slot>>,
    /// Positions in `slots` of the visible arrays, by name.
    by_name: HashTable<u32>,
    /// Seeded per process, so that crafted names cannot collide on purpose.
    hasher: foldhash::fast::RandomState,
}

impl ArrayTable {
    fn hash(&self, name: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, name)
    }

    fn slot_name(slots: &[Option<Slot>], i: u32) -> &str {
        slots
            .get(i as usize)
            .and_then(Option::as_ref)
            .map_or("", |s| &s.name)
    }

    /// Number of visible arrays.
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Makes room for `n` more arrays.
    pub(crate) fn reserve(&mut self, n: usize) {
        let Self {
            slots,
            by_name,
            hasher,
        } = self;
        slots.reserve(n);
        by_name.reserve(n, |&i| {
            std::hash::BuildHasher::hash_one(&*hasher, Self::slot_name(slots, i))
        });
    }

    /// Removes every array.
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.by_name.clear();
    }

    fn position(&self, name: &str) -> Option<u32> {
        let slots = &self.slots;
        self.by_name
            .find(self.hash(name), |&i| Self::slot_name(slots, i) == name)
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
        let slots = &mut self.slots;
        let entry = self
            .by_name
            .find_entry(hash, |&i| Self::slot_name(slots, i) == name)
            .ok()?;
        let (i, _) = entry.remove();
        slots.get_mut(i as usize)?.take().map(|s| s.array)
    }

    /// Adds array `name` as the newest definition; returns the array of
    /// that name it replaces. Fails if the table is full (2^32 definitions
    /// since the last snapshot).
    pub(crate) fn define(
        &mut self,
        name: &str,
        array: IndexedArray,
    ) -> Result<Option<IndexedArray>, TableFull> {
        let i = u32::try_from(self.slots.len()).map_err(|_| TableFull)?;
        let hash = self.hash(name);
        let Self {
            slots,
            by_name,
            hasher,
        } = self;
        let old = match by_name.entry(
            hash,
            |&j| Self::slot_name(slots, j) == name,
            |&j| std::hash::BuildHasher::hash_one(&*hasher, Self::slot_name(slots, j)),
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
        slots.push(Some(Slot {
            name: name.into(),
            array,
        }));
        Ok(old.map(|s| s.array))
    }

    /// The visible arrays with their names, in definition order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &IndexedArray)> {
        self.slots.iter().flatten().map(|s| (&*s.name, &s.array))
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
