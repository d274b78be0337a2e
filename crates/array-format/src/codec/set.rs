//! The codecs a handle reads and writes with: the built-ins, plus the one
//! it is configured with; and the resolution of the pipeline spec an array
//! records into the codec its frames are written with.

use std::sync::{Arc, Mutex};

use super::chain::Chain;
use super::filters::ByteFilter;
use super::pco::PcoCodec;
use super::pipeline::{Filter, Pipeline, PipelineCodec, PipelineError, pco_number};
use super::{CodecId, CodecSpecError, CompressionCodec, Lz4Codec, NoCompression};
use super::{ZstdCodec, spec::DEFAULT_ZSTD_LEVEL};
use crate::dtype::DType;

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

/// The codecs a file can decode (the built-ins, pco, chains of byte
/// filters before any of them, plus the configured one), and the
/// configured codec arrays without a recorded pipeline are written with.
#[derive(Clone)]
pub(crate) struct CodecSet {
    configured: WriteCodec,
    none: Arc<dyn CompressionCodec>,
    lz4: Arc<dyn CompressionCodec>,
    zstd: Arc<dyn CompressionCodec>,
    /// Decoders of the chains met so far, by block name.
    chains: Arc<Mutex<Vec<KeptChain>>>,
}

/// A chain's block name and its decoder.
type KeptChain = (String, Arc<dyn CompressionCodec>);

/// Decoders of chains kept per handle; a file naming more (only a made-up
/// one would) gets its decoders built per frame.
const KEPT_CHAINS: usize = 64;

impl std::fmt::Debug for CodecSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodecSet")
            .field("configured", &self.configured)
            .finish()
    }
}

impl CodecSet {
    pub(crate) fn new(configured: Arc<dyn CompressionCodec>) -> Self {
        Self {
            configured: WriteCodec::new(configured),
            none: Arc::new(NoCompression),
            lz4: Arc::new(Lz4Codec),
            // The level only matters for compression.
            zstd: Arc::new(ZstdCodec {
                level: DEFAULT_ZSTD_LEVEL,
            }),
            chains: Arc::default(),
        }
    }

    /// The configured codec: what chunks of arrays that record no pipeline
    /// are written with.
    pub(crate) fn configured(&self) -> &WriteCodec {
        &self.configured
    }

    /// The codec that decodes blocks recorded as `name`, if known.
    ///
    /// The built-in names always mean the built-in codecs, so a custom codec
    /// that reuses one of them cannot misread files.
    pub(crate) fn for_name(&self, name: &str) -> Option<Arc<dyn CompressionCodec>> {
        if let Some(c) = self.base(name) {
            return Some(c);
        }
        if let Ok(kept) = self.chains.lock()
            && let Some((_, c)) = kept.iter().find(|(n, _)| n == name)
        {
            return Some(Arc::clone(c));
        }
        let (filters, codec) = Chain::parse_block_name(name)?;
        let chain: Arc<dyn CompressionCodec> = Arc::new(Chain::new(filters, self.base(codec)?));
        if let Ok(mut kept) = self.chains.lock()
            && kept.len() < KEPT_CHAINS
        {
            kept.push((name.to_owned(), Arc::clone(&chain)));
        }
        Some(chain)
    }

    /// The codec of a block name without filters.
    fn base(&self, name: &str) -> Option<Arc<dyn CompressionCodec>> {
        match name {
            "none" => Some(Arc::clone(&self.none)),
            "lz4" => Some(Arc::clone(&self.lz4)),
            "zstd" => Some(Arc::clone(&self.zstd)),
            _ if name == self.configured.name() => Some(Arc::clone(&self.configured.codec)),
            _ if name.starts_with("pco:") => {
                PcoCodec::from_block_name(name).map(|c| Arc::new(c) as Arc<dyn CompressionCodec>)
            }
            _ => None,
        }
    }

    /// The canonical form of pipeline spec `spec` for arrays of `dtype`, and
    /// the codec their frames are written with: built-in codecs, pco, and
    /// the custom codec this handle is configured with, by its name, each
    /// after the spec's byte filters. Anything else, or a pipeline that
    /// does not suit `dtype`, is an error saying why, never another codec.
    pub(crate) fn resolve(&self, spec: &str, dtype: DType) -> Result<(String, WriteCodec), String> {
        let pipeline = match Pipeline::parse(spec) {
            Ok(p) => p,
            Err(e @ PipelineError::Codec(CodecSpecError::Unknown { .. })) => {
                return Err(format!(
                    "{e}, pco, pco:LEVEL, or the name of this handle's codec ({:?})",
                    self.configured.name()
                ));
            }
            Err(e) => return Err(e.to_string()),
        };
        pipeline.check_dtype(dtype).map_err(|e| e.to_string())?;
        let codec: Arc<dyn CompressionCodec> = match pipeline.codec() {
            PipelineCodec::Builtin(b) => Arc::new(*b),
            PipelineCodec::Pco(level) => pco_number(dtype)
                .and_then(|n| PcoCodec::new(n, *level))
                .map(|c| Arc::new(c) as Arc<dyn CompressionCodec>)
                .ok_or_else(|| format!("pco cannot compress {dtype} arrays"))?,
            PipelineCodec::Custom(name) if *name == self.configured.name() => {
                Arc::clone(&self.configured.codec)
            }
            PipelineCodec::Custom(name) => {
                return Err(format!(
                    "unknown codec {name:?}: use none, lz4, zstd, zstd:LEVEL, pco, pco:LEVEL, \
                     or the name of this handle's codec ({:?})",
                    self.configured.name()
                ));
            }
        };
        let width = dtype.element_size().unwrap_or(0);
        let filters: Vec<ByteFilter> = pipeline
            .filters()
            .iter()
            .filter_map(|f| match f {
                Filter::Delta => Some(ByteFilter::Delta(width)),
                Filter::Shuffle if width > 1 => Some(ByteFilter::Shuffle(width)),
                _ => None,
            })
            .collect();
        let codec = match filters.is_empty() {
            true => codec,
            false => Arc::new(Chain::new(filters, codec)),
        };
        Ok((pipeline.to_string(), WriteCodec::new(codec)))
    }

    /// The codec chunks of an array of `dtype` recording `spec` are written
    /// with: the configured one when it records none.
    pub(crate) fn writer_for(
        &self,
        spec: Option<&str>,
        dtype: DType,
    ) -> Result<WriteCodec, String> {
        match spec {
            None => Ok(self.configured.clone()),
            Some(spec) => self.resolve(spec, dtype).map(|(_, codec)| codec),
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
    fn pipelines_resolve_to_chains_named_for_the_element_type() {
        let set = CodecSet::new(Arc::new(Lz4Codec));
        for (spec, dtype, canonical, block) in [
            (
                "shuffle+zstd",
                DType::Float32,
                "shuffle+zstd:3",
                "shuffle:4+zstd",
            ),
            ("shuffle+zstd", DType::UInt8, "shuffle+zstd:3", "zstd"),
            (
                "delta+shuffle+lz4",
                DType::Int64,
                "delta+shuffle+lz4",
                "delta:8+shuffle:8+lz4",
            ),
            ("delta+none", DType::UInt8, "delta+none", "delta:1+none"),
            (
                "bitround:10+shuffle+zstd:5",
                DType::Float64,
                "bitround:10+shuffle+zstd:5",
                "shuffle:8+zstd",
            ),
            (
                "bitround:10+zstd:5",
                DType::Float32,
                "bitround:10+zstd:5",
                "zstd",
            ),
            ("pco", DType::TimestampNs, "pco:8", "pco:i64"),
            ("pco:2", DType::UInt8, "pco:2", "pco:u8"),
        ] {
            let (c, codec) = set.resolve(spec, dtype).unwrap();
            assert_eq!(
                (c.as_str(), codec.name()),
                (canonical, block),
                "{spec} {dtype}"
            );
            // Every block name a writer records, a reader decodes.
            let data: Vec<u8> = (0..4096u32).map(|i| (i / 16) as u8).collect();
            let z = codec.codec().compress(&data).unwrap();
            let reader = set.for_name(block).unwrap();
            assert_eq!(reader.decompress(&z, data.len()).unwrap(), data, "{block}");
        }
        for (spec, dtype, says) in [
            ("delta+zstd", DType::Float32, "differences of integers"),
            ("pco", DType::String, "pco compresses numbers"),
            ("shuffle+xor", DType::Int32, "unknown codec"),
            ("bitround:3+lz4", DType::Int16, "rounds floats"),
        ] {
            let e = set.resolve(spec, dtype).unwrap_err();
            assert!(e.contains(says), "{spec}: {e}");
        }
        assert!(set.for_name("shuffle:4+brotli").is_none());
        assert!(set.for_name("pco:bool").is_none());
        assert!(set.for_name("shuffle:4").is_none());
    }

    #[test]
    fn specs_resolve_to_built_ins_or_the_configured_custom_codec() {
        let set = CodecSet::new(Arc::new(Custom("xor")));
        let (spec, codec) = set.resolve("ZSTD", DType::Int32).unwrap();
        assert_eq!((spec.as_str(), codec.name()), ("zstd:3", "zstd"));
        let (spec, codec) = set.resolve("none", DType::Int32).unwrap();
        assert_eq!((spec.as_str(), codec.stores_raw()), ("none", true));
        let (spec, codec) = set.resolve("xor", DType::Int32).unwrap();
        assert_eq!((spec.as_str(), codec.name()), ("xor", "xor"));
        // Another custom name, or one differing in case, is refused.
        let e = set.resolve("brotli", DType::Int32).unwrap_err();
        assert!(e.contains("brotli") && e.contains("\"xor\""), "{e}");
        assert!(set.resolve("XOR", DType::Int32).is_err());
        assert!(
            set.resolve("zstd:30", DType::Int32)
                .unwrap_err()
                .contains("1-22")
        );
        assert_eq!(set.writer_for(None, DType::Int32).unwrap().name(), "xor");
        assert_eq!(
            set.writer_for(Some("lz4"), DType::Int32).unwrap().name(),
            "lz4"
        );
        // A handle configured with a built-in codec writes custom specs with
        // nothing: the built-in names always mean the built-ins.
        let set = CodecSet::new(Arc::new(Lz4Codec));
        assert!(set.writer_for(Some("xor"), DType::Int32).is_err());
        let set = CodecSet::new(Arc::new(Custom("lz4")));
        assert_eq!(set.resolve("lz4", DType::Int32).unwrap().0, "lz4");
    }
}
