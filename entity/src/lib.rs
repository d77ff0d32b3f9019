//! SeaORM entities for every Tessera table, one module per table.
//!
//! The schema itself is created by the `tessera-migration` crate; these entities mirror it
//! column for column, so the same code runs on SQLite and PostgreSQL. String primary keys hold
//! UUID text (or a hex SHA-256 where the table stores hashes), timestamps are UTC
//! (`DateTimeUtc`), and list-valued columns are JSON arrays of strings.

pub mod access_tokens;
pub mod audit_logs;
pub mod authorization_codes;
pub mod consents;
mod generation;
pub mod oauth_clients;
pub mod permissions;
pub mod prelude;
pub mod refresh_tokens;
pub mod role_permissions;
pub mod roles;
pub mod sessions;
pub mod user_roles;
pub mod users;
