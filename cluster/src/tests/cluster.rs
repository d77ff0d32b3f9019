//! Whole-node tests: a real openraft node over the file store in a temp dir, restarted in
//! process.

use std::path::Path;

use super::rules::key;
use crate::types::{Command, KeyState};
use crate::{Cluster, ClusterConfig, ClusterError};

async fn start(dir: &Path) -> Cluster {
    Cluster::start(ClusterConfig {
        node_id: 1,
        data_dir: dir.join("raft"),
        ..Default::default()
    })
    .await
    .unwrap()
}

async fn propose(c: &Cluster, cmd: Command) -> bool {
    c.propose(cmd).await.unwrap().applied
}

fn revoke(jti: &str, expires_at: i64, at: i64) -> Command {
    Command::Revoke {
        jti: jti.into(),
        expires_at,
        at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_makes_a_one_member_leader() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path()).await;
    let s = c.status();
    assert_eq!(
        (s.node_id, s.leader, s.members.clone(), s.state.as_str()),
        (1, Some(1), vec![1], "Leader")
    );
    assert!(s.term >= 1);
    assert_eq!(c.node_id(), 1);

    let mut rx = c.subscribe();
    let resp = c.propose(Command::Prune { at: 1 }).await.unwrap();
    assert!(resp.applied);
    assert!(*rx.borrow_and_update() >= resp.log_index);
    assert_eq!(c.status().last_applied, Some(resp.log_index));

    // The directory is locked while the node runs.
    let again = Cluster::start(ClusterConfig {
        node_id: 1,
        data_dir: dir.path().join("raft"),
        ..Default::default()
    })
    .await;
    assert!(
        matches!(again, Err(ClusterError::Storage(_))),
        "{:?}",
        again.err()
    );
    c.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path()).await;
    assert!(
        propose(
            &c,
            Command::AddKey {
                key: key("k1"),
                at: 100
            }
        )
        .await
    );
    assert_eq!(c.keys()[0].state, KeyState::Published);
    assert_eq!(c.keys()[0].created_at, 100);
    assert!(
        propose(
            &c,
            Command::ActivateKey {
                kid: "k1".into(),
                at: 110
            }
        )
        .await
    );
    assert_eq!(
        (c.keys()[0].state.clone(), c.keys()[0].activated_at),
        (KeyState::Active, Some(110))
    );
    assert!(
        !propose(
            &c,
            Command::ActivateKey {
                kid: "missing".into(),
                at: 111
            }
        )
        .await
    );
    assert!(
        propose(
            &c,
            Command::RetireKey {
                kid: "k1".into(),
                at: 120
            }
        )
        .await
    );
    let k = &c.keys()[0];
    assert_eq!(
        (k.state.clone(), k.retired_at),
        (KeyState::Retired, Some(120))
    );
    assert!(
        !propose(
            &c,
            Command::ActivateKey {
                kid: "k1".into(),
                at: 130
            }
        )
        .await
    );
    assert_eq!(c.keys().len(), 1, "retired keys are kept");
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_removes_only_expired() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path()).await;
    assert!(propose(&c, revoke("a", 100, 10)).await);
    assert!(propose(&c, revoke("b", 200, 10)).await);
    assert!(propose(&c, revoke("c", 300, 10)).await);
    assert!(propose(&c, Command::Prune { at: 150 }).await);
    assert!(!c.is_revoked("a"));
    assert!(c.is_revoked("b") && c.is_revoked("c"));
    assert_eq!(c.revocation_count(), 2);

    // Any command carrying `at` prunes too.
    propose(
        &c,
        Command::AddKey {
            key: key("k"),
            at: 200,
        },
    )
    .await;
    assert!(!c.is_revoked("b"));
    assert!(c.is_revoked("c"));
    propose(
        &c,
        Command::ActivateKey {
            kid: "nope".into(),
            at: 300,
        },
    )
    .await;
    assert_eq!(c.revocation_count(), 0);
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_keys_and_revocations() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path()).await;
    propose(
        &c,
        Command::AddKey {
            key: key("k1"),
            at: 100,
        },
    )
    .await;
    propose(
        &c,
        Command::ActivateKey {
            kid: "k1".into(),
            at: 101,
        },
    )
    .await;
    propose(&c, revoke("jti-1", 10_000, 102)).await;
    let applied = c.status().last_applied;
    c.shutdown().await.unwrap();

    let c = start(dir.path()).await;
    let keys = c.keys();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (keys[0].kid.as_str(), keys[0].state.clone()),
        ("k1", KeyState::Active)
    );
    assert!(c.is_revoked("jti-1"));
    assert_eq!(c.revocation_count(), 1);
    // A lone voter with a committed vote resumes leadership in the same term.
    assert!(c.status().last_applied >= applied);
    assert_eq!(c.status().state, "Leader");
    assert_eq!(c.status().members, vec![1]);
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_restart() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path()).await;
    propose(
        &c,
        Command::AddKey {
            key: key("k1"),
            at: 100,
        },
    )
    .await;
    propose(&c, revoke("before", 10_000, 100)).await;

    let applied = c.status().last_applied.unwrap();
    c.raft().trigger().snapshot().await.unwrap();
    c.raft()
        .wait(Some(std::time::Duration::from_secs(5)))
        .snapshot(
            openraft::LogId::new(
                openraft::CommittedLeaderId::new(c.status().term, 1),
                applied,
            ),
            "snap",
        )
        .await
        .unwrap();
    assert!(dir.path().join("raft/snapshot.json").exists());
    // Drop the log up to the snapshot, so the restart must rebuild from it.
    c.raft().trigger().purge_log(applied).await.unwrap();
    c.raft()
        .wait(Some(std::time::Duration::from_secs(5)))
        .metrics(|m| m.purged.is_some_and(|p| p.index == applied), "purged")
        .await
        .unwrap();

    propose(
        &c,
        Command::AddKey {
            key: key("k2"),
            at: 200,
        },
    )
    .await;
    propose(
        &c,
        Command::ActivateKey {
            kid: "k2".into(),
            at: 201,
        },
    )
    .await;
    propose(&c, revoke("after", 10_000, 202)).await;
    c.shutdown().await.unwrap();

    let c = start(dir.path()).await;
    let kids: Vec<_> = c
        .keys()
        .iter()
        .map(|k| (k.kid.clone(), k.state.clone()))
        .collect();
    assert_eq!(
        kids,
        [
            ("k1".to_string(), KeyState::Published),
            ("k2".to_string(), KeyState::Active)
        ]
    );
    assert!(c.is_revoked("before") && c.is_revoked("after"));

    // The handle's own snapshot helper, and a second restart from that snapshot alone.
    let at = c.snapshot().await.unwrap();
    assert_eq!(Some(at), c.status().last_applied);
    c.shutdown().await.unwrap();
    let c = start(dir.path()).await;
    assert_eq!(c.keys().len(), 2);
    assert_eq!(c.revocation_count(), 2);
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_dir_holds_only_what_was_proposed() {
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path()).await;
    let mut k = key("k1");
    k.sealed_private_key = "QUVTLUdDTS1jaXBoZXJ0ZXh0LWJhc2U2NA==".into();
    propose(
        &c,
        Command::AddKey {
            key: k.clone(),
            at: 1,
        },
    )
    .await;
    assert_eq!(
        c.keys()[0].sealed_private_key,
        k.sealed_private_key,
        "stored as given"
    );
    c.snapshot().await.unwrap();
    c.shutdown().await.unwrap();

    let mut found_in = Vec::new();
    for entry in std::fs::read_dir(dir.path().join("raft")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("PRIVATE KEY"),
            "{} holds PEM material",
            path.display()
        );
        if text.contains(&k.sealed_private_key) {
            found_in.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    found_in.sort();
    assert_eq!(found_in, ["log.bin", "snapshot.json"]);

    let c = start(dir.path()).await;
    assert_eq!(c.keys()[0].sealed_private_key, k.sealed_private_key);
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_log_tail_after_crash_is_dropped() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let c = start(dir.path()).await;
    propose(&c, revoke("kept", 10_000, 1)).await;
    c.shutdown().await.unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("raft/log.bin"))
        .unwrap()
        .write_all(b"\x10\x00\x00\x00garbage")
        .unwrap();
    let c = start(dir.path()).await;
    assert!(c.is_revoked("kept"));
    assert!(propose(&c, revoke("new", 10_000, 2)).await);
    c.shutdown().await.unwrap();
}
