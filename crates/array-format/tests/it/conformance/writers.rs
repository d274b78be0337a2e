//! Two handles on one file racing commits (`writers.rs`), on every store:
//! each scenario on a fresh store of the backend's kind.

use af_testkit::Backend;

use crate::writers::{
    conflict_cases, disjoint_cases, layer_name_taken_again, place_on, race_for_same_layer,
    retry_conflicts, retry_succeeds, stale_writer_after_compaction, vanished,
};

async fn writers(backend: Backend, _test: &'static str) {
    let place = || place_on(backend.another());
    // Both commit: the loser of the race for a layer number refreshes and
    // commits after the winner.
    race_for_same_layer(place()).await;
    let disjoint = disjoint_cases();
    for i in backend.sample(disjoint.len()) {
        let (case, a, b) = &disjoint[i];
        retry_succeeds(place(), case, a, b).await;
    }
    // Colliding changes: a `Conflict` every time, B's changes kept, nothing
    // of B committed.
    let conflicts = conflict_cases();
    for i in backend.sample(conflicts.len()) {
        let (case, a, b) = &conflicts[i];
        retry_conflicts(place(), case, a, b).await;
    }
    // A stale writer whose layers another handle compacted away.
    stale_writer_after_compaction(place(), true).await;
    stale_writer_after_compaction(place(), false).await;
    // A reader whose layers another handle compacted away (or replaced):
    // `Vanished`, or on stores whose reads outlive a delete, its snapshot.
    vanished(place()).await;
    layer_name_taken_again(place()).await;
}

per_backend!(writers);
