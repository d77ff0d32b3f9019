//! `tessera-cluster`: Tessera's replicated state — the signing key set and the token
//! revocation set — kept in an openraft state machine with a durable, file-based store.
//!
//! Code map (one job per file):
//! - `types` — the data model, the append-only `Command` log format, openraft type config.
//! - `state` — the deterministic rules for applying a command (no I/O, no clock).
//! - `state_machine` — openraft `RaftStateMachine`: applies entries, snapshots to disk.
//! - `log_store` — openraft `RaftLogStorage`: checksummed append-only log file + side files.
//! - `record`, `fsutil` — log record framing (CRC-32) and atomic file writes.
//! - `network` — outbound raft RPC (none yet: each node is a one-member group).
//! - `handle` — the [`Cluster`] handle the server uses; `error` — [`ClusterError`].
//!
//! Architecture invariant: this crate knows nothing about databases, HTTP or crypto; private
//! keys arrive sealed and stay opaque. `apply` reads only the command, never the clock.

mod error;
mod fsutil;
mod handle;
mod log_store;
mod network;
mod record;
mod state;
mod state_machine;
mod types;

pub use error::ClusterError;
pub use handle::{Cluster, ClusterConfig};
pub use log_store::{LogReader, LogStore};
pub use network::NoNetwork;
pub use state_machine::StateMachine;
pub use types::{ClusterStatus, Command, CommandResponse, KeyRecord, KeyState, NodeId, TypeConfig};

#[cfg(test)]
mod tests;
