//! `tessera-config`: typed settings for the Tessera authorization server.
//!
//! Settings come from an optional TOML file (keys are the lower-case
//! environment variable names, e.g. `access_token_ttl`) and are then
//! overridden by environment variables (`ACCESS_TOKEN_TTL`). Every value is
//! validated, and *all* problems are collected into one [`ConfigErrors`] so an
//! operator can fix a broken deployment in a single pass.
//!
//! Secrets (database password, key-encryption key, Redis URL, cluster secret)
//! are wrapped in [`Secret`], which never prints its contents, and they never
//! appear in error messages, `Debug` output or [`Settings::redacted`].
//!
//! ```no_run
//! let settings = tessera_config::Settings::load(None).unwrap_or_else(|errors| {
//!     eprintln!("{errors}");
//!     std::process::exit(2);
//! });
//! println!("{}", settings.redacted());
//! ```

mod duration;
mod error;
mod loader;
mod parse;
mod redact;
mod secret;
mod settings;
mod source;

#[cfg(test)]
mod tests;

pub use duration::parse_duration;
pub use error::{ConfigError, ConfigErrors};
pub use secret::Secret;
pub use settings::{Environment, JwtAlgorithm, LogFormat, Settings};
