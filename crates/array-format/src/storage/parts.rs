//! Naming and listing the staged parts of a file (`docs/FORMAT.md` 1.2):
//! objects `{stem}.parts/{32 hex digits}.af` that writers stage chunks in
//! and a delta layer later adopts. They live in a directory of their own,
//! so that opening a file, which lists the base's directory only, never
//! pays for them.

use object_store::ObjectMeta;
use object_store::path::Path;

use super::objects::raw_path;
use super::store::FileStore;
use crate::error::Result;

/// The identity of a part, as its name spells it.
type PartId = [u8; 16];

/// `id` as 32 lowercase hex digits, its bytes in order.
fn hex(id: &PartId) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// The identity a part's file name (`{32 lowercase hex digits}.af`) spells.
fn parse_part_file(file: &str) -> Option<PartId> {
    let digits = file.strip_suffix(".af")?;
    if digits.len() != 32
        || !digits
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut id = [0u8; 16];
    for (slot, pair) in id.iter_mut().zip(digits.as_bytes().chunks(2)) {
        *slot = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(id)
}

impl FileStore {
    /// The directory of the file's parts, `{stem}.parts`.
    pub(crate) fn parts_dir(&self) -> Path {
        raw_path(&format!("{}.parts", self.stem()))
    }

    /// The object path of the part with identity `id`.
    pub(crate) fn part_path(&self, id: &PartId) -> Path {
        raw_path(&format!("{}.parts/{}.af", self.stem(), hex(id)))
    }

    /// The name of part `id` relative to the base's directory,
    /// `{name}.parts/{hex}.af`: what a worker hands its coordinator, which
    /// may reach the same directory under another prefix.
    pub(crate) fn part_name(&self, id: &PartId) -> String {
        let stem = self.stem();
        let name = stem.rsplit('/').next().unwrap_or(stem);
        format!("{name}.parts/{}.af", hex(id))
    }

    /// The identity of the part that `name` (relative to the base's
    /// directory, as [`part_name`](Self::part_name) gives it) names, if it
    /// names a part of this file.
    pub(crate) fn parse_part_name(&self, name: &str) -> Option<PartId> {
        let id = parse_part_file(name.rsplit('/').next()?)?;
        (self.part_name(&id) == name).then_some(id)
    }

    /// The identity of the part at object path `path`, if it is a part of
    /// this file.
    pub(crate) fn parse_part(&self, path: &Path) -> Option<PartId> {
        let id = parse_part_file(path.as_ref().rsplit('/').next()?)?;
        (self.part_path(&id) == *path).then_some(id)
    }

    /// Every part object of this file (one listing of its parts directory;
    /// none when it does not exist).
    pub(crate) async fn list_parts(&self) -> Result<Vec<ObjectMeta>> {
        let dir = self.parts_dir();
        Ok(self
            .list_dir(&dir)
            .await?
            .into_iter()
            .filter(|m| self.parse_part(&m.location).is_some())
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, PutPayload};

    use super::*;

    #[test]
    fn part_names_spell_the_id() {
        let s = FileStore::new(Arc::new(InMemory::new()), Path::from("dir/data.af")).unwrap();
        let mut id = [0u8; 16];
        id[0] = 0xab;
        id[15] = 0x01;
        let path = s.part_path(&id);
        assert_eq!(
            path.as_ref(),
            "dir/data.parts/ab000000000000000000000000000001.af"
        );
        assert_eq!(s.parse_part(&path), Some(id));
        let name = s.part_name(&id);
        assert_eq!(name, "data.parts/ab000000000000000000000000000001.af");
        assert_eq!(s.parse_part_name(&name), Some(id));
        for other in [
            "dir/data.parts/ab000000000000000000000000000001",
            "dir/data.parts/AB000000000000000000000000000001.af",
            "dir/data.parts/ab00000000000000000000000000001.af",
            "dir/data.parts/xb000000000000000000000000000001.af",
            "dir/data.parts/+b000000000000000000000000000001.af",
            "dir/other.parts/ab000000000000000000000000000001.af",
            "dir/data.parts/x/ab000000000000000000000000000001.af",
            "dir/ab000000000000000000000000000001.af",
        ] {
            assert_eq!(s.parse_part(&Path::from(other)), None, "{other}");
        }
        for other in [
            "other.parts/ab000000000000000000000000000001.af",
            "../data.parts/ab000000000000000000000000000001.af",
            "ab000000000000000000000000000001.af",
        ] {
            assert_eq!(s.parse_part_name(other), None, "{other}");
        }
    }

    #[tokio::test]
    async fn parts_are_listed_apart_from_layers() {
        let store = Arc::new(InMemory::new());
        let s = FileStore::new(store.clone(), Path::from("d/f.af")).unwrap();
        assert!(s.list_parts().await.unwrap().is_empty());
        let part = s.part_path(&[3; 16]);
        for p in [
            part.clone(),
            Path::from("d/f.parts/junk.af"),
            s.layer_path(1),
        ] {
            store.put(&p, PutPayload::from_static(b"x")).await.unwrap();
        }
        let parts: Vec<Path> = s
            .list_parts()
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.location)
            .collect();
        assert_eq!(parts, vec![part]);
        assert_eq!(s.list_layers().await.unwrap().len(), 1);
    }
}
