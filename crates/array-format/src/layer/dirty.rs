//! Partially written chunks kept decoded in memory, so that a chunk that
//! several unaligned writes fill piece by piece is compressed once, when it
//! is evicted (least recently touched first, when the buffer is over its
//! byte budget) or committed, instead of once per write: the values, their
//! eviction order, and the rounds that seal evicted chunks on the rayon pool
//! while the writer goes on.

use std::any::Any;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rayon::prelude::*;

use crate::codec::WriteCodec;
use crate::element::ArrayElement;
use crate::error::{Error, Result};
use crate::stats::{ChunkStats, chunk_stats};

use super::compressed::Compressed;
use super::reader::worth_parallel;

/// The values of a buffered chunk, of any element type.
pub(crate) trait DirtyValues: Send + Sync + std::fmt::Debug {
    /// For patching in place by a writer that knows the element type.
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// Bytes the values occupy in memory.
    fn mem_bytes(&self) -> usize;
    /// Number of elements.
    fn len(&self) -> usize;
    /// The chunk's encoded bytes (borrowed for fixed-width types).
    fn encoded(&self) -> Result<Cow<'_, [u8]>>;
    /// The chunk's statistics.
    fn stats(&self) -> ChunkStats;
}

/// A buffered chunk of element type `T`: its values in C order and the
/// array's explicit fill element (for the statistics).
#[derive(Debug)]
pub(crate) struct Values<T: ArrayElement> {
    pub(crate) values: Vec<T>,
    pub(crate) fill: Option<T>,
}

impl<T: ArrayElement> DirtyValues for Values<T> {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn mem_bytes(&self) -> usize {
        self.values.capacity() * std::mem::size_of::<T>()
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    fn encoded(&self) -> Result<Cow<'_, [u8]>> {
        match T::pod_bytes(&self.values) {
            Some(bytes) => Ok(Cow::Borrowed(bytes)),
            None => T::encode_chunk(&self.values).map(Cow::Owned),
        }
    }

    fn stats(&self) -> ChunkStats {
        chunk_stats(&self.values, self.fill.as_ref())
    }
}

/// A buffered chunk in the eviction order.
#[derive(Debug)]
struct Entry {
    name: String,
    index: u64,
    /// Its `mem_bytes` when it was buffered (patching in place keeps it).
    bytes: usize,
    /// Written completely by one call and not touched since.
    complete: bool,
}

/// Ticks of touched chunks count up from here; chunks buffered complete
/// get ticks counting down from just below it, so they come first.
const FIRST_TICK: u64 = 1 << 63;

/// Which buffered chunks were touched when, and how many bytes they hold.
#[derive(Debug)]
pub(crate) struct DirtyIndex {
    /// Touch tick -> chunk; the first entry is evicted first.
    lru: BTreeMap<u64, Entry>,
    next_tick: u64,
    next_complete_tick: u64,
    /// Bytes held by the buffered chunks, and by those of them that are
    /// complete.
    bytes: usize,
    complete_bytes: usize,
}

impl Default for DirtyIndex {
    fn default() -> Self {
        Self {
            lru: BTreeMap::new(),
            next_tick: FIRST_TICK,
            next_complete_tick: FIRST_TICK - 1,
            bytes: 0,
            complete_bytes: 0,
        }
    }
}

impl DirtyIndex {
    /// Records a chunk of `bytes` bytes as touched now; returns its tick. A
    /// `complete` chunk (written whole, so done with unless written again)
    /// goes before every partly written one.
    pub(crate) fn insert(&mut self, name: &str, index: u64, bytes: usize, complete: bool) -> u64 {
        let tick = if complete {
            self.complete_bytes = self.complete_bytes.saturating_add(bytes);
            let t = self.next_complete_tick;
            self.next_complete_tick = t.saturating_sub(1);
            t
        } else {
            let t = self.next_tick;
            self.next_tick += 1;
            t
        };
        let entry = Entry {
            name: name.to_owned(),
            index,
            bytes,
            complete,
        };
        self.lru.insert(tick, entry);
        self.bytes = self.bytes.saturating_add(bytes);
        tick
    }

    /// Moves the chunk touched at `tick` to the most recent position (it is
    /// no longer known to be complete); returns its new tick.
    pub(crate) fn touch(&mut self, tick: u64) -> u64 {
        match self.lru.remove(&tick) {
            Some(mut entry) => {
                if entry.complete {
                    entry.complete = false;
                    self.complete_bytes = self.complete_bytes.saturating_sub(entry.bytes);
                }
                let new = self.next_tick;
                self.next_tick += 1;
                self.lru.insert(new, entry);
                new
            }
            None => tick,
        }
    }

    /// Moves the chunk at `tick` among the complete chunks, to be evicted
    /// first; returns its new tick.
    pub(crate) fn mark_complete(&mut self, tick: u64) -> u64 {
        match self.lru.remove(&tick) {
            Some(mut entry) => {
                if !entry.complete {
                    entry.complete = true;
                    self.complete_bytes = self.complete_bytes.saturating_add(entry.bytes);
                }
                let new = self.next_complete_tick;
                self.next_complete_tick = new.saturating_sub(1);
                self.lru.insert(new, entry);
                new
            }
            None => tick,
        }
    }

    /// Forgets the chunk touched at `tick`.
    pub(crate) fn remove(&mut self, tick: u64) {
        if let Some(entry) = self.lru.remove(&tick) {
            self.bytes = self.bytes.saturating_sub(entry.bytes);
            if entry.complete {
                self.complete_bytes = self.complete_bytes.saturating_sub(entry.bytes);
            }
        }
    }

    /// Bytes held by the buffered chunks.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Bytes held by the buffered chunks known to be complete.
    pub(crate) fn complete_bytes(&self) -> usize {
        self.complete_bytes
    }

    /// The chunks in eviction order (complete ones, then the least recently
    /// touched): tick, array, chunk index and bytes.
    pub(crate) fn oldest(&self) -> impl Iterator<Item = (u64, &str, u64, usize)> {
        self.lru
            .iter()
            .map(|(&tick, e)| (tick, e.name.as_str(), e.index, e.bytes))
    }
}

/// A buffered chunk measured and, when it gets a frame of its own (and the
/// codec does not store raw bytes), compressed: ready to be appended.
#[derive(Debug)]
pub(crate) struct Sealed {
    pub(crate) stats: ChunkStats,
    pub(crate) compressed: Option<Compressed<'static>>,
}

/// Seals buffered values with `codec` (their array's); chunks of at least
/// `frame_target` bytes get a frame of their own. Runs on any thread.
pub(crate) fn seal(
    codec: &WriteCodec,
    frame_target: usize,
    values: &dyn DirtyValues,
) -> Result<Sealed> {
    let bytes = values.encoded()?;
    let compressed = if bytes.len() >= frame_target && !codec.stores_raw() {
        Some(Compressed::new(codec, &bytes)?.into_owned())
    } else {
        None
    };
    Ok(Sealed {
        stats: values.stats(),
        compressed,
    })
}

/// Seals `chunks`, each with its codec, on the calling thread, on all cores
/// when there is enough to do; outcomes in order.
pub(crate) fn seal_all(
    frame_target: usize,
    chunks: &[(&dyn DirtyValues, &WriteCodec)],
) -> Vec<Result<Sealed>> {
    let total: usize = chunks.iter().map(|(v, _)| v.mem_bytes()).sum();
    if worth_parallel(chunks.len(), total as u64) {
        crate::pool::install(|| {
            chunks
                .par_iter()
                .map(|(v, codec)| seal(codec, frame_target, *v))
                .collect()
        })
    } else {
        chunks
            .iter()
            .map(|(v, codec)| seal(codec, frame_target, *v))
            .collect()
    }
}

/// A round of evicted chunks being sealed on the rayon pool.
#[derive(Debug)]
pub(crate) struct Round {
    /// Tells this round's chunks from those of other rounds.
    pub(crate) id: u64,
    /// (array, chunk index) of each chunk, in the order of the outcomes.
    pub(crate) chunks: Vec<(String, u64)>,
    /// Bytes the chunks hold.
    pub(crate) bytes: usize,
    /// The outcomes; a `Mutex` only so that the pending layer stays `Sync`
    /// (it is only ever used through `&mut`).
    results: Mutex<Receiver<Vec<Result<Sealed>>>>,
}

impl Round {
    /// Starts sealing `values`, each with its codec (the chunks `chunks`,
    /// holding `bytes` bytes).
    pub(crate) fn start(
        id: u64,
        chunks: Vec<(String, u64)>,
        values: Vec<(Arc<dyn DirtyValues>, WriteCodec)>,
        bytes: usize,
        frame_target: usize,
    ) -> Self {
        let (tx, rx) = sync_channel(1);
        crate::pool::spawn(move || {
            let refs: Vec<(&dyn DirtyValues, &WriteCodec)> =
                values.iter().map(|(v, c)| (v.as_ref(), c)).collect();
            // The receiver is gone when the pending layer was discarded.
            let _ = tx.send(seal_all(frame_target, &refs));
        });
        Self {
            id,
            chunks,
            bytes,
            results: Mutex::new(rx),
        }
    }

    /// The outcomes, one per chunk in order, once the round is done:
    /// waiting for it if `wait`, else `None` while it runs.
    ///
    /// A writer running on a rayon thread runs pending rayon work while it
    /// waits, so that the round cannot wait behind it for a thread.
    pub(crate) fn outcomes(&mut self, wait: bool) -> Option<Result<Vec<Result<Sealed>>>> {
        let lost = || Error::internal("a background compression stopped without a result");
        let Ok(rx) = self.results.get_mut() else {
            return Some(Err(lost()));
        };
        loop {
            match rx.try_recv() {
                Ok(v) => return Some(Ok(v)),
                Err(TryRecvError::Disconnected) => return Some(Err(lost())),
                Err(TryRecvError::Empty) if !wait => return None,
                Err(TryRecvError::Empty) => {}
            }
            match rayon::yield_now() {
                Some(rayon::Yield::Executed) => {}
                Some(rayon::Yield::Idle) => match rx.recv_timeout(Duration::from_millis(1)) {
                    Ok(v) => return Some(Ok(v)),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return Some(Err(lost())),
                },
                // Not a rayon thread: the pool's threads run the round.
                None => return Some(rx.recv().map_err(|_| lost())),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::codec::{CodecSet, Lz4Codec};

    #[test]
    fn touch_moves_a_chunk_to_the_back_and_remove_forgets_it() {
        let mut d = DirtyIndex::default();
        let a = d.insert("a", 0, 10, false);
        let b = d.insert("a", 1, 20, false);
        let _c = d.insert("b", 0, 30, false);
        assert_eq!(d.bytes(), 60);
        let a = d.touch(a);
        let order: Vec<(&str, u64, usize)> = d.oldest().map(|(_, n, i, b)| (n, i, b)).collect();
        assert_eq!(order, vec![("a", 1, 20), ("b", 0, 30), ("a", 0, 10)]);
        d.remove(b);
        d.remove(b);
        assert_eq!((d.oldest().count(), d.bytes()), (2, 40));
        d.remove(a);
        assert_eq!((d.oldest().count(), d.bytes()), (1, 30));
    }

    #[test]
    fn complete_chunks_go_first_until_touched_again() {
        let mut d = DirtyIndex::default();
        let _a = d.insert("a", 0, 10, false);
        let b = d.insert("a", 1, 20, true);
        let _c = d.insert("a", 2, 30, true);
        assert_eq!((d.bytes(), d.complete_bytes()), (60, 50));
        let order: Vec<u64> = d.oldest().map(|(_, _, i, _)| i).collect();
        assert_eq!(order, vec![2, 1, 0]);
        // Written again: no longer known complete, and the newest.
        let b = d.touch(b);
        assert_eq!(d.complete_bytes(), 30);
        let order: Vec<u64> = d.oldest().map(|(_, _, i, _)| i).collect();
        assert_eq!(order, vec![2, 0, 1]);
        // Filled up again: evicted first.
        d.mark_complete(b);
        assert_eq!(d.complete_bytes(), 50);
        let order: Vec<u64> = d.oldest().map(|(_, _, i, _)| i).collect();
        assert_eq!(order, vec![1, 2, 0]);
    }

    #[test]
    fn fixed_width_values_encode_without_a_copy() {
        let v = Values {
            values: vec![1.5f32, -2.0, 7.0],
            fill: Some(7.0),
        };
        assert!(matches!(v.encoded().unwrap(), Cow::Borrowed(_)));
        assert_eq!(v.encoded().unwrap().len(), 12);
        assert_eq!(v.stats().null_count, 1);
        let b = Values {
            values: vec![true, false],
            fill: None,
        };
        assert_eq!(&b.encoded().unwrap()[..], &[1, 0]);
        assert_eq!(b.mem_bytes(), 2);
    }

    #[test]
    fn a_round_seals_in_the_background_in_order() {
        let set = CodecSet::new(Arc::new(Lz4Codec));
        let none = set.writer_for(Some("none"), crate::DType::Int32).unwrap();
        let values: Vec<(Arc<dyn DirtyValues>, WriteCodec)> = (0..5u8)
            .map(|i| {
                let v = Arc::new(Values {
                    values: vec![i; 100 * usize::from(i)],
                    fill: None,
                }) as Arc<dyn DirtyValues>;
                // The last chunk's array stores its chunks uncompressed.
                let codec = if i == 4 { &none } else { set.configured() };
                (v, codec.clone())
            })
            .collect();
        let chunks = (0..5).map(|i| ("a".to_owned(), i)).collect();
        let mut round = Round::start(7, chunks, values, 1000, 150);
        let out = round.outcomes(true).unwrap().unwrap();
        assert_eq!(out.len(), 5);
        // Below the frame target (150 bytes): measured, not compressed.
        let sealed: Vec<&Sealed> = out.iter().map(|r| r.as_ref().unwrap()).collect();
        assert!(sealed[0].compressed.is_none() && sealed[1].compressed.is_none());
        assert!(sealed[2].compressed.is_some() && sealed[3].compressed.is_some());
        // Compressed with each chunk's codec: lz4 shrinks the run, `none`
        // leaves the bytes to be stored as they are.
        assert!(sealed[3].compressed.as_ref().unwrap().stored.len() < 100);
        assert!(sealed[4].compressed.is_none());
        assert_eq!(sealed[3].stats.null_count, 0);
        assert_eq!(sealed[0].stats.min_max, crate::stats::MinMax::Empty);
    }

    #[test]
    fn a_writer_on_the_only_rayon_thread_still_gets_its_round() {
        // One pool thread, and the writer waits on it: the round must run
        // there rather than wait for a free thread forever.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let out = pool.install(|| {
            let codec = CodecSet::new(Arc::new(Lz4Codec)).configured().clone();
            let values: Vec<(Arc<dyn DirtyValues>, WriteCodec)> = vec![(
                Arc::new(Values {
                    values: vec![3u8; 4096],
                    fill: None,
                }),
                codec,
            )];
            let chunks = vec![("a".to_owned(), 0)];
            let mut round = Round::start(1, chunks, values, 4096, 1024);
            round.outcomes(true).unwrap().unwrap()
        });
        assert!(out[0].as_ref().unwrap().compressed.is_some());
    }
}
