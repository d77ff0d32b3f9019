//! Passwords: the policy, and Argon2id hashing on a bounded blocking pool.
//!
//! Argon2id with m = 19456 KiB, t = 2, p = 1 (OWASP's first recommendation). Every hash and every
//! verification runs under a semaphore (one permit per CPU) on `spawn_blocking`, never on the event
//! loop, so a burst of logins queues instead of starving the server. [`Passwords`] counts the work
//! it does, so tests can check how many verifications a login cost without timing anything.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Semaphore;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

/// A fixed Argon2id hash (same parameters as real ones) that unknown usernames are verified against,
/// so a login for a user that does not exist costs exactly one verification too. Its password is
/// unknown: salt and output are random bytes, so no password is known to produce it.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$C1p6Rm2dRjTQ2VB0vrDNUQ$j5LxVLlVFgxNQ5N6d1lDaWEmZkZAEnLvONT0OQyJWzM";

/// Checks the password policy: 8–128 characters and at least three of the four classes
/// lowercase, uppercase, digit, other. The error is a sentence to show the user.
pub fn check_policy(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(format!("The password must be at least {MIN_LEN} characters long."));
    }
    if len > MAX_LEN {
        return Err(format!("The password must be at most {MAX_LEN} characters long."));
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|&&c| c).count() < 3 {
        return Err("The password must contain at least three of: lowercase letters, uppercase letters, digits, other characters.".into());
    }
    Ok(())
}

/// A random password that satisfies the policy (for bootstrap and `user create` without stdin).
pub fn generate() -> String {
    loop {
        let candidate = tessera_actors::crypto::random_token(18);
        if check_policy(&candidate).is_ok() {
            return candidate;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Failed(String),
}

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(19456, 2, 1, None).map_err(|e| HashError::Failed(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The bounded hashing pool, with counters.
pub struct Passwords {
    permits: Semaphore,
    hashes: AtomicU64,
    verifications: AtomicU64,
}

static GLOBAL: LazyLock<Passwords> =
    LazyLock::new(|| Passwords::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)));

impl Passwords {
    pub fn new(permits: usize) -> Passwords {
        Passwords { permits: Semaphore::new(permits.max(1)), hashes: AtomicU64::new(0), verifications: AtomicU64::new(0) }
    }

    /// The process-wide pool the server uses.
    pub fn global() -> &'static Passwords {
        &GLOBAL
    }

    pub fn hashes(&self) -> u64 {
        self.hashes.load(Ordering::SeqCst)
    }

    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::SeqCst)
    }

    /// Hashes `password` to a PHC string (a fresh random salt each time).
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let _permit = self.permits.acquire().await.map_err(|e| HashError::Failed(e.to_string()))?;
        self.hashes.fetch_add(1, Ordering::SeqCst);
        tokio::task::spawn_blocking(move || {
            let a = argon2()?;
            a.hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| HashError::Failed(e.to_string()))
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))?
    }

    /// Verifies `password` against a PHC string; `false` for a wrong password or a malformed hash.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, HashError> {
        let _permit = self.permits.acquire().await.map_err(|e| HashError::Failed(e.to_string()))?;
        self.verifications.fetch_add(1, Ordering::SeqCst);
        tokio::task::spawn_blocking(move || {
            let a = argon2()?;
            match a.verify_password(password.as_bytes(), phc.as_str()) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(e) => {
                    tracing::error!(error = %e, "stored password hash is unusable");
                    Ok(false)
                }
            }
        })
        .await
        .map_err(|e| HashError::Failed(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_needs_length_and_three_classes() {
        assert!(check_policy("Ab1-").unwrap_err().contains("at least 8"));
        assert!(check_policy(&"Ab1-".repeat(33)).unwrap_err().contains("at most 128"));
        assert!(check_policy(&"Ab1-".repeat(32)).is_ok());
        assert!(check_policy("alllowercase").unwrap_err().contains("three of"));
        assert!(check_policy("lowerUPPER").unwrap_err().contains("three of"));
        assert!(check_policy("lower123456").unwrap_err().contains("three of"));
        assert!(check_policy("lowerUPPER1").is_ok());
        assert!(check_policy("lower-123456").is_ok());
        assert!(check_policy("UPPER-12345").is_ok());
        // Length counts characters, not bytes.
        assert!(check_policy("Äöü1-x").is_err());
        assert!(check_policy("Äöü1-xyz").is_ok());
    }

    #[test]
    fn generated_passwords_pass_the_policy() {
        for _ in 0..50 {
            let p = generate();
            assert!(check_policy(&p).is_ok(), "{p}");
        }
    }

    #[actix_rt::test]
    async fn hash_then_verify_and_count() {
        let pool = Passwords::new(1);
        let h = pool.hash("Correct-horse-1".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(pool.verify("Correct-horse-1".into(), h.clone()).await.unwrap());
        assert!(!pool.verify("Correct-horse-2".into(), h).await.unwrap());
        assert!(!pool.verify("anything".into(), DUMMY_HASH.into()).await.unwrap());
        // The dummy hash parses with the real parameters, so verifying against it costs the same.
        let dummy = argon2::PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(dummy.params.to_string(), "m=19456,t=2,p=1");
        assert_eq!((pool.hashes(), pool.verifications()), (1, 3));
    }
}
