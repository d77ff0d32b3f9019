//! [`Secret`]: a wrapper that keeps sensitive values out of logs.
//!
//! `Debug` and `Display` both print `[redacted]`; the only way to reach the
//! value is the explicit [`Secret::expose`] call, which is easy to grep for.

use std::fmt;

/// Text printed in place of a secret value.
pub(crate) const REDACTED: &str = "[redacted]";

/// A sensitive value whose `Debug` and `Display` print `[redacted]`.
#[derive(Clone, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// Borrows the secret value. Never log the result.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret value. Never log the result.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}
