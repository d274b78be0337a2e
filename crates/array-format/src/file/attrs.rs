//! Attributes: those of each array, and those of the file itself (what
//! xarray calls a dataset's attributes). Both are recorded by the layer the
//! next flush writes (a delta holds the changes, removals included; a
//! snapshot the complete set), merged across layers, kept by compaction,
//! and checked for conflicts per key against other writers.

use std::collections::BTreeMap;

use super::ArrayFile;
use super::index::AttrSet;
use super::schema::Resolved;
use crate::error::Result;
use crate::value::AttributeValue;

impl ArrayFile {
    /// Attribute `key` of array `name`; `None` if the array has no such
    /// attribute.
    ///
    /// Errors: [`Error::ArrayNotFound`](crate::Error::ArrayNotFound), and
    /// [`Error::Corrupted`](crate::Error::Corrupted) when the
    /// array's stored attributes are damaged (they are checked when the
    /// array's attributes are first read, not when the file is opened).
    pub fn get_attribute(&self, name: &str, key: &str) -> Result<Option<&AttributeValue>> {
        self.resolve(name)?.attribute(key)
    }

    /// Every attribute of array `name`, sorted by key. Errors as
    /// [`get_attribute`](Self::get_attribute).
    pub fn attributes(&self, name: &str) -> Result<Vec<(String, AttributeValue)>> {
        Ok(match self.resolve(name)? {
            // A pending definition holds every attribute, no removal.
            Resolved::Pending { record, .. } => merged(&AttrSet::default(), Some(&record.attrs)),
            Resolved::Committed {
                index,
                array,
                record,
                ..
            } => merged(index.attrs(array)?, record.map(|r| &r.attrs)),
        })
    }

    /// Sets attribute `key` of array `name`, replacing any previous value.
    /// Persisted by the next [`flush`](Self::flush).
    ///
    /// ```
    /// use array_format::{ArrayFile, AttributeValue, FileConfig, NoCompression};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut file = ArrayFile::create_memory(FileConfig::new(NoCompression)).await?;
    /// file.define_array::<f32>("p", vec![], vec![10], None, None)?;
    /// file.set_attribute("p", "units", AttributeValue::String("hPa".into()))?;
    /// file.set_attribute("p", "valid_range", vec![0.0f64, 1100.0].into())?;
    /// file.flush().await?;
    /// assert_eq!(file.get_attribute("p", "units")?, Some(&AttributeValue::String("hPa".into())));
    /// assert!(file.remove_attribute("p", "units")?);
    /// assert_eq!(file.attributes("p")?.len(), 1);
    /// # Ok::<(), array_format::Error>(()) }).unwrap();
    /// ```
    pub fn set_attribute(&mut self, name: &str, key: &str, value: AttributeValue) -> Result<()> {
        let base = self.base_of(&self.resolve(name)?);
        let record = self.pending_mut()?.record_mut(name, base);
        record.attrs.insert(key.to_owned(), Some(value));
        record.attr_bases.insert(key.to_owned(), base.seq);
        Ok(())
    }

    /// Removes attribute `key` of array `name`; returns whether it existed.
    pub fn remove_attribute(&mut self, name: &str, key: &str) -> Result<bool> {
        let resolved = self.resolve(name)?;
        let base = self.base_of(&resolved);
        let existed = resolved.attribute(key)?.is_some();
        let defined_here = matches!(resolved, Resolved::Pending { .. });
        let committed_has = match resolved {
            Resolved::Committed { index, array, .. } => index.attrs(array)?.get(key).is_some(),
            Resolved::Pending { .. } => false,
        };
        if !existed && !committed_has {
            return Ok(false);
        }
        let record = self.pending_mut()?.record_mut(name, base);
        if defined_here || !committed_has {
            record.attrs.remove(key);
        } else {
            record.attrs.insert(key.to_owned(), None);
        }
        record.attr_bases.insert(key.to_owned(), base.seq);
        Ok(existed)
    }

    /// Attribute `key` of the file itself; `None` if the file has no such
    /// attribute. Pending changes are included.
    ///
    /// The file's attributes behave exactly like an array's: recorded by
    /// the layer the next [`flush`](Self::flush) writes, merged across
    /// layers, kept by [`compact`](Self::compact), seen as of the layer a
    /// handle was opened at ([`FileConfig::as_of`](super::FileConfig::as_of)),
    /// and checked per key against other writers (a key another writer
    /// changed since this handle's view makes the flush a
    /// [`Conflict`](crate::Error::Conflict)).
    ///
    /// Errors: [`Error::Corrupted`](crate::Error::Corrupted) when the stored
    /// attributes are damaged (they are checked when first read, not when
    /// the file is opened).
    ///
    /// ```
    /// use array_format::{ArrayFile, AttributeValue, FileConfig, NoCompression};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut file = ArrayFile::create_memory(FileConfig::new(NoCompression)).await?;
    /// file.set_file_attribute("title", "Station data".into())?;
    /// file.set_file_attribute("version", AttributeValue::Int64(2))?;
    /// file.flush().await?;
    /// assert_eq!(file.file_attribute("title")?, Some(&AttributeValue::String("Station data".into())));
    /// assert!(file.remove_file_attribute("version")?);
    /// assert_eq!(file.file_attributes()?.len(), 1);
    /// # Ok::<(), array_format::Error>(()) }).unwrap();
    /// ```
    pub fn file_attribute(&self, key: &str) -> Result<Option<&AttributeValue>> {
        if let Some(change) = self
            .pending
            .as_ref()
            .and_then(|p| p.file_attrs().changes.get(key))
        {
            return Ok(change.as_ref());
        }
        Ok(self.index.file_attrs()?.get(key).map(|a| &a.value))
    }

    /// Every attribute of the file itself, sorted by key. Errors as
    /// [`file_attribute`](Self::file_attribute).
    pub fn file_attributes(&self) -> Result<Vec<(String, AttributeValue)>> {
        let changes = self.pending.as_ref().map(|p| &p.file_attrs().changes);
        Ok(merged(self.index.file_attrs()?, changes))
    }

    /// Sets attribute `key` of the file itself, replacing any previous
    /// value. Persisted by the next [`flush`](Self::flush).
    ///
    /// Errors: [`Error::InvalidOperation`](crate::Error::InvalidOperation)
    /// on a read-only handle.
    pub fn set_file_attribute(&mut self, key: &str, value: AttributeValue) -> Result<()> {
        let base = self.index.latest_seq();
        self.pending_mut()?.set_file_attr(key, value, base);
        Ok(())
    }

    /// Removes attribute `key` of the file itself; returns whether it
    /// existed. Persisted by the next [`flush`](Self::flush).
    ///
    /// Errors: as [`file_attribute`](Self::file_attribute) and
    /// [`set_file_attribute`](Self::set_file_attribute).
    pub fn remove_file_attribute(&mut self, key: &str) -> Result<bool> {
        let existed = self.file_attribute(key)?.is_some();
        let committed = self.index.file_attrs()?.get(key).is_some();
        if !existed && !committed {
            return Ok(false);
        }
        let base = self.index.latest_seq();
        self.pending_mut()?.remove_file_attr(key, committed, base);
        Ok(existed)
    }
}

/// The attributes of `committed` with the pending `changes` (`None`
/// removes a key) on top, sorted by key.
fn merged(
    committed: &AttrSet,
    changes: Option<&BTreeMap<String, Option<AttributeValue>>>,
) -> Vec<(String, AttributeValue)> {
    let mut out: BTreeMap<&str, &AttributeValue> = committed
        .all()
        .iter()
        .map(|a| (&*a.key, &a.value))
        .collect();
    for (k, change) in changes.into_iter().flatten() {
        match change {
            Some(v) => out.insert(k, v),
            None => out.remove(k.as_str()),
        };
    }
    out.into_iter()
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect()
}
