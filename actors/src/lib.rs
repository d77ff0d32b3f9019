//! Actors and the shared services they own: signing keys (generation, rotation schedule, key ring),
//! and — with the protocol core — login sessions, authorization codes and the audit batcher.
//!
//! This crate knows the database (through `tessera-entity`) and the cluster handle, never HTTP.

pub mod clock;
pub mod crypto;
pub mod keygen;
pub mod keyring;
pub mod keys;
pub mod audit;
pub mod batch;
pub mod codes;
pub mod session_store;
pub mod sessions;
