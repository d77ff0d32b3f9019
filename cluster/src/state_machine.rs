//! The raft state machine (`RaftStateMachine` + `RaftSnapshotBuilder`): applies committed
//! entries to the in-memory [`AppState`], serves the cheap local reads, and persists itself
//! only through snapshots in `snapshot.json` (the log holds everything after the snapshot).
//!
//! `snapshot.json` holds exactly the bytes openraft ships to followers: `{meta, state}` as JSON.

use std::collections::BTreeMap;
use std::io::{self, Cursor};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::fsutil::{self, blocking};
use crate::state::{AppState, Revocations};
use crate::types::{CommandResponse, KeyRecord, NodeId, TypeConfig};

const SNAPSHOT_FILE: &str = "snapshot.json";

/// Everything the state machine holds, behind one lock so snapshots are consistent.
#[derive(Default)]
struct SmData {
    last_applied: Option<LogId<NodeId>>,
    last_membership: StoredMembership<NodeId, BasicNode>,
    app: AppState,
}

/// The serialised state machine inside a snapshot.
#[derive(Serialize, Deserialize)]
struct SnapshotState {
    last_applied: Option<LogId<NodeId>>,
    last_membership: StoredMembership<NodeId, BasicNode>,
    keys: Vec<KeyRecord>,
    revocations: BTreeMap<String, i64>,
}

/// The snapshot as shipped and as stored in `snapshot.json`.
#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    meta: SnapshotMeta<NodeId, BasicNode>,
    state: SnapshotState,
}

struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, BasicNode>,
    data: Vec<u8>,
}

/// State shared by the state machine, its snapshot builders and the `Cluster` read side.
pub(crate) struct Shared {
    dir: PathBuf,
    data: RwLock<SmData>,
    current: Mutex<Option<StoredSnapshot>>,
    applied_tx: watch::Sender<u64>,
    snapshot_seq: AtomicU64,
}

/// The state machine handed to openraft; clones share one `Shared`.
#[derive(Clone)]
pub struct StateMachine {
    shared: Arc<Shared>,
}

impl StateMachine {
    /// Opens the state machine in `dir`, loading `snapshot.json` if present.
    pub fn open(dir: &Path) -> io::Result<StateMachine> {
        std::fs::create_dir_all(dir)?;
        let (data, current) = match std::fs::read(dir.join(SNAPSHOT_FILE)) {
            Ok(bytes) => {
                let file: SnapshotFile = serde_json::from_slice(&bytes).map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("{SNAPSHOT_FILE}: {e}"))
                })?;
                (
                    sm_data(&file.meta, file.state),
                    Some(StoredSnapshot {
                        meta: file.meta,
                        data: bytes,
                    }),
                )
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => (SmData::default(), None),
            Err(e) => return Err(e),
        };
        let applied = data.last_applied.map_or(0, |l| l.index);
        Ok(StateMachine {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                data: RwLock::new(data),
                current: Mutex::new(current),
                applied_tx: watch::Sender::new(applied),
                snapshot_seq: AtomicU64::new(0),
            }),
        })
    }

    /// The read side, for the `Cluster` handle.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }
}

/// Rebuilds the in-memory state from a snapshot; the meta is authoritative for the ids.
fn sm_data(meta: &SnapshotMeta<NodeId, BasicNode>, state: SnapshotState) -> SmData {
    SmData {
        last_applied: meta.last_log_id,
        last_membership: meta.last_membership.clone(),
        app: AppState {
            keys: Arc::new(state.keys),
            revocations: Revocations::from_map(state.revocations),
        },
    }
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, SmData> {
        self.data.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, SmData> {
        self.data.write().unwrap_or_else(|p| p.into_inner())
    }

    fn set_current(&self, snapshot: StoredSnapshot) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(snapshot);
    }

    /// All keys, any state, ordered by `created_at`.
    pub(crate) fn keys(&self) -> Arc<Vec<KeyRecord>> {
        self.read().app.keys.clone()
    }

    pub(crate) fn is_revoked(&self, jti: &str) -> bool {
        self.read().app.revocations.contains(jti)
    }

    pub(crate) fn revocation_count(&self) -> usize {
        self.read().app.revocations.len()
    }

    /// The index of the last entry this state machine applied (or installed via snapshot).
    pub(crate) fn last_applied(&self) -> Option<u64> {
        self.read().last_applied.map(|l| l.index)
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.applied_tx.subscribe()
    }

    /// Writes `bytes` durably as `snapshot.json`.
    async fn persist(&self, bytes: Vec<u8>) -> io::Result<Vec<u8>> {
        let dir = self.dir.clone();
        blocking(move || fsutil::atomic_write(&dir, SNAPSHOT_FILE, &bytes, true).map(|()| bytes))
            .await
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let file = {
            let d = self.shared.read();
            let seq = self.shared.snapshot_seq.fetch_add(1, Ordering::Relaxed) + 1;
            let snapshot_id = match d.last_applied {
                Some(l) => format!("{}-{}-{}", l.leader_id, l.index, seq),
                None => format!("--{seq}"),
            };
            SnapshotFile {
                meta: SnapshotMeta {
                    last_log_id: d.last_applied,
                    last_membership: d.last_membership.clone(),
                    snapshot_id,
                },
                state: SnapshotState {
                    last_applied: d.last_applied,
                    last_membership: d.last_membership.clone(),
                    keys: d.app.keys.to_vec(),
                    revocations: d.app.revocations.to_map(),
                },
            }
        };
        let signature = Some(file.meta.signature());
        let bytes = serde_json::to_vec(&file)
            .map_err(|e| StorageIOError::write_snapshot(signature.clone(), &e))?;
        let bytes = self
            .shared
            .persist(bytes)
            .await
            .map_err(|e| StorageIOError::write_snapshot(signature, &e))?;
        tracing::info!(snapshot_id = %file.meta.snapshot_id, bytes = bytes.len(), "built raft snapshot");
        self.shared.set_current(StoredSnapshot {
            meta: file.meta.clone(),
            data: bytes.clone(),
        });
        Ok(Snapshot {
            meta: file.meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>>
    {
        let d = self.shared.read();
        Ok((d.last_applied, d.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResponse>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut replies = Vec::new();
        let last = {
            let mut d = self.shared.write();
            for entry in entries {
                let log_index = entry.log_id.index;
                d.last_applied = Some(entry.log_id);
                let applied = match entry.payload {
                    EntryPayload::Blank => false,
                    EntryPayload::Normal(ref cmd) => d.app.apply(cmd),
                    EntryPayload::Membership(m) => {
                        d.last_membership = StoredMembership::new(Some(entry.log_id), m);
                        false
                    }
                };
                replies.push(CommandResponse { applied, log_index });
            }
            d.last_applied.map_or(0, |l| l.index)
        };
        self.shared.applied_tx.send_replace(last);
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let bytes = snapshot.into_inner();
        let mut file: SnapshotFile = serde_json::from_slice(&bytes)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        // The meta we were given is authoritative; re-encode if the embedded one differs.
        let bytes = if file.meta == *meta {
            bytes
        } else {
            file.meta = meta.clone();
            serde_json::to_vec(&file)
                .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?
        };
        let bytes = self
            .shared
            .persist(bytes)
            .await
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        let data = sm_data(meta, file.state);
        let last = data.last_applied.map_or(0, |l| l.index);
        *self.shared.write() = data;
        self.shared.set_current(StoredSnapshot {
            meta: meta.clone(),
            data: bytes,
        });
        self.shared.applied_tx.send_replace(last);
        tracing::info!(snapshot_id = %meta.snapshot_id, "installed raft snapshot");
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        let current = self
            .shared
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Ok(current.as_ref().map(|s| Snapshot {
            meta: s.meta.clone(),
            snapshot: Box::new(Cursor::new(s.data.clone())),
        }))
    }
}
