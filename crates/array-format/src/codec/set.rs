//! The codecs a handle reads and writes with: the built-ins, plus the one
//! it is configured with.

use std::sync::Arc;

use super::spec::DEFAULT_ZSTD_LEVEL;
use super::{CodecId, CompressionCodec, Lz4Codec, NoCompression, ZstdCodec};

/// The codecs a file can decode: the built-ins plus the configured one.
#[derive(Clone)]
pub(crate) struct CodecSet {
    configured: Arc<dyn CompressionCodec>,
    configured_name: String,
    /// The configured codec stores frames as they are ("none" is always
    /// read back by [`NoCompression`]), so writers can skip the copy.
    stores_raw: bool,
}

impl CodecSet {
    pub(crate) fn new(configured: Arc<dyn CompressionCodec>) -> Self {
        let id = configured.id();
        Self {
            stores_raw: id == CodecId::None,
            configured_name: id.name().to_owned(),
            configured,
        }
    }

    /// The codec new frames are written with.
    pub(crate) fn writer(&self) -> &Arc<dyn CompressionCodec> {
        &self.configured
    }

    /// Whether the writing codec stores frames uncompressed.
    pub(crate) fn stores_raw(&self) -> bool {
        self.stores_raw
    }

    /// The on-disk name of the writing codec.
    pub(crate) fn writer_name(&self) -> &str {
        &self.configured_name
    }

    /// The codec that decodes blocks recorded as `name`, if known.
    ///
    /// The built-in names always mean the built-in codecs, so a custom codec
    /// that reuses one of them cannot misread files.
    pub(crate) fn for_name(&self, name: &str) -> Option<&dyn CompressionCodec> {
        match name {
            "none" => Some(&NoCompression),
            "lz4" => Some(&Lz4Codec),
            // The level only matters for compression.
            "zstd" => Some(&ZstdCodec {
                level: DEFAULT_ZSTD_LEVEL,
            }),
            _ if name == self.configured_name => Some(self.configured.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_set_resolves_names() {
        let set = CodecSet::new(Arc::new(ZstdCodec::new(9)));
        assert_eq!(set.writer_name(), "zstd");
        assert!(set.for_name("lz4").is_some());
        assert!(set.for_name("none").is_some());
        assert!(set.for_name("brotli").is_none());
    }
}
