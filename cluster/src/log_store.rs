//! The durable raft log (`RaftLogStorage`): an append-only file of checksummed records plus an
//! in-memory index, and the vote / committed / last-purged ids in small side files.
//!
//! Files in the raft dir:
//! - `log.bin` — one framed record (see [`crate::record`]) per entry, JSON-encoded. Appends are
//!   fsynced before openraft's flush callback runs. Truncate and purge rewrite it atomically.
//! - `vote.json` (durable), `purged.json` (durable, written before the log is rewritten),
//!   `committed.json` (not fsynced: a stale value only means more entries are re-applied).
//! - `LOCK` — held with an OS file lock so two processes never share one raft dir.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};

use crate::fsutil::{self, blocking};
use crate::record;
use crate::types::{NodeId, TypeConfig};

const LOG_FILE: &str = "log.bin";
const VOTE_FILE: &str = "vote.json";
const COMMITTED_FILE: &str = "committed.json";
const PURGED_FILE: &str = "purged.json";
const LOCK_FILE: &str = "LOCK";

type Log = BTreeMap<u64, Entry<TypeConfig>>;

/// The raft log store. Owned by the raft core; readers share the index via [`LogReader`].
pub struct LogStore {
    dir: PathBuf,
    /// The append handle of `log.bin`; replaced after every rewrite.
    file: Arc<Mutex<File>>,
    log: Arc<RwLock<Log>>,
    last_purged: Option<LogId<NodeId>>,
    vote: Option<Vote<NodeId>>,
    committed: Option<LogId<NodeId>>,
    /// Keeps the directory lock for the lifetime of the store.
    _lock: File,
}

/// A read-only view of the log index, handed to openraft's replication tasks.
#[derive(Clone)]
pub struct LogReader {
    log: Arc<RwLock<Log>>,
}

impl LogStore {
    /// Opens (or creates) the log in `dir`, dropping a torn last record left by a crash.
    pub fn open(dir: &Path) -> io::Result<LogStore> {
        fs::create_dir_all(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))?;
        lock.try_lock().map_err(|e| match e {
            TryLockError::WouldBlock => io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("raft dir {} is in use by another process", dir.display()),
            ),
            TryLockError::Error(e) => e,
        })?;

        let vote = fsutil::read_json(dir, VOTE_FILE)?;
        let last_purged: Option<LogId<NodeId>> = fsutil::read_json(dir, PURGED_FILE)?;
        let committed = fsutil::read_json(dir, COMMITTED_FILE).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "ignoring unreadable committed.json; entries will be re-applied");
            None
        });

        let path = dir.join(LOG_FILE);
        let buf = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let (records, good) = record::decode_all(&buf);
        let mut log = Log::new();
        for rec in records {
            let entry: Entry<TypeConfig> = serde_json::from_slice(rec).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("{LOG_FILE}: {e}"))
            })?;
            // A later record at an index supersedes it and everything after it.
            let index = entry.log_id.index;
            log.split_off(&index);
            log.insert(index, entry);
        }
        if let Some(purged) = last_purged {
            log = log.split_off(&purged.index.saturating_add(1));
        }

        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        if good < buf.len() {
            tracing::warn!(
                dropped_bytes = buf.len() - good,
                "dropping torn tail of the raft log"
            );
            file.set_len(good as u64)?;
            file.sync_all()?;
        }
        fsutil::sync_dir(dir)?;

        Ok(LogStore {
            dir: dir.to_path_buf(),
            file: Arc::new(Mutex::new(file)),
            log: Arc::new(RwLock::new(log)),
            last_purged,
            vote,
            committed,
            _lock: lock,
        })
    }

    /// Rewrites `log.bin` from the in-memory index (tmp + fsync + rename + dir fsync) and
    /// switches the append handle to the new file.
    async fn rewrite(&mut self) -> io::Result<()> {
        let bytes = encode_all(&read(&self.log))?;
        let dir = self.dir.clone();
        let file = self.file.clone();
        blocking(move || {
            fsutil::atomic_write(&dir, LOG_FILE, &bytes, true)?;
            let fresh = OpenOptions::new().append(true).open(dir.join(LOG_FILE))?;
            *file.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
            Ok(())
        })
        .await
    }
}

fn read(log: &RwLock<Log>) -> std::sync::RwLockReadGuard<'_, Log> {
    log.read().unwrap_or_else(|p| p.into_inner())
}

fn write(log: &RwLock<Log>) -> std::sync::RwLockWriteGuard<'_, Log> {
    log.write().unwrap_or_else(|p| p.into_inner())
}

fn encode_all(log: &Log) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    for entry in log.values() {
        record::encode(
            &serde_json::to_vec(entry).map_err(io::Error::other)?,
            &mut buf,
        )?;
    }
    Ok(buf)
}

fn entries_in<RB: RangeBounds<u64>>(log: &RwLock<Log>, range: RB) -> Vec<Entry<TypeConfig>> {
    read(log).range(range).map(|(_, e)| e.clone()).collect()
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        Ok(entries_in(&self.log, range))
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        Ok(entries_in(&self.log, range))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let last = read(&self.log).last_key_value().map(|(_, e)| e.log_id);
        Ok(LogState {
            last_purged_log_id: self.last_purged,
            last_log_id: last.or(self.last_purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        LogReader {
            log: self.log.clone(),
        }
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        let (dir, v) = (self.dir.clone(), *vote);
        blocking(move || fsutil::write_json(&dir, VOTE_FILE, &v, true))
            .await
            .map_err(|e| StorageIOError::write_vote(&e))?;
        self.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(self.vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        // Not fsynced: losing it on a crash only means re-applying from the snapshot onwards.
        fsutil::write_json(&self.dir, COMMITTED_FILE, &committed, false)
            .map_err(|e| StorageIOError::write(&e))?;
        self.committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self.committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut buf = Vec::new();
        let mut batch = Vec::new();
        for entry in entries {
            serde_json::to_vec(&entry)
                .map_err(io::Error::other)
                .and_then(|bytes| record::encode(&bytes, &mut buf))
                .map_err(|e| StorageIOError::write_log_entry(entry.log_id, &e))?;
            batch.push(entry);
        }

        let file = self.file.clone();
        let written = blocking(move || {
            let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
            f.write_all(&buf)?;
            f.sync_data()
        })
        .await;
        if let Err(e) = written {
            callback.log_io_completed(Err(io::Error::new(e.kind(), e.to_string())));
            return Err(StorageIOError::write_logs(&e).into());
        }

        {
            let mut log = write(&self.log);
            for entry in batch {
                log.insert(entry.log_id.index, entry);
            }
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        tracing::debug!(%log_id, "truncating raft log from this id on");
        write(&self.log).split_off(&log_id.index);
        self.rewrite()
            .await
            .map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        tracing::debug!(%log_id, "purging raft log up to this id");
        // Record the purge point first: on open, entries at or below it are ignored, so a crash
        // before the rewrite below is harmless.
        let dir = self.dir.clone();
        blocking(move || fsutil::write_json(&dir, PURGED_FILE, &log_id, true))
            .await
            .map_err(|e| StorageIOError::write_logs(&e))?;
        self.last_purged = Some(log_id);
        {
            let mut log = write(&self.log);
            *log = log.split_off(&log_id.index.saturating_add(1));
        }
        self.rewrite()
            .await
            .map_err(|e| StorageIOError::write_logs(&e))?;
        Ok(())
    }
}
