//! Whole-frame chunks decoded straight into the output bytes.

use super::*;

impl ArrayFile {
    /// Decodes whole-frame chunks straight into the output bytes, fetching
    /// what the caches lack (per layer, by read unit or coalesced ranges),
    /// on all cores when there is enough to decode.
    pub(super) async fn read_direct<T: ArrayElement>(
        &self,
        direct: &mut [Direct],
        out: &mut [T],
    ) -> Result<()> {
        let bytes = out_bytes(out)?;
        direct.sort_by_key(|d| d.start);
        let mut targets: Vec<(&mut Direct, &mut [u8])> = Vec::with_capacity(direct.len());
        let mut rest: &mut [u8] = bytes;
        let mut consumed = 0usize;
        for d in direct.iter_mut() {
            let skip = d.start.checked_sub(consumed);
            let (_, tail) = skip
                .and_then(|k| std::mem::take(&mut rest).split_at_mut_checked(k))
                .ok_or_else(|| direct_overlap(d.start))?;
            let (mine, tail) = tail
                .split_at_mut_checked(d.len)
                .ok_or_else(|| direct_overlap(d.start))?;
            rest = tail;
            consumed = d.start + d.len;
            targets.push((d, mine));
        }
        // Decoded frames already cached are copied; the rest are fetched.
        let mut pending: Vec<(&mut Direct, &mut [u8])> = Vec::with_capacity(targets.len());
        for (d, dst) in targets {
            match self.cached_frame(d.layer, d.frame, dst.len())? {
                Some(b) => dst.copy_from_slice(&b),
                None => pending.push((d, dst)),
            }
        }
        let codecs = &self.settings.codecs;
        let total: usize = pending.iter().map(|(d, _)| d.len).sum();
        let parallel = worth_parallel(pending.len(), total as u64);
        // Frames of a local file read directly are read by the thread that
        // decodes them (see `Source::SystemCall`): on the pool when there is enough
        // to decode, else here, frames small enough for an async task.
        if self.store.reads_by_system_call() {
            let read = |(d, dst): (&mut Direct, &mut [u8])| -> Result<()> {
                read_frame_by_system_call(self.layer(d.layer)?, &self.store, d.frame, dst, codecs)
            };
            if parallel {
                return crate::pool::install(|| pending.into_par_iter().try_for_each(read));
            }
            let mut rest = Vec::with_capacity(pending.len());
            for (d, dst) in pending {
                let stored_len = self.layer(d.layer)?.frame(d.frame)?.stored_len;
                if self.store.reads_inline(stored_len) {
                    read((d, dst))?;
                } else {
                    rest.push((d, dst));
                }
            }
            pending = rest;
        }
        let ids: Vec<(u32, u32)> = pending.iter().map(|(d, _)| (d.layer, d.frame)).collect();
        for ((d, _), stored) in pending.iter_mut().zip(self.stored_of(&ids).await?) {
            d.stored = stored;
        }
        let decode = |(d, dst): (&mut Direct, &mut [u8])| -> Result<()> {
            self.layer(d.layer)?
                .decode_into(d.frame, &d.stored, dst, codecs)
        };
        let total: usize = pending.iter().map(|(d, _)| d.len).sum();
        if worth_parallel(pending.len(), total as u64) {
            crate::pool::install(|| pending.into_par_iter().try_for_each(decode))
        } else {
            pending.into_iter().try_for_each(decode)
        }
    }
}
