//! What cannot be staged, and parts that cannot be adopted: missing,
//! truncated, damaged, foreign, of another file, listed twice; damaged
//! descriptions; damage in an adopted part's frames after the commit. Each
//! is a typed error, never a panic, and nothing becomes visible.

use std::sync::Arc;

use array_format::{ArrayFile, AttributeValue, Error, FileConfig, StagedPart};
use bytes::Bytes;
use ndarray::{ArrayD, IxDyn};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::{Place, config, define, expected_grid, grid, memory, work};

#[tokio::test]
async fn deletions_and_attribute_changes_cannot_be_staged() {
    let place = memory();
    let _ = define(&place).await;
    type Change = fn(&mut ArrayFile);
    let changes: [(Change, &str); 5] = [
        (
            |f| {
                f.define_array::<u8>("new", vec![], vec![2], None, None)
                    .unwrap();
                f.set_attribute("new", "units", AttributeValue::String("K".into()))
                    .unwrap()
            },
            "the attributes of new array \"new\"",
        ),
        (
            |f| f.delete("names").unwrap(),
            "the deletion of array \"names\"",
        ),
        (
            |f| {
                f.set_attribute("grid", "units", AttributeValue::String("K".into()))
                    .unwrap()
            },
            "a change to the attributes of array \"grid\"",
        ),
        (
            |f| {
                f.set_file_attribute("title", AttributeValue::String("t".into()))
                    .unwrap()
            },
            "a change to the file's attributes",
        ),
        (
            |f| f.delete("grid").unwrap(),
            "the deletion of array \"grid\"",
        ),
    ];
    for (change, what) in changes {
        let mut f = place.open_with(config()).await;
        work(&mut f, 0).await;
        change(&mut f);
        match f.stage().await.unwrap_err() {
            Error::NotStageable { change } => assert_eq!(change, what),
            other => panic!("{other:?}"),
        }
        // Nothing was written: the changes are still pending.
        assert!(f.has_pending_changes());
        f.discard_pending();
    }
    let (_, parts) = parts_in(&place).await;
    assert!(parts.is_empty(), "{parts:?}");
}

/// The store of a place and its part objects.
async fn parts_in(place: &Place) -> (Arc<dyn ObjectStore>, Vec<Path>) {
    let store = place.store();
    let listing = store
        .list_with_delimiter(Some(&Path::from("p.parts")))
        .await
        .unwrap();
    (
        Arc::clone(store),
        listing.objects.into_iter().map(|m| m.location).collect(),
    )
}

/// A memory file with worker 0's share staged; the coordinator, the part,
/// the store.
async fn staged() -> (Place, ArrayFile, StagedPart, Arc<dyn ObjectStore>) {
    let place = memory();
    let coordinator = define(&place).await;
    let mut f = place.open_with(config()).await;
    work(&mut f, 0).await;
    let part = f.stage().await.unwrap();
    let (store, _) = parts_in(&place).await;
    (place, coordinator, part, store)
}

async fn bytes_of(store: &Arc<dyn ObjectStore>, part: &StagedPart) -> Bytes {
    store
        .get(&Path::from(part.path()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
}

async fn replace(store: &Arc<dyn ObjectStore>, part: &StagedPart, bytes: Vec<u8>) {
    store
        .put(&Path::from(part.path()), PutPayload::from(bytes))
        .await
        .unwrap();
}

/// `commit_parts` fails with `check`'s error and commits nothing.
async fn refused(
    coordinator: &mut ArrayFile,
    parts: &[StagedPart],
    check: impl FnOnce(&Error) -> bool,
) {
    let layer = coordinator.latest_layer();
    let e = coordinator.commit_parts(parts).await.unwrap_err();
    assert!(check(&e), "{e:?}");
    assert_eq!(coordinator.latest_layer(), layer);
    assert_eq!(grid(coordinator).await, expected_grid(&[]));
}

fn corrupted_part(e: &Error, part: &StagedPart, what: &str) -> bool {
    matches!(e, Error::Corrupted { path, what: w } if path == part.path() && w.contains(what))
}

#[tokio::test]
async fn missing_truncated_damaged_and_foreign_parts_are_typed_errors() {
    let (_place, mut coordinator, part, store) = staged().await;
    let original = bytes_of(&store, &part).await;
    let n = original.len();

    store.delete(&Path::from(part.path())).await.unwrap();
    refused(
        &mut coordinator,
        std::slice::from_ref(&part),
        |e| matches!(e, Error::PartNotFound { path } if path == part.path()),
    )
    .await;

    replace(&store, &part, original[..n - 1].to_vec()).await;
    refused(&mut coordinator, std::slice::from_ref(&part), |e| {
        corrupted_part(e, &part, "bytes")
    })
    .await;

    // One byte of the footer: its checksum fails.
    let mut damaged = original.to_vec();
    damaged[n - 40] ^= 0x01;
    replace(&store, &part, damaged).await;
    refused(&mut coordinator, std::slice::from_ref(&part), |e| {
        corrupted_part(e, &part, "checksum")
    })
    .await;

    // Not this format at all, of the right size.
    replace(&store, &part, vec![7u8; n]).await;
    refused(&mut coordinator, std::slice::from_ref(&part), |e| {
        corrupted_part(e, &part, "not an array-format layer")
    })
    .await;

    // Every flip of a byte of the part's footer or trailer, which the
    // commit reads: a typed error naming the part.
    let footer_len = u64::from_le_bytes(original[n - 32..n - 24].try_into().unwrap()) as usize;
    for i in n - 32 - footer_len..n {
        let mut damaged = original.to_vec();
        damaged[i] ^= 0x20;
        replace(&store, &part, damaged).await;
        match coordinator
            .commit_parts(std::slice::from_ref(&part))
            .await
            .unwrap_err()
        {
            Error::Corrupted { path, .. } | Error::UnsupportedVersion { path, .. } => {
                assert_eq!(path, part.path(), "byte {i}")
            }
            other => panic!("byte {i}: {other:?}"),
        }
    }
    replace(&store, &part, original.to_vec()).await;
    coordinator.commit_parts(&[part]).await.unwrap();
    assert_eq!(grid(&coordinator).await, expected_grid(&[0]));
}

/// A coordinator on the memory file of `store`.
async fn coordinator_for(store: &Arc<dyn ObjectStore>) -> ArrayFile {
    ArrayFile::open(Arc::clone(store), Path::from(super::NAME), config())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_flipped_frame_byte_is_found_when_read_and_by_verify() {
    let (_place, mut coordinator, part, store) = staged().await;
    let mut damaged = bytes_of(&store, &part).await.to_vec();
    damaged[3] ^= 0x40;
    replace(&store, &part, damaged).await;
    // The commit reads footers only: the damage is found when read.
    coordinator
        .commit_parts(std::slice::from_ref(&part))
        .await
        .unwrap();
    let e = coordinator
        .read_array::<i32>("grid", vec![0, 0], vec![4, 8])
        .await
        .unwrap_err();
    assert!(corrupted_part(&e, &part, "checksum"), "{e:?}");
    let report = coordinator.verify().await.unwrap();
    assert_eq!(report.damaged.len(), 1, "{:?}", report.damaged);
    assert_eq!(report.damaged[0].path, part.path());
    assert_eq!(report.damaged[0].frame, Some(0));
    // A missing part: one damage, naming it.
    store.delete(&Path::from(part.path())).await.unwrap();
    let report = coordinator_for(&store).await.verify().await.unwrap();
    assert_eq!(report.damaged.len(), 1, "{:?}", report.damaged);
    assert!(report.damaged[0].what.contains("missing"));
}

#[tokio::test]
async fn parts_of_other_files_other_parts_and_bad_descriptions_are_refused() {
    let (place, mut coordinator, part, store) = staged().await;

    // A part of another file in the same directory.
    let mut other = ArrayFile::create(Arc::clone(&store), Path::from("q.af"), config())
        .await
        .unwrap();
    other
        .define_array::<i32>("grid", vec![], vec![8], None, None)
        .unwrap();
    other.flush().await.unwrap();
    other
        .write_array("grid", vec![0], ArrayD::from_elem(IxDyn(&[8]), 1).view())
        .await
        .unwrap();
    let theirs = other.stage().await.unwrap();
    refused(
        &mut coordinator,
        &[theirs],
        |e| matches!(e, Error::ForeignPart { reason, .. } if reason.contains("another file")),
    )
    .await;

    // Another part of this file under this part's name, of the same size.
    let mut g = place.open_with(config()).await;
    work(&mut g, 0).await;
    let twin = g.stage().await.unwrap();
    assert_eq!(twin.size(), part.size());
    let twin_bytes = bytes_of(&store, &twin).await.to_vec();
    let original = bytes_of(&store, &part).await.to_vec();
    replace(&store, &part, twin_bytes).await;
    refused(
        &mut coordinator,
        std::slice::from_ref(&part),
        |e| matches!(e, Error::ForeignPart { reason, .. } if reason.contains("another part")),
    )
    .await;
    replace(&store, &part, original).await;

    // Listed twice.
    refused(&mut coordinator, &[part.clone(), part.clone()], |e| {
        matches!(e, Error::InvalidOperation { .. })
    })
    .await;

    // Descriptions: damaged bytes; a name that is not this file's part.
    let bytes = part.to_bytes();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 1;
        assert!(matches!(
            StagedPart::from_bytes(&b),
            Err(Error::Corrupted { .. })
        ));
    }

    // A read-only handle commits nothing and stages nothing.
    let mut old = place
        .open_with(FileConfig {
            as_of: Some(1),
            ..config()
        })
        .await;
    assert!(matches!(
        old.commit_parts(std::slice::from_ref(&part)).await,
        Err(Error::InvalidOperation { .. })
    ));
    assert!(matches!(
        old.stage().await,
        Err(Error::InvalidOperation { .. })
    ));
    coordinator.commit_parts(&[part]).await.unwrap();
    assert_eq!(grid(&coordinator).await, expected_grid(&[0]));
}
