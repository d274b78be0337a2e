//! Keeping the pending layer's buffer of partly written chunks within its
//! budget: eviction order, the rounds that seal evicted chunks (each with
//! its array's codec) in the background, and storing their outcomes.

use std::sync::Arc;

use crate::codec::WriteCodec;
use crate::error::{Error, Result};

use super::dirty::{DirtyValues, Round, Sealed, seal_all};
use super::frames::{FrameWriter, Lane};
use super::pending::{ChunkData, PendingLayer};

/// Buffered chunks are evicted in rounds of about this many bytes: enough
/// to compress on every core, little enough to bound the compressed copies
/// held at once.
const EVICT_ROUND_BYTES: usize = 32 * 1024 * 1024;

/// Complete chunks are sealed in the background once they hold this many
/// bytes, whatever the budget: they are done with, and compressing them
/// early leaves less for the commit.
const COMPLETE_ROUND_BYTES: usize = 4 * 1024 * 1024;

/// A chunk taken out of its record to be stored: array, index, the chunk.
type Taken = (String, u64, super::pending::PendingChunk);

impl PendingLayer {
    /// Bytes of decoded chunks held in memory, buffered or being sealed.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.dirty.bytes() + self.round.as_ref().map_or(0, |r| r.bytes)
    }

    /// Keeps the buffer within its budget. Complete chunks (written whole),
    /// once there are a few MiB of them, and past half the budget the least
    /// recently touched chunks, are sealed in the background, one round at
    /// a time, while the writer goes on (a partly written chunk that is
    /// complete is no longer touched, so it reaches the front); past the
    /// whole budget, the writer waits for that round and stores chunks
    /// itself down to half the budget. A finished round is collected on
    /// every call.
    pub(crate) fn evict_over_budget(&mut self) -> Result<()> {
        self.collect(false)?;
        let half = self.dirty_capacity / 2;
        let bytes = self.dirty.bytes();
        // Complete chunks come first in the eviction order: keeping the
        // others means evicting exactly those.
        let partial = bytes - self.dirty.complete_bytes().min(bytes);
        if self.buffered_bytes() > self.dirty_capacity {
            self.evict(half)
        } else if self.round.is_some() {
            Ok(())
        } else if bytes > half {
            self.start_round(half.min(partial));
            Ok(())
        } else if bytes - partial >= COMPLETE_ROUND_BYTES {
            self.start_round(partial);
            Ok(())
        } else {
            Ok(())
        }
    }

    /// Buffered chunks in eviction order (complete ones, then the least
    /// recently touched), until at most `keep` bytes would remain or a
    /// round's worth is chosen.
    fn oldest_round(&mut self, keep: usize) -> Vec<(String, u64)> {
        let mut round: Vec<(String, u64)> = Vec::new();
        let mut stale: Vec<u64> = Vec::new();
        let mut selected = 0usize;
        for (tick, name, index, bytes) in self.dirty.oldest() {
            if self.dirty.bytes().saturating_sub(selected) <= keep || selected >= EVICT_ROUND_BYTES
            {
                break;
            }
            let current = self
                .arrays
                .get(name)
                .and_then(|a| a.chunks.get(&index))
                .is_some_and(|c| matches!(c.data, ChunkData::Dirty { tick: t, .. } if t == tick));
            if current {
                round.push((name.to_owned(), index));
            } else {
                // Cannot happen (a replaced chunk leaves the index), but an
                // entry without its chunk must not stop eviction.
                stale.push(tick);
            }
            selected = selected.saturating_add(bytes.max(1));
        }
        for tick in stale {
            self.dirty.remove(tick);
        }
        round
    }

    /// Starts sealing one round of the least recently touched chunks in the
    /// background, towards `keep` buffered bytes.
    fn start_round(&mut self, keep: usize) {
        let chosen = self.oldest_round(keep);
        if chosen.is_empty() {
            return;
        }
        let id = self.next_round;
        self.next_round += 1;
        let mut chunks = Vec::with_capacity(chosen.len());
        let mut values = Vec::with_capacity(chosen.len());
        let mut bytes = 0usize;
        for (name, index) in chosen {
            let Some(chunk) = self
                .arrays
                .get_mut(&name)
                .and_then(|a| a.chunks.get_mut(&index))
            else {
                continue;
            };
            let ChunkData::Dirty {
                values: v,
                tick,
                lane,
                ..
            } = &chunk.data
            else {
                continue;
            };
            let (v, tick, lane) = (Arc::clone(v), *tick, *lane);
            bytes += v.mem_bytes();
            self.dirty.remove(tick);
            chunk.data = ChunkData::Sealing {
                values: Arc::clone(&v),
                round: id,
                lane,
            };
            values.push((v, self.frames.codec(lane).clone()));
            chunks.push((name, index));
        }
        let target = self.frames.frame_target();
        self.round = Some(Round::start(id, chunks, values, bytes, target));
    }

    /// Stores the chunks of the background round once it is done (waiting
    /// for it if `wait`). Chunks replaced meanwhile are left out; chunks
    /// that could not be stored go back to the buffer, nothing is lost.
    fn collect(&mut self, wait: bool) -> Result<()> {
        let Some(outcomes) = self.round.as_mut().and_then(|r| r.outcomes(wait)) else {
            return Ok(());
        };
        let Some(round) = self.round.take() else {
            return Ok(());
        };
        match outcomes {
            Ok(o) => self.finish_round(&round, o.into_iter().map(Some).collect()),
            Err(e) => {
                // Nothing was sealed: every chunk goes back to the buffer.
                let none = round.chunks.iter().map(|_| None).collect();
                let _ = self.finish_round(&round, none);
                Err(e)
            }
        }
    }

    /// Stores (or puts back) the chunks of `round` given their outcomes
    /// (`None`: not sealed). Returns the first error.
    fn finish_round(&mut self, round: &Round, outcomes: Vec<Option<Result<Sealed>>>) -> Result<()> {
        let mut first_error: Option<Error> = None;
        for ((name, index), outcome) in round.chunks.iter().zip(outcomes) {
            let Some(chunk) = self
                .arrays
                .get_mut(name)
                .and_then(|a| a.chunks.get_mut(index))
            else {
                continue;
            };
            let (values, lane) = match &chunk.data {
                ChunkData::Sealing {
                    values,
                    round: r,
                    lane,
                } if *r == round.id => (Arc::clone(values), *lane),
                // Replaced or rewritten since: this outcome is stale.
                _ => continue,
            };
            let stored = match outcome {
                Some(Ok(sealed)) if first_error.is_none() => {
                    Self::append(&mut self.frames, values.as_ref(), sealed, lane)
                }
                Some(Err(e)) => Err(e),
                _ => Err(Error::InvalidOperation {
                    operation: "write",
                    reason: "an earlier chunk of the same eviction could not be stored".into(),
                }),
            };
            chunk.data = match stored {
                Ok(data) => data,
                Err(e) => {
                    first_error.get_or_insert(e);
                    let tick = self.dirty.insert(name, *index, values.mem_bytes(), false);
                    ChunkData::Dirty {
                        values,
                        tick,
                        filled: 0,
                        lane,
                    }
                }
            };
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Appends a sealed chunk to the frames of `lane`.
    fn append(
        frames: &mut FrameWriter,
        values: &dyn DirtyValues,
        sealed: Sealed,
        lane: Lane,
    ) -> Result<ChunkData> {
        let loc = match &sealed.compressed {
            Some(c) => frames.add_compressed(lane, c)?,
            None => frames.add_chunk(lane, &values.encoded()?)?,
        };
        Ok(ChunkData::Stored {
            loc,
            stats: sealed.stats,
        })
    }

    /// Compresses and spills buffered chunks, least recently touched first,
    /// until at most `keep` bytes remain buffered, after storing the round
    /// in flight. On error the chunks not yet stored stay buffered: nothing
    /// is lost.
    pub(crate) fn evict(&mut self, keep: usize) -> Result<()> {
        self.collect(true)?;
        while self.dirty.bytes() > keep {
            let round = self.oldest_round(keep);
            if !round.is_empty() {
                self.store_round(round)?;
            }
        }
        Ok(())
    }

    /// Stores one round of buffered chunks: sealed in parallel when there
    /// is enough to compress, then appended in order. Every chunk goes back
    /// into its record, stored or (after an error) still buffered.
    fn store_round(&mut self, round: Vec<(String, u64)>) -> Result<()> {
        let mut taken: Vec<Taken> = Vec::with_capacity(round.len());
        for (name, index) in round {
            if let Some(chunk) = self
                .arrays
                .get_mut(&name)
                .and_then(|a| a.chunks.remove(&index))
            {
                taken.push((name, index, chunk));
            }
        }
        let values: Vec<(&dyn DirtyValues, &WriteCodec)> = taken
            .iter()
            .filter_map(|(_, _, c)| match &c.data {
                ChunkData::Dirty { values, lane, .. } => {
                    Some((values.as_ref(), self.frames.codec(*lane)))
                }
                _ => None,
            })
            .collect();
        let sealed = if values.len() == taken.len() {
            seal_all(self.frames.frame_target(), &values)
        } else {
            Vec::new()
        };
        let mut sealed = sealed.into_iter();
        let mut first_error: Option<Error> = None;
        for (name, index, mut chunk) in taken {
            let outcome = sealed.next();
            if first_error.is_none()
                && let (
                    ChunkData::Dirty {
                        values, tick, lane, ..
                    },
                    Some(outcome),
                ) = (&chunk.data, outcome)
            {
                let stored =
                    outcome.and_then(|s| Self::append(&mut self.frames, values.as_ref(), s, *lane));
                match stored {
                    Ok(data) => {
                        self.dirty.remove(*tick);
                        chunk.data = data;
                    }
                    Err(e) => first_error = Some(e),
                }
            }
            if let Some(a) = self.arrays.get_mut(&name) {
                a.chunks.insert(index, chunk);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::codec::{CodecSet, Lz4Codec, NoCompression};
    use crate::layer::Values;
    use crate::layer::pending::tests::{bytes, info, state, w};
    use crate::stats::MinMax;
    use crate::storage::SpillFile;
    use crate::value::StatValue;

    #[test]
    fn buffered_chunks_read_back_and_the_oldest_are_evicted_first() {
        // Every 4-byte chunk gets a frame of its own; the budget holds two.
        let mut p = PendingLayer::new(CodecSet::new(Arc::new(Lz4Codec)), 4, 8).unwrap();
        p.define(info("a"));
        for i in 0..3u8 {
            p.put_dirty("a", u64::from(i), bytes(&[i; 4]), 0, w());
        }
        assert_eq!(p.buffered_bytes(), 12);
        // Touching chunk 0 makes chunk 1 the least recently used.
        let v = p.dirty_mut("a", 0).unwrap();
        v.as_any_mut().downcast_mut::<Values<u8>>().unwrap().values[3] = 9;
        p.evict_over_budget().unwrap();
        // Down to half the budget: chunks 1 and 2 go, chunk 0 stays.
        assert_eq!(
            (state(&p, 0), state(&p, 1), state(&p, 2)),
            ("buffered", "stored", "stored")
        );
        assert_eq!(p.buffered_bytes(), 4);
        let read = |p: &PendingLayer, i: u64| {
            let c = p.get("a").unwrap().chunks.get(&i).unwrap();
            p.read_chunk(c).unwrap().to_vec()
        };
        assert_eq!(read(&p, 0), [0, 0, 0, 9]);
        assert_eq!(read(&p, 1), [1; 4]);
        assert_eq!(read(&p, 2), [2; 4]);
        // Under budget: nothing more is evicted.
        p.evict_over_budget().unwrap();
        assert_eq!(state(&p, 0), "buffered");
        // The commit stores it, with statistics of its final values.
        let (layout, records) = p.finish(1 << 20, 1).unwrap();
        assert_eq!(p.buffered_bytes(), 0);
        assert_eq!(layout.frames.len(), 3);
        let c0 = records[0].chunks.iter().find(|c| c.index == 0).unwrap();
        assert_eq!(
            c0.stats.min_max,
            MinMax::Range {
                min: StatValue::UInt(0),
                max: StatValue::UInt(9)
            }
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_eviction_is_an_error_and_keeps_the_chunk_buffered() {
        // Writes to /dev/full fail with "no space left on device"; a chunk
        // of 2 MiB is written past the spill file's write buffer at once.
        let full = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut p = PendingLayer::over(
            SpillFile::over(full),
            CodecSet::new(Arc::new(NoCompression)),
            1024,
            0,
        );
        p.define(info("a"));
        let big: Vec<u8> = (0..2 << 20).map(|i| i as u8).collect();
        p.put_dirty("a", 0, bytes(&big), 0, w());
        let e = p.evict_over_budget().unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert_eq!(state(&p, 0), "buffered");
        assert_eq!(p.buffered_bytes(), big.len());
        let c = p.get("a").unwrap().chunks.get(&0).unwrap();
        assert_eq!(p.read_chunk(c).unwrap(), big);
        assert!(matches!(
            p.finish(1 << 20, 1).unwrap_err(),
            Error::Io { .. }
        ));
        assert_eq!(state(&p, 0), "buffered");
    }

    #[test]
    fn past_half_the_budget_the_oldest_chunks_are_sealed_in_the_background() {
        let mut p = PendingLayer::new(CodecSet::new(Arc::new(Lz4Codec)), 4, 16).unwrap();
        p.define(info("a"));
        for i in 0..3u8 {
            p.put_dirty("a", u64::from(i), bytes(&[i; 4]), 0, w());
        }
        // 12 bytes: within the budget, past half of it.
        p.evict_over_budget().unwrap();
        assert_eq!(state(&p, 0), "sealing");
        assert_eq!(state(&p, 1), "buffered");
        assert_eq!(p.buffered_bytes(), 12);
        // One round at a time: nothing new starts while it runs.
        p.evict_over_budget().unwrap();
        assert_eq!(state(&p, 1), "buffered");
        // A chunk being sealed reads back, and a new version replaces it:
        // the round's outcome for it is dropped.
        let c = p.get("a").unwrap().chunks.get(&0).unwrap();
        assert_eq!(&p.read_chunk(c).unwrap()[..], &[0; 4]);
        p.put_dirty("a", 0, bytes(&[5; 4]), 0, w());
        p.evict(16).unwrap();
        assert_eq!(state(&p, 0), "buffered");
        let c = p.get("a").unwrap().chunks.get(&0).unwrap();
        assert_eq!(&p.read_chunk(c).unwrap()[..], &[5; 4]);
        let (layout, records) = p.finish(1 << 20, 1).unwrap();
        assert_eq!(layout.frames.len(), 3);
        let c0 = records[0].chunks.iter().find(|c| c.index == 0).unwrap();
        assert_eq!(
            c0.stats.min_max,
            MinMax::Range {
                min: StatValue::UInt(5),
                max: StatValue::UInt(5)
            }
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_background_eviction_surfaces_later_and_keeps_the_chunk() {
        let full = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut p = PendingLayer::over(
            SpillFile::over(full),
            CodecSet::new(Arc::new(NoCompression)),
            1024,
            3 << 20,
        );
        p.define(info("a"));
        let big: Vec<u8> = (0..2 << 20).map(|i| (i % 251) as u8).collect();
        p.put_dirty("a", 0, bytes(&big), 0, w());
        // Past half the budget: sealed in the background, stored later.
        p.evict_over_budget().unwrap();
        assert_eq!(state(&p, 0), "sealing");
        let e = p.finish(1 << 20, 1).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert_eq!(state(&p, 0), "buffered");
        assert_eq!(p.buffered_bytes(), big.len());
        let c = p.get("a").unwrap().chunks.get(&0).unwrap();
        assert_eq!(p.read_chunk(c).unwrap(), big);
    }

    #[test]
    fn complete_chunks_are_sealed_early_and_partial_ones_stay() {
        let mut p = PendingLayer::new(CodecSet::new(Arc::new(Lz4Codec)), 1024, 1 << 30).unwrap();
        p.define(info("a"));
        let mib = vec![1u8; 1 << 20];
        // Chunk 0 partly written, chunk 1 written whole.
        p.put_dirty("a", 0, bytes(&mib), 1 << 10, w());
        p.put_dirty("a", 1, bytes(&mib.repeat(3)), 3 << 20, w());
        // 3 MiB complete: below the threshold of an early round.
        p.evict_over_budget().unwrap();
        assert_eq!((state(&p, 0), state(&p, 1)), ("buffered", "buffered"));
        // Chunk 2 is filled by two writes: complete once they add up.
        p.put_dirty("a", 2, bytes(&mib), 1 << 19, w());
        p.dirty_mut("a", 2).unwrap();
        p.filled("a", 2, 1 << 19);
        p.evict_over_budget().unwrap();
        assert_eq!(
            (state(&p, 0), state(&p, 1), state(&p, 2)),
            ("buffered", "sealing", "sealing")
        );
        p.evict(usize::MAX).unwrap();
        assert_eq!(
            (state(&p, 0), state(&p, 1), state(&p, 2)),
            ("buffered", "stored", "stored")
        );
        assert_eq!(p.buffered_bytes(), 1 << 20);
    }

    #[test]
    fn buffered_chunks_are_sealed_with_their_array_s_codec() {
        // Chunks of 64 bytes, each a frame of its own; one round holds all.
        let mut p = PendingLayer::new(CodecSet::new(Arc::new(Lz4Codec)), 64, 1 << 20).unwrap();
        let zstd = p.lane(Some("zstd:7"), crate::dtype::DType::Int32).unwrap();
        let raw = p.lane(Some("none"), crate::dtype::DType::Int32).unwrap();
        for name in ["a", "b", "c"] {
            p.define(info(name));
        }
        let lanes = [("a", Lane::CONFIGURED), ("b", zstd), ("c", raw)];
        for (name, lane) in lanes {
            for i in 0..2u8 {
                let mut chunk_write = w();
                chunk_write.lane = lane;
                p.put_dirty(name, u64::from(i), bytes(&[i; 64]), 64, chunk_write);
            }
        }
        // In the background first, then whatever is left at once.
        p.evict_over_budget().unwrap();
        p.evict(0).unwrap();
        let (layout, records) = p.finish(1 << 20, 1).unwrap();
        let codec_of = |frame: u32| {
            let block = layout.frames[frame as usize].block as usize;
            layout.codecs[layout.blocks[block].codec as usize].as_str()
        };
        for r in &records {
            let expected = match r.name.as_str() {
                "a" => "lz4",
                "b" => "zstd",
                _ => "none",
            };
            assert_eq!(r.chunks.len(), 2);
            for c in &r.chunks {
                assert_eq!(codec_of(c.frame), expected, "{}", r.name);
            }
        }
        // Uncompressed frames hold the bytes as they are.
        let c = &records.iter().find(|r| r.name == "c").unwrap().chunks[0];
        assert_eq!(layout.frames[c.frame as usize].stored_len, 64);
    }
}
