//! openraft's storage conformance suite over our log store and state machine, plus the
//! file-level durability of the log store (reopen, torn tail, truncate, purge).

use std::io::Write;

use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftLogReader, StorageError, Vote};
use tempfile::TempDir;

use crate::types::{Command, NodeId, TypeConfig};
use crate::{LogStore, StateMachine};

struct FileStoreBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for FileStoreBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError<NodeId>> {
        let dir = tempfile::tempdir().unwrap();
        let log = LogStore::open(dir.path()).unwrap();
        let sm = StateMachine::open(dir.path()).unwrap();
        Ok((dir, log, sm))
    }
}

#[test]
fn storage_suite() {
    Suite::test_all(FileStoreBuilder).unwrap();
}

fn log_id(term: u64, index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn entry(term: u64, index: u64) -> Entry<TypeConfig> {
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(Command::Prune { at: index as i64 }),
    }
}

/// Appends through the flush-callback API, waiting for the callback like openraft does.
async fn append(store: &mut LogStore, entries: Vec<Entry<TypeConfig>>) {
    store.blocking_append(entries).await.unwrap();
}

async fn indexes(store: &mut LogStore) -> Vec<u64> {
    store
        .try_get_log_entries(0..u64::MAX)
        .await
        .unwrap()
        .iter()
        .map(|e| e.log_id.index)
        .collect()
}

#[tokio::test]
async fn log_store_survives_reopen_and_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = LogStore::open(dir.path()).unwrap();
        append(&mut store, (1..=5).map(|i| entry(1, i)).collect()).await;
        store.save_vote(&Vote::new(3, 1)).await.unwrap();
        store.save_committed(Some(log_id(1, 4))).await.unwrap();
    }
    // A crash mid-write leaves half a record behind.
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("log.bin"))
        .unwrap()
        .write_all(&[42, 0, 0, 0, 1, 2, 3])
        .unwrap();
    {
        let mut store = LogStore::open(dir.path()).unwrap();
        assert_eq!(indexes(&mut store).await, vec![1, 2, 3, 4, 5]);
        assert_eq!(store.read_vote().await.unwrap(), Some(Vote::new(3, 1)));
        assert_eq!(store.read_committed().await.unwrap(), Some(log_id(1, 4)));
        // Appends after the dropped tail are readable after another reopen.
        append(&mut store, vec![entry(1, 6)]).await;
    }
    let mut store = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&mut store).await, vec![1, 2, 3, 4, 5, 6]);
}

#[tokio::test]
async fn log_store_truncate_and_purge_are_durable() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = LogStore::open(dir.path()).unwrap();
        append(&mut store, (1..=10).map(|i| entry(1, i)).collect()).await;
        store.truncate(log_id(1, 8)).await.unwrap();
        append(&mut store, vec![entry(2, 8)]).await;
        store.purge(log_id(1, 3)).await.unwrap();
        assert_eq!(indexes(&mut store).await, vec![4, 5, 6, 7, 8]);
    }
    let mut store = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&mut store).await, vec![4, 5, 6, 7, 8]);
    let last = store.try_get_log_entries(8..9).await.unwrap();
    assert_eq!(last[0].log_id, log_id(2, 8));
    let state = store.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 3)));
    assert_eq!(state.last_log_id, Some(log_id(2, 8)));
}

#[tokio::test]
async fn state_machine_reloads_its_snapshot() {
    use openraft::RaftSnapshotBuilder;
    let dir = tempfile::tempdir().unwrap();
    let meta = {
        let mut sm = StateMachine::open(dir.path()).unwrap();
        let revoke = Command::Revoke {
            jti: "j".into(),
            expires_at: 100,
            at: 1,
        };
        sm.apply(vec![Entry {
            log_id: log_id(1, 1),
            payload: EntryPayload::Normal(revoke),
        }])
        .await
        .unwrap();
        sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap()
            .meta
    };
    let mut sm = StateMachine::open(dir.path()).unwrap();
    assert_eq!(sm.applied_state().await.unwrap().0, Some(log_id(1, 1)));
    assert_eq!(sm.get_current_snapshot().await.unwrap().unwrap().meta, meta);
    assert!(sm.shared().is_revoked("j"));
}

#[test]
fn second_open_of_a_locked_dir_fails() {
    let dir = tempfile::tempdir().unwrap();
    let first = LogStore::open(dir.path()).unwrap();
    let err = LogStore::open(dir.path()).err().unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    drop(first);
    LogStore::open(dir.path()).unwrap();
}
