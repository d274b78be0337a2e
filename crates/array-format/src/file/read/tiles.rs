//! Chunks decoded on the thread pool as their frames arrive, and the box
//! each shares with the region copied into place.

use super::*;

impl ArrayFile {
    /// Reads the tiles of a region into `out` (shaped `out_shape`): frames
    /// in the frame cache are copied from there; the rest are fetched and,
    /// when there is enough to decode, each is decoded on the thread pool
    /// as soon as its request completes, while the others are still in
    /// flight.
    pub(super) async fn read_tiles<T: ArrayElement>(
        &self,
        tiles: Vec<Tile>,
        out_shape: &[usize],
        mut out: Vec<T>,
    ) -> Result<Vec<T>> {
        let cache = self.settings.cache.as_deref();
        let esize = T::DTYPE.element_size().unwrap_or(1);
        let mut missing: Vec<Tile> = Vec::with_capacity(tiles.len());
        let bytes = out_bytes(&mut out)?;
        for t in tiles {
            match self.cached_frame(t.layer, t.frame, t.len)? {
                Some(b) => place_tile(bytes, out_shape, &t, &b, esize)?,
                None => missing.push(t),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let total: usize = missing.iter().map(|t| t.len).sum();
        let parallel = worth_parallel(missing.len(), total as u64);
        let cx = Decoding {
            codecs: self.settings.codecs.clone(),
            cache: self.settings.cache.clone(),
            io_cached: crate::layer::io_cached(&self.store, cache),
            esize,
        };
        // Tiles of local files read directly are read by the thread that
        // decodes them; the others are fetched, per layer, and taken as
        // they arrive.
        let mut local: Vec<Job> = Vec::new();
        let mut by_layer: BTreeMap<u32, Vec<Option<Tile>>> = BTreeMap::new();
        for t in missing {
            let reader = self.layer(t.layer)?;
            // The pool thread that decodes a tile reads it, whatever its
            // size, into a buffer it keeps: no fresh memory per frame.
            if self.store.reads_by_system_call() {
                local.push(Job {
                    tile: t,
                    reader: Arc::clone(reader),
                    from: Source::SystemCall(self.store.clone()),
                });
            } else {
                by_layer.entry(t.layer).or_default().push(Some(t));
            }
        }
        let mut streams = Vec::with_capacity(by_layer.len());
        for (&layer, tiles) in &by_layer {
            let frames: Vec<u32> = tiles.iter().flatten().map(|t| t.frame).collect();
            let kept: Vec<bool> = tiles.iter().flatten().map(|t| t.keep).collect();
            let arrivals =
                self.layer(layer)?
                    .arrivals(&self.store, &frames, cache, Kept::Marked(&kept))?;
            streams.push(arrivals.map(move |a| a.map(|a| (layer, a))));
        }
        let mut arrivals = futures::stream::select_all(streams);
        let mut take = |layer: u32, i: usize, stored: Bytes, checked: bool| -> Result<Job> {
            let reader = Arc::clone(self.layer(layer)?);
            let tile = by_layer
                .get_mut(&layer)
                .and_then(|tiles| tiles.get_mut(i))
                .and_then(Option::take)
                .ok_or_else(|| {
                    Error::corrupted(reader.path.as_ref(), "a fetch returned an unasked frame")
                })?;
            Ok(Job {
                reader,
                tile,
                from: Source::Fetched { stored, checked },
            })
        };
        if !parallel {
            let bytes = out_bytes(&mut out)?;
            for t in local {
                t.run(&cx, |t, src| place_tile(bytes, out_shape, t, src, esize))?;
            }
            while let Some((layer, arrival)) = arrivals.try_next().await? {
                for (i, stored) in arrival.frames {
                    take(layer, i, stored, arrival.checked)?
                        .run(&cx, |t, src| place_tile(bytes, out_shape, t, src, esize))?;
                }
            }
            return Ok(out);
        }
        let shared = Arc::new((Mutex::new(out), out_shape.to_vec()));
        let mut decodes = Vec::new();
        for t in local {
            decodes.push(spawn_decode(t, cx.clone(), Arc::clone(&shared)));
        }
        while let Some((layer, arrival)) = arrivals.try_next().await? {
            for (i, stored) in arrival.frames {
                let job = take(layer, i, stored, arrival.checked)?;
                decodes.push(spawn_decode(job, cx.clone(), Arc::clone(&shared)));
            }
        }
        for decoded in decodes {
            decoded.await.map_err(|_| decode_thread_lost())??;
        }
        let (out, _) = Arc::try_unwrap(shared).map_err(|_| decode_thread_lost())?;
        out.into_inner().map_err(|_| decode_thread_lost())
    }
}
