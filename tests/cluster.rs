//! Two real `tessera serve` processes forming a raft cluster over their internal listeners: the
//! second joins by itself (CLUSTER_JOIN), generates no keys of its own, serves the replicated
//! ones, and `tessera cluster …` reports and changes the membership.

use crate::common::{base_env, free_listener};
use crate::process::{signal, spawn_server, tessera, wait_exit, wait_ready};
use std::collections::BTreeMap;
use std::time::Duration;

const SECRET: &str = "process-test-cluster-secret";

async fn node_env(dir: &std::path::Path, join: Option<u16>) -> (BTreeMap<String, String>, u16) {
    let (l, port) = free_listener();
    let (c, cport) = free_listener();
    drop((l, c));
    let mut env = base_env(dir, port).await;
    env.insert("CLUSTER_BIND".into(), format!("127.0.0.1:{cport}"));
    env.insert("CLUSTER_SECRET".into(), SECRET.into());
    if let Some(peer) = join {
        env.insert("CLUSTER_JOIN".into(), format!("127.0.0.1:{peer}"));
    }
    (env, port)
}

fn cluster_port(env: &BTreeMap<String, String>) -> u16 {
    env["CLUSTER_BIND"].rsplit(':').next().unwrap().parse().unwrap()
}

fn status_json(env: &BTreeMap<String, String>) -> serde_json::Value {
    let out = tessera(env, &["cluster", "status", "--json"]).output().unwrap();
    assert!(out.status.success(), "cluster status failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn kids(port: u16) -> Vec<String> {
    let jwks: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{port}/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut kids: Vec<String> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect();
    kids.sort();
    kids
}

#[actix_web::test]
async fn a_second_process_joins_and_the_cli_manages_membership() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (env_a, port_a) = node_env(da.path(), None).await;
    let mut a = spawn_server(&env_a, da.path());
    wait_ready(port_a);
    let (env_b, port_b) = node_env(db.path(), Some(cluster_port(&env_a))).await;
    let mut b = spawn_server(&env_b, db.path());
    // Ready means: joined, and holding a signing key it did not generate.
    wait_ready(port_b);
    assert_eq!(kids(port_a).await, kids(port_b).await);
    let id_a: u64 = std::fs::read_to_string(da.path().join("node_id")).unwrap().trim().parse().unwrap();
    let id_b: u64 = std::fs::read_to_string(db.path().join("node_id")).unwrap().trim().parse().unwrap();

    let s = status_json(&env_b);
    assert_eq!(s["node_id"], id_b);
    assert_eq!(s["leader"], id_a);
    let mut members: Vec<u64> = s["members"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    members.sort();
    let mut want = vec![id_a, id_b];
    want.sort();
    assert_eq!(members, want);
    assert!(s["nodes"].as_array().unwrap().iter().all(|n| n["lag"].is_u64()), "{s}");

    let out = tessera(&env_a, &["cluster", "status"]).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(table.contains(&format!("{id_a} (leader)")) && table.contains("voter"), "{table}");
    assert!(table.contains(&env_b["CLUSTER_BIND"]), "{table}");

    for args in [&["cluster", "--help"][..], &["cluster", "join", "--help"], &["cluster", "remove", "--help"], &["cluster", "status", "--help"], &["cluster", "init", "--help"]] {
        assert!(tessera(&env_a, args).output().unwrap().status.success(), "{args:?}");
    }
    // A wrong secret is refused.
    let mut wrong = env_a.clone();
    wrong.insert("CLUSTER_SECRET".into(), "not-the-process-test-secret".into());
    let out = tessera(&wrong, &["cluster", "status"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));

    let out = tessera(&env_a, &["cluster", "remove", &id_b.to_string()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(status_json(&env_a)["members"], serde_json::json!([id_a]));

    for child in [&mut a, &mut b] {
        signal(child, "-TERM");
        assert!(wait_exit(child, Duration::from_secs(30)).success());
    }
    let log = std::fs::read_to_string(db.path().join("server.log")).unwrap();
    assert!(!log.contains(SECRET), "the cluster secret reached the log");
}
