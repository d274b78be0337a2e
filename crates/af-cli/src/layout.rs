//! Stored sizes, codecs and written chunks of an open file, gathered from
//! the library (`ArrayFile::array_storage`, `ArrayFile::array_codec`,
//! `ArrayFile::codecs`) for the reports of `af info` and `af ls`, and for
//! `af cp` to copy only the chunks that were written.

use std::collections::{BTreeSet, HashMap};

use array_format::ArrayFile;

/// What the visible layers of a file hold.
#[derive(Debug, Default)]
pub struct Layout {
    /// Codecs of the blocks of the visible layers.
    pub codecs: BTreeSet<String>,
    /// Per array: its written chunks and their sizes.
    pub arrays: HashMap<String, ArrayLayout>,
}

/// The written chunks of one array, and its codecs.
#[derive(Debug, Default, Clone)]
pub struct ArrayLayout {
    /// Linear indices of the chunks that were written.
    pub chunks: BTreeSet<u64>,
    /// Encoded (decompressed) bytes of those chunks.
    pub raw: u64,
    /// Their share of the stored (compressed) frame bytes.
    pub stored: u64,
    /// The codec the array records (`None`: each writer uses its own).
    pub codec: Option<String>,
    /// The codecs its chunks are stored with.
    pub stored_codecs: Vec<String>,
}

impl ArrayLayout {
    /// The array's codec as `af ls` shows it: the recorded spec, else, in
    /// parentheses, the codecs its chunks are stored with (`-` if none).
    pub fn codec_text(&self) -> String {
        match &self.codec {
            Some(c) => c.clone(),
            None if self.stored_codecs.is_empty() => "-".into(),
            None => format!("({})", self.stored_codecs.join(",")),
        }
    }
}

impl Layout {
    /// Every codec used by the visible layers' blocks.
    pub fn codecs(&self) -> BTreeSet<String> {
        self.codecs.clone()
    }

    /// A codec the file is written with: a good default for writing more
    /// to it (lz4 when the file uses it, else the first one found).
    pub fn writer_codec(&self) -> Option<&str> {
        self.codecs
            .get("lz4")
            .or_else(|| self.codecs.iter().next())
            .map(String::as_str)
    }

    /// Encoded bytes of all written chunks.
    pub fn raw(&self) -> u64 {
        self.arrays.values().map(|a| a.raw).sum()
    }
}

/// The layout of the committed state of `file`.
pub fn read(file: &ArrayFile) -> Layout {
    let mut layout = Layout {
        codecs: file.codecs().into_iter().collect(),
        arrays: HashMap::new(),
    };
    for meta in file.list_arrays() {
        let codec = file.array_codec(&meta.name).ok().flatten();
        // Arrays defined but not committed yet have no storage.
        let s = file.array_storage(&meta.name).unwrap_or_default();
        layout.arrays.insert(
            meta.name,
            ArrayLayout {
                chunks: s.written_chunks.into_iter().collect(),
                raw: s.raw_bytes,
                stored: s.stored_bytes,
                codec,
                stored_codecs: s.codecs,
            },
        );
    }
    layout
}
