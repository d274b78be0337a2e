//! [`ObjectPin`]: which object a layer's reads are tied to.

use std::fs::File;
use std::sync::{Arc, OnceLock};

use object_store::path::Path;
use object_store::{GetOptions, GetRange};

use crate::error::{Error, Result};

/// Ties every read of a layer to the object its footer came from.
///
/// A compaction deletes the layers it merged, and a writer with a stale view
/// may then create an object of the same name (an orphan, which it deletes
/// again). A reader that kept the old layer must see it vanish, never read
/// the new object's bytes through the old footer. So the first read records
/// what it read: the open file when the directory is read directly (files
/// opened with [`ArrayFile::open_path`](crate::ArrayFile::open_path)), else
/// the object's entity tag, which later reads send as `If-Match`.
///
/// A pin may also know the object's size in advance (a part, whose size
/// the layer adopting it records): the first read then checks that the
/// object it reaches has that size, so that a part replaced by another
/// object of its name is never read through the adopting layer's tables.
#[derive(Debug, Default)]
pub(crate) struct ObjectPin {
    pub(super) file: OnceLock<Arc<File>>,
    e_tag: OnceLock<String>,
    pub(super) size: Option<u64>,
}

impl ObjectPin {
    /// A pin on an object of `size` bytes, not reached yet.
    pub(crate) fn sized(size: u64) -> Self {
        Self {
            size: Some(size),
            ..Self::default()
        }
    }

    /// Fails unless the object reached, of `found` bytes, has the size the
    /// pin expects.
    pub(super) fn check_size(&self, path: &Path, found: u64) -> Result<()> {
        match self.size {
            Some(want) if want != found => Err(Error::corrupted(
                path.as_ref(),
                format!("the object is {found} bytes; the layer that adopts it says {want}"),
            )),
            _ => Ok(()),
        }
    }

    /// A pin on the object a put just created, by the tag it returned.
    pub(super) fn tagged(e_tag: Option<String>) -> Self {
        let pin = Self::default();
        if let Some(tag) = e_tag {
            let _ = pin.e_tag.set(tag);
        }
        pin
    }

    /// Records the tag of the object a read saw, unless one is recorded;
    /// `false` if the read saw another object than the one recorded (a
    /// store that ignores `If-Match` serves whatever holds the name now).
    pub(super) fn observe(&self, e_tag: Option<&String>) -> bool {
        match (e_tag, self.e_tag.get()) {
            (Some(seen), Some(pinned)) => seen == pinned,
            (Some(seen), None) => {
                let _ = self.e_tag.set(seen.clone());
                true
            }
            (None, _) => true,
        }
    }

    pub(super) fn get_options(&self, range: GetRange) -> GetOptions {
        GetOptions {
            range: Some(range),
            if_match: self.e_tag.get().cloned(),
            ..Default::default()
        }
    }
}
