//! The replicated data model — signing keys, revocations, the command enum written to the raft
//! log — and the openraft type configuration that ties them together.
//!
//! Everything here is serialised into the raft log and snapshots, so it is a compatibility
//! promise: `Command` only grows at the end, fields are never renamed.

use std::fmt;
use std::io::Cursor;

use serde::{Deserialize, Serialize};

/// A raft node's id.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// Tessera's openraft type configuration: `Command`s in, `CommandResponse`s out.
    pub TypeConfig:
        D = Command,
        R = CommandResponse,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

/// Where a signing key is in its life: published in the JWKS before use, signing, then kept
/// only for `keys list` (the JWKS view excludes retired keys).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum KeyState {
    Published,
    Active,
    Retired,
}

/// One signing key as replicated. The private half arrives already sealed (AES-256-GCM,
/// base64) and is opaque to this crate.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyRecord {
    pub kid: String,
    /// "RS256" | "ES256" | "EdDSA".
    pub alg: String,
    /// The public JWK (kty, kid, use, alg, n/e or crv/x/y).
    pub public_jwk: serde_json::Value,
    /// AES-256-GCM ciphertext, base64; opaque here.
    pub sealed_private_key: String,
    pub state: KeyState,
    /// Unix seconds, taken from the `AddKey` command.
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
}

/// Redacts the sealed private key: entries are traced by openraft at debug level.
impl fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("public_jwk", &self.public_jwk)
            .field(
                "sealed_private_key",
                &format_args!("<{} bytes sealed>", self.sealed_private_key.len()),
            )
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("activated_at", &self.activated_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// A state change, as written to the raft log.
///
/// Append-only: new variants only at the end (the log format is a compatibility promise).
/// Every command carries `at` (unix seconds chosen by the proposer); applying it also prunes
/// revocations whose `expires_at <= at`. `apply` never reads the clock.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Command {
    /// Inserts the key as `Published` (ignores `key.state`), `created_at = at`.
    /// A duplicate kid is a no-op.
    AddKey { key: KeyRecord, at: i64 },
    /// `Published → Active`, `activated_at = at`. Unknown, active or retired kid: no-op.
    ActivateKey { kid: String, at: i64 },
    /// `Published | Active → Retired`, `retired_at = at`. Unknown or retired kid: no-op.
    RetireKey { kid: String, at: i64 },
    /// Records `jti` as revoked until `expires_at` (the token's own expiry).
    Revoke {
        jti: String,
        expires_at: i64,
        at: i64,
    },
    /// Only prunes expired revocations.
    Prune { at: i64 },
}

impl Command {
    /// The proposer's timestamp carried by the command.
    pub fn at(&self) -> i64 {
        match self {
            Command::AddKey { at, .. }
            | Command::ActivateKey { at, .. }
            | Command::RetireKey { at, .. }
            | Command::Revoke { at, .. }
            | Command::Prune { at } => *at,
        }
    }
}

/// What applying one log entry did.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CommandResponse {
    /// `false` when the command was a no-op because its precondition did not hold (duplicate
    /// kid, unknown kid, wrong key state, jti already revoked at least as long, token already
    /// expired). `Prune` always reports `true`. Raft-internal entries report `false`.
    pub applied: bool,
    /// The log index the command was applied at.
    pub log_index: u64,
}

/// A point-in-time view of the local raft node, from its metrics.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterStatus {
    pub node_id: NodeId,
    pub leader: Option<NodeId>,
    pub term: u64,
    /// The last log index applied to this node's state machine.
    pub last_applied: Option<u64>,
    /// The last log index in this node's log (applied or not).
    pub last_log_index: Option<u64>,
    /// Voting members of the current membership config.
    pub members: Vec<NodeId>,
    /// Non-voting members (catching up before promotion).
    pub learners: Vec<NodeId>,
    /// Every member — voters and learners — with its address and replication state.
    pub nodes: Vec<MemberStatus>,
    /// "Leader", "Follower", "Candidate", "Learner" or "Shutdown".
    pub state: String,
}

/// One member as seen in a [`ClusterStatus`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemberStatus {
    pub id: NodeId,
    /// Its cluster address (empty for a node without a listener).
    pub addr: String,
    pub voter: bool,
    /// The last log index the leader knows this member holds (leader's view only).
    pub matched: Option<u64>,
    /// Log entries the member is behind the leader (leader's view only).
    pub lag: Option<u64>,
}
