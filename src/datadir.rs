//! The node's data directory: the key-encryption key file (development only), the node id, and
//! the lock that keeps two processes off one raft store.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use tessera_config::Settings;

/// Returns the configured key-encryption key, or (development only) the one in `data/kek`,
/// creating it with mode 0600 on first start.
pub fn key_encryption_key(settings: &Settings) -> anyhow::Result<[u8; 32]> {
    if let Some(k) = &settings.key_encryption_key {
        return Ok(*k.expose());
    }
    let path = settings.data_dir.join("kek");
    if let Ok(text) = fs::read_to_string(&path) {
        let raw = STANDARD.decode(text.trim())?;
        return raw.try_into().map_err(|_| anyhow::anyhow!("{} does not hold 32 bytes", path.display()));
    }
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    f.write_all(STANDARD.encode(key).as_bytes())?;
    f.sync_all()?;
    tracing::warn!(
        path = %path.display(),
        "GENERATED A KEY-ENCRYPTION KEY FOR DEVELOPMENT. Production must supply its own with KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE (TESSERA_ENV=production refuses to start without one)."
    );
    Ok(key)
}

/// The node id: configured, or generated once and kept in `data/node_id`.
pub fn node_id(settings: &Settings) -> anyhow::Result<u64> {
    if let Some(id) = settings.node_id {
        return Ok(id);
    }
    let path = settings.data_dir.join("node_id");
    if let Ok(text) = fs::read_to_string(&path) {
        return Ok(text.trim().parse()?);
    }
    let id = (rand::rngs::OsRng.next_u64() >> 12).max(1);
    fs::write(&path, id.to_string())?;
    Ok(id)
}

/// An exclusive lock on the data directory, held for the life of the process.
pub fn lock(dir: &Path) -> anyhow::Result<Option<File>> {
    let f = OpenOptions::new().create(true).truncate(false).write(true).open(dir.join("LOCK"))?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

pub fn ensure(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir)?;
    fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    Ok(())
}
