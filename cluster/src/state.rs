//! The application state replicated by raft — the key set and the revocation set — and the
//! deterministic rules for applying a [`Command`] to it. No I/O, no clock, no openraft.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::types::{Command, KeyRecord, KeyState};

/// Revoked token ids with their expiry, indexed both ways so pruning is O(pruned).
#[derive(Clone, Debug, Default)]
pub(crate) struct Revocations {
    by_jti: HashMap<String, i64>,
    by_expiry: BTreeSet<(i64, String)>,
}

impl Revocations {
    /// Rebuilds the set from its serialised form.
    pub(crate) fn from_map(map: BTreeMap<String, i64>) -> Self {
        let by_expiry = map.iter().map(|(j, e)| (*e, j.clone())).collect();
        Revocations {
            by_jti: map.into_iter().collect(),
            by_expiry,
        }
    }

    /// The serialised form, ordered by jti so snapshots are deterministic.
    pub(crate) fn to_map(&self) -> BTreeMap<String, i64> {
        self.by_jti.iter().map(|(j, e)| (j.clone(), *e)).collect()
    }

    pub(crate) fn contains(&self, jti: &str) -> bool {
        self.by_jti.contains_key(jti)
    }

    pub(crate) fn len(&self) -> usize {
        self.by_jti.len()
    }

    /// Records `jti` until `expires_at`, keeping the later expiry if already present.
    /// Returns whether anything changed.
    fn insert(&mut self, jti: &str, expires_at: i64) -> bool {
        match self.by_jti.get(jti).copied() {
            Some(old) if old >= expires_at => false,
            old => {
                if let Some(old) = old {
                    self.by_expiry.remove(&(old, jti.to_owned()));
                }
                self.by_jti.insert(jti.to_owned(), expires_at);
                self.by_expiry.insert((expires_at, jti.to_owned()));
                true
            }
        }
    }

    /// Drops every entry with `expires_at <= at`; returns how many.
    fn prune(&mut self, at: i64) -> usize {
        let mut pruned = 0;
        while let Some((exp, _)) = self.by_expiry.first() {
            if *exp > at {
                break;
            }
            if let Some((_, jti)) = self.by_expiry.pop_first() {
                self.by_jti.remove(&jti);
                pruned += 1;
            }
        }
        pruned
    }
}

/// The replicated application state.
#[derive(Clone, Debug, Default)]
pub(crate) struct AppState {
    /// All keys in any state, ordered by `created_at` (ties in insertion order). Behind an
    /// `Arc` so readers get a snapshot by cloning a pointer; writers copy on write.
    pub(crate) keys: Arc<Vec<KeyRecord>>,
    pub(crate) revocations: Revocations,
}

impl AppState {
    /// Applies `cmd`; returns whether its own effect took place (see `CommandResponse::applied`).
    /// Afterwards, prunes revocations expired at the command's `at`.
    pub(crate) fn apply(&mut self, cmd: &Command) -> bool {
        let applied = match cmd {
            Command::AddKey { key, at } => self.add_key(key, *at),
            Command::ActivateKey { kid, at } => self.update_key(kid, |k| {
                if k.state != KeyState::Published {
                    return false;
                }
                k.state = KeyState::Active;
                k.activated_at = Some(*at);
                true
            }),
            Command::RetireKey { kid, at } => self.update_key(kid, |k| {
                if k.state == KeyState::Retired {
                    return false;
                }
                k.state = KeyState::Retired;
                k.retired_at = Some(*at);
                true
            }),
            Command::Revoke {
                jti,
                expires_at,
                at,
            } => *expires_at > *at && self.revocations.insert(jti, *expires_at),
            Command::Prune { .. } => true,
        };
        self.revocations.prune(cmd.at());
        applied
    }

    fn add_key(&mut self, key: &KeyRecord, at: i64) -> bool {
        if self.keys.iter().any(|k| k.kid == key.kid) {
            return false;
        }
        let record = KeyRecord {
            state: KeyState::Published,
            created_at: at,
            activated_at: None,
            retired_at: None,
            ..key.clone()
        };
        let keys = Arc::make_mut(&mut self.keys);
        // Insert after every key created at or before `at`: keeps the order stable.
        let pos = keys.partition_point(|k| k.created_at <= at);
        keys.insert(pos, record);
        true
    }

    fn update_key(&mut self, kid: &str, change: impl FnOnce(&mut KeyRecord) -> bool) -> bool {
        let Some(pos) = self.keys.iter().position(|k| k.kid == kid) else {
            return false;
        };
        let mut record = self.keys[pos].clone();
        if !change(&mut record) {
            return false;
        }
        Arc::make_mut(&mut self.keys)[pos] = record;
        true
    }
}
