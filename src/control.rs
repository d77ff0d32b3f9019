//! The local control socket (`data/control.sock`, mode 0600): how `tessera keys …` reaches a running
//! server on the same data directory. One request line in, one JSON line out.

use crate::server::Node;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use tessera_actors::keys::Rotate;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

pub fn socket_path(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("control.sock")
}

pub fn spawn(node: &Node) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let path = socket_path(&node.state.settings.data_dir);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let state = node.state.clone();
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let state = state.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut line = String::new();
                if BufReader::new(r).read_line(&mut line).await.is_err() {
                    return;
                }
                let reply = match line.trim() {
                    "keys list" => json!({ "keys": crate::keys_view::list(&state.ring.cluster().keys()) }),
                    "keys rotate" => match state.keys.send(Rotate).await {
                        Ok(Ok(kids)) => json!({ "published": kids }),
                        Ok(Err(e)) => json!({ "error": e.to_string() }),
                        Err(e) => json!({ "error": e.to_string() }),
                    },
                    other => json!({ "error": format!("unknown command {other:?}") }),
                };
                let _ = w.write_all(format!("{reply}\n").as_bytes()).await;
            });
        }
    }))
}

/// Sends one command to a running server; None when no server listens on this data directory.
pub async fn request(data_dir: &std::path::Path, command: &str) -> Option<serde_json::Value> {
    let stream = UnixStream::connect(socket_path(data_dir)).await.ok()?;
    let (r, mut w) = stream.into_split();
    w.write_all(format!("{command}\n").as_bytes()).await.ok()?;
    let mut line = String::new();
    BufReader::new(r).read_line(&mut line).await.ok()?;
    serde_json::from_str(&line).ok()
}
