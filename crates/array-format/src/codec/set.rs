//! The codecs a handle reads and writes with: the built-ins, plus the one
//! it is configured with; and the resolution of the codec spec an array
//! records into the codec its chunks are written with.

use std::sync::Arc;

use super::{BuiltinCodec, CodecId, CodecSpecError, CompressionCodec, Lz4Codec, NoCompression};
use super::{ZstdCodec, spec::DEFAULT_ZSTD_LEVEL};

/// A codec frames are written with, and what writers need to know of it.
#[derive(Clone)]
pub(crate) struct WriteCodec {
    codec: Arc<dyn CompressionCodec>,
    /// The name its blocks record.
    name: Arc<str>,
    /// It stores frames as they are ("none" is always read back by
    /// [`NoCompression`]), so writers can skip the copy.
    stores_raw: bool,
}

impl WriteCodec {
    fn new(codec: Arc<dyn CompressionCodec>) -> Self {
        let id = codec.id();
        Self {
            stores_raw: id == CodecId::None,
            name: Arc::from(id.name()),
            codec,
        }
    }

    /// The codec.
    pub(crate) fn codec(&self) -> &dyn CompressionCodec {
        self.codec.as_ref()
    }

    /// The name its blocks record.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Whether it stores frames uncompressed.
    pub(crate) fn stores_raw(&self) -> bool {
        self.stores_raw
    }
}

impl std::fmt::Debug for WriteCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// The codecs a file can decode (the built-ins plus the configured one),
/// and the configured codec arrays without a recorded codec are written
/// with.
#[derive(Clone, Debug)]
pub(crate) struct CodecSet {
    configured: WriteCodec,
}

impl CodecSet {
    pub(crate) fn new(configured: Arc<dyn CompressionCodec>) -> Self {
        Self {
            configured: WriteCodec::new(configured),
        }
    }

    /// The configured codec: what chunks of arrays that record no codec are
    /// written with.
    pub(crate) fn configured(&self) -> &WriteCodec {
        &self.configured
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
            _ if name == self.configured.name() => Some(self.configured.codec()),
            _ => None,
        }
    }

    /// The canonical form of codec spec `spec` and the codec it names: a
    /// built-in codec (`none`, `lz4`, `zstd`, `zstd:LEVEL`), or the custom
    /// codec this handle is configured with, by its name. Anything else is
    /// an error saying why, never another codec.
    pub(crate) fn resolve(&self, spec: &str) -> Result<(String, WriteCodec), String> {
        match BuiltinCodec::parse(spec) {
            Ok(b) => Ok((b.to_string(), WriteCodec::new(Arc::new(b)))),
            Err(CodecSpecError::Unknown { .. })
                if spec == self.configured.name() && BuiltinCodec::from_name(spec).is_none() =>
            {
                Ok((spec.to_owned(), self.configured.clone()))
            }
            Err(e @ CodecSpecError::Unknown { .. }) => Err(format!(
                "{e}, or the name of this handle's codec ({:?})",
                self.configured.name()
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The codec chunks of an array recording `spec` are written with: the
    /// configured one when it records none.
    pub(crate) fn writer_for(&self, spec: Option<&str>) -> Result<WriteCodec, String> {
        match spec {
            None => Ok(self.configured.clone()),
            Some(spec) => self.resolve(spec).map(|(_, codec)| codec),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::Result;

    struct Custom(&'static str);

    impl CompressionCodec for Custom {
        fn id(&self) -> CodecId {
            CodecId::Named(self.0.into())
        }
        fn compress(&self, data: &[u8]) -> Result<Vec<u8>> {
            Ok(data.to_vec())
        }
        fn decompress(&self, data: &[u8], _: usize) -> Result<Vec<u8>> {
            Ok(data.to_vec())
        }
    }

    #[test]
    fn codec_set_resolves_block_names() {
        let set = CodecSet::new(Arc::new(ZstdCodec::new(9)));
        assert_eq!(set.configured().name(), "zstd");
        assert!(set.for_name("lz4").is_some());
        assert!(set.for_name("none").is_some());
        assert!(set.for_name("brotli").is_none());
        let set = CodecSet::new(Arc::new(Custom("brotli")));
        assert!(set.for_name("brotli").is_some());
    }

    #[test]
    fn specs_resolve_to_built_ins_or_the_configured_custom_codec() {
        let set = CodecSet::new(Arc::new(Custom("xor")));
        let (spec, codec) = set.resolve("ZSTD").unwrap();
        assert_eq!((spec.as_str(), codec.name()), ("zstd:3", "zstd"));
        let (spec, codec) = set.resolve("none").unwrap();
        assert_eq!((spec.as_str(), codec.stores_raw()), ("none", true));
        let (spec, codec) = set.resolve("xor").unwrap();
        assert_eq!((spec.as_str(), codec.name()), ("xor", "xor"));
        // Another custom name, or one differing in case, is refused.
        let e = set.resolve("brotli").unwrap_err();
        assert!(e.contains("brotli") && e.contains("\"xor\""), "{e}");
        assert!(set.resolve("XOR").is_err());
        assert!(set.resolve("zstd:30").unwrap_err().contains("1-22"));
        assert_eq!(set.writer_for(None).unwrap().name(), "xor");
        assert_eq!(set.writer_for(Some("lz4")).unwrap().name(), "lz4");
        // A handle configured with a built-in codec writes custom specs with
        // nothing: the built-in names always mean the built-ins.
        let set = CodecSet::new(Arc::new(Lz4Codec));
        assert!(set.writer_for(Some("xor")).is_err());
        let set = CodecSet::new(Arc::new(Custom("lz4")));
        assert_eq!(set.resolve("lz4").unwrap().0, "lz4");
    }
}
