//! Private keys never reach the disk or the logs in plaintext: the test opens every sealed key with
//! the key-encryption key, then searches the whole data directory (database, raft log, snapshots)
//! and the captured log output for the private key in every encoding it could leak in.

use crate::common::{base_env, free_listener};
use crate::process::{signal, spawn_server, tessera, wait_exit, wait_ready};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::path::Path;
use std::time::Duration;
use tessera_cluster::{Cluster, ClusterConfig};

fn all_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.len() <= hay.len() && hay.windows(needle.len()).any(|w| w == needle)
}

#[actix_web::test]
async fn no_private_key_material_at_rest_or_in_logs() {
    let dir = tempfile::tempdir().unwrap();
    let (l, port) = free_listener();
    drop(l);
    let mut env = base_env(dir.path(), port).await;
    env.insert("RUST_LOG".into(), "debug".into());
    env.insert("LOG_FORMAT".into(), "json".into());
    env.insert("JWT_ALGORITHM".into(), "EdDSA".into());
    let mut child = spawn_server(&env, dir.path());
    wait_ready(port);
    assert!(tessera(&env, &["keys", "rotate"]).output().unwrap().status.success());
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());

    // Open the store as the node did, and unseal every key with the KEK.
    let node_id: u64 = std::fs::read_to_string(dir.path().join("node_id")).unwrap().trim().parse().unwrap();
    let cluster = Cluster::start(ClusterConfig { node_id, data_dir: dir.path().join("raft"), ..Default::default() }).await.unwrap();
    let keys = cluster.keys();
    cluster.shutdown().await.unwrap();
    assert_eq!(keys.len(), 6, "three initial keys and three rotated");
    let kek: [u8; 32] = STANDARD.decode(&env["KEY_ENCRYPTION_KEY"]).unwrap().try_into().unwrap();
    let mut needles: Vec<Vec<u8>> = vec![b"PRIVATE KEY".to_vec()];
    for k in keys.iter() {
        let der = tessera_actors::crypto::open(&kek, k.kid.as_bytes(), &k.sealed_private_key).unwrap();
        // The private scalar/exponent is the tail of the DER; search a 24-byte slice from its middle too.
        let mid = &der[der.len() / 2..der.len() / 2 + 24];
        needles.push(der.clone());
        needles.push(mid.to_vec());
        needles.push(STANDARD.encode(&der).into_bytes());
        needles.push(URL_SAFE_NO_PAD.encode(&der).into_bytes());
        needles.push(URL_SAFE_NO_PAD.encode(mid).into_bytes()[..24].to_vec());
        needles.push(STANDARD.encode(mid).into_bytes()[..24].to_vec());
    }
    let mut files = Vec::new();
    all_files(dir.path(), &mut files);
    assert!(files.iter().any(|f| f.ends_with("server.log")));
    assert!(files.iter().any(|f| f.to_string_lossy().contains("raft")));
    for f in &files {
        if f.ends_with("kek") || f.ends_with("control.sock") {
            continue;
        }
        let bytes = std::fs::read(f).unwrap();
        for n in &needles {
            assert!(!contains(&bytes, n), "private key material found in {}", f.display());
        }
    }
}
