//! `tessera-cluster`: Tessera's replicated state — the signing key set and the token
//! revocation set — kept in an openraft state machine with a durable, file-based store.
//!
//! Code map (one job per file):
//! - `types` — the data model, the append-only `Command` log format, openraft type config.
//! - `state` — the deterministic rules for applying a command (no I/O, no clock).
//! - `state_machine` — openraft `RaftStateMachine`: applies entries, snapshots to disk.
//! - `log_store` — openraft `RaftLogStorage`: checksummed append-only log file + side files.
//! - `record`, `fsutil` — log record framing (CRC-32) and atomic file writes.
//! - `handle` — the [`Cluster`] handle the server uses: start, propose, local reads.
//! - `membership` — init / join / remove / status; `forward` — reaching the leader.
//! - `network` — outbound raft RPC; `listener` — the internal listener (inbound raft RPC and
//!   admin calls); `api` — their wire format; `auth` — peer signatures; `peers` — the
//!   per-peer HTTP clients; `client` — [`AdminClient`] for the CLI.
//! - `error` — [`ClusterError`].
//!
//! Architecture invariants: this crate knows nothing about databases or the public HTTP API;
//! its only HTTP is the internal listener (raft RPC and admin, signed with the shared secret)
//! and its only crypto that signature. Private keys arrive sealed and stay opaque. `apply`
//! reads only the command, never the clock. Without a bind address a node is a one-member
//! group with no listener at all.

mod api;
mod auth;
mod client;
mod error;
mod forward;
mod fsutil;
mod handle;
mod listener;
mod log_store;
mod membership;
mod network;
mod peers;
mod record;
mod state;
mod state_machine;
mod types;

pub use api::AdminError;
pub use auth::{AUTH_HEADER, AuthError};
pub use client::AdminClient;
pub use error::ClusterError;
pub use handle::{Cluster, ClusterConfig};
pub use log_store::{LogReader, LogStore};
pub use network::{HttpNetwork, NoNetwork};
pub use state_machine::StateMachine;
pub use types::{
    ClusterStatus, Command, CommandResponse, KeyRecord, KeyState, MemberStatus, NodeId, TypeConfig,
};

#[cfg(test)]
mod tests;
