//! Three (and four) in-process nodes on loopback talking over their internal listeners:
//! forming, forwarding, authentication, failover, restart, snapshot install, lost quorum and
//! removal.

use std::time::Duration;

use super::net::{
    self, Node, PATIENCE, SECRET, agreed_leader, applied, revoke, stop_all, three, voters,
};
use super::rules::key;
use crate::api::{self, StatusQuery};
use crate::peers::{Peers, TransportError};
use crate::types::Command;
use crate::{AdminClient, Cluster, ClusterError};

/// Index of some running node that is not the leader.
fn follower(nodes: &[Node], leader: usize) -> usize {
    (0..nodes.len())
        .find(|i| *i != leader && nodes[*i].cluster.is_some())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_replicate_a_command_proposed_on_a_follower() {
    let mut nodes = three().await;
    for n in &nodes {
        voters(n.c(), &[1, 2, 3]).await;
    }
    let leader = agreed_leader(&nodes).await;
    let f = follower(&nodes, leader);

    let resp = nodes[f].c().propose(revoke("via-follower")).await.unwrap();
    assert!(resp.applied);
    // propose returned: the follower itself has applied it already.
    assert!(nodes[f].c().is_revoked("via-follower"));
    for n in &nodes {
        applied(n.c(), resp.log_index).await;
        assert!(n.c().is_revoked("via-follower"), "node {}", n.id);
    }

    // Status: addresses of all three, the leader's replication lag per member.
    let s = nodes[f].c().cluster_status().await;
    assert_eq!(s.members, vec![1, 2, 3]);
    assert!(s.learners.is_empty());
    let addrs: Vec<_> = s.nodes.iter().map(|m| m.addr.clone()).collect();
    let want: Vec<_> = nodes.iter().map(|n| n.addr.to_string()).collect();
    assert_eq!(addrs, want);
    assert!(s.nodes.iter().all(|m| m.voter && m.lag.is_some()), "{s:?}");
    let admin = AdminClient::new(nodes[f].addr.to_string(), SECRET);
    let via_cli = admin.status().await.unwrap();
    assert_eq!(via_cli.node_id, nodes[f].id);
    assert_eq!(via_cli.leader, Some(nodes[leader].id));
    stop_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_joining_at_the_same_time_all_become_voters() {
    let a = net::seed(1).await;
    // Like `docker compose up --scale`: several nodes start at once with the same CLUSTER_JOIN.
    let (b, c, d) = tokio::join!(net::joiner(2, &a), net::joiner(3, &a), net::joiner(4, &a));
    let mut nodes = vec![a, b, c, d];
    for n in &nodes {
        voters(n.c(), &[1, 2, 3, 4]).await;
    }
    let resp = nodes[3].c().propose(revoke("four")).await.unwrap();
    for n in &nodes {
        applied(n.c(), resp.log_index).await;
    }
    stop_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_secret_is_refused() {
    let mut a = net::seed(1).await;
    let addr = a.addr.to_string();

    // A raft RPC signed with another secret: 401, nothing parsed.
    let intruder = Peers::new("not-the-cluster-secret-at-all");
    let vote = openraft::raft::VoteRequest::new(openraft::Vote::new(99, 7), None);
    let res: Result<serde_json::Value, _> =
        intruder.post(&addr, api::RAFT_VOTE, &vote, PATIENCE).await;
    assert!(
        matches!(res, Err(TransportError::Unauthorized { .. })),
        "{res:?}"
    );
    let res: Result<serde_json::Value, _> = intruder
        .post(&addr, api::STATUS, &StatusQuery::default(), PATIENCE)
        .await;
    assert!(
        matches!(res, Err(TransportError::Unauthorized { .. })),
        "{res:?}"
    );
    // No signature at all.
    let raw = reqwest::Client::new()
        .post(format!("http://{addr}{}", api::RAFT_VOTE))
        .json(&vote)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 401);
    assert_eq!(a.c().status().term, 1, "the forged vote changed nothing");

    // A node with the wrong secret tries to join: refused, and the cluster is unchanged.
    let dir = tempfile::tempdir().unwrap();
    let cfg = net::node_config(
        2,
        &dir,
        "127.0.0.1:0".parse().unwrap(),
        "not-the-cluster-secret-at-all",
        Some(addr.clone()),
    );
    let b = Cluster::start(cfg).await.unwrap();
    let joined = tokio::time::timeout(PATIENCE, b.wait_joined())
        .await
        .unwrap();
    assert!(
        matches!(joined, Err(ClusterError::Rejected(ref m)) if m.contains("401")),
        "{joined:?}"
    );
    assert!(!b.is_joining());
    let s = a.c().status();
    assert_eq!((s.members.clone(), s.nodes.len()), (vec![1], 1));
    assert!(b.status().members.is_empty());
    b.shutdown().await.unwrap();

    // The right secret works.
    let ok = AdminClient::new(addr.clone(), SECRET)
        .status()
        .await
        .unwrap();
    assert_eq!(ok.members, vec![1]);
    let bad = AdminClient::new(addr, "not-the-cluster-secret-at-all")
        .status()
        .await;
    assert!(matches!(bad, Err(ClusterError::Unauthorized(_))), "{bad:?}");
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_shutdown_elects_a_new_leader_and_proposals_continue() {
    let mut nodes = three().await;
    let old = agreed_leader(&nodes).await;
    let old_id = nodes[old].id;
    let before = nodes[old].c().propose(revoke("before")).await.unwrap();
    nodes[old].stop().await;

    let new = agreed_leader(&nodes).await;
    assert_ne!(nodes[new].id, old_id);
    let f = follower(&nodes, new);
    let after = nodes[f].c().propose(revoke("after")).await.unwrap();
    assert!(after.log_index > before.log_index);
    for n in nodes.iter().filter(|n| n.cluster.is_some()) {
        applied(n.c(), after.log_index).await;
        assert!(n.c().is_revoked("before") && n.c().is_revoked("after"));
    }
    stop_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_node_restarted_from_its_dir_catches_up() {
    let mut nodes = three().await;
    let leader = agreed_leader(&nodes).await;
    let f = follower(&nodes, leader);
    nodes[f].c().propose(revoke("seen")).await.unwrap();
    nodes[f].stop().await;

    let mut last = 0;
    for i in 0..5 {
        last = nodes[leader]
            .c()
            .propose(revoke(&format!("missed-{i}")))
            .await
            .unwrap()
            .log_index;
    }
    nodes[f].restart().await;
    applied(nodes[f].c(), last).await;
    let c = nodes[f].c();
    assert!(c.is_revoked("seen"));
    assert!((0..5).all(|i| c.is_revoked(&format!("missed-{i}"))));
    assert_eq!(c.status().members, vec![1, 2, 3]);
    // And it takes part again: a proposal through it commits.
    let resp = c.propose(revoke("after-restart")).await.unwrap();
    for n in &nodes {
        applied(n.c(), resp.log_index).await;
    }
    stop_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_added_after_a_purge_installs_the_snapshot() {
    let mut nodes = three().await;
    let leader = agreed_leader(&nodes).await;
    let l = nodes[leader].c().clone();
    for (i, kid) in ["k1", "k2"].iter().enumerate() {
        let at = 100 + i as i64;
        l.propose(Command::AddKey { key: key(kid), at })
            .await
            .unwrap();
    }
    l.propose(Command::ActivateKey {
        kid: "k2".into(),
        at: 103,
    })
    .await
    .unwrap();
    for i in 0..10 {
        l.propose(revoke(&format!("jti-{i}"))).await.unwrap();
    }
    let snap = l.snapshot().await.unwrap();
    l.raft().trigger().purge_log(snap).await.unwrap();
    l.raft()
        .wait(Some(PATIENCE))
        .metrics(|m| m.purged.is_some_and(|p| p.index == snap), "purged")
        .await
        .unwrap();
    let after = l.propose(revoke("after-snapshot")).await.unwrap();

    let d = net::joiner(4, &nodes[follower(&nodes, leader)]).await;
    let c = d.c();
    applied(c, after.log_index).await;
    assert!(
        d.dir.path().join("raft/snapshot.json").exists(),
        "node 4 received the state as a snapshot"
    );
    assert_eq!(*c.keys(), *l.keys());
    assert_eq!(c.keys().len(), 2);
    assert!((0..10).all(|i| c.is_revoked(&format!("jti-{i}"))));
    assert!(c.is_revoked("after-snapshot"));
    assert_eq!(c.revocation_count(), l.revocation_count());
    voters(&l, &[1, 2, 3, 4]).await;
    nodes.push(d);
    stop_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_quorum_propose_is_unavailable_and_reads_continue() {
    let mut nodes = three().await;
    let leader = agreed_leader(&nodes).await;
    nodes[leader].c().propose(revoke("kept")).await.unwrap();
    nodes[leader]
        .c()
        .propose(Command::AddKey {
            key: key("k"),
            at: 1,
        })
        .await
        .unwrap();
    let survivor = follower(&nodes, leader);
    applied(
        nodes[survivor].c(),
        nodes[leader].c().status().last_applied.unwrap(),
    )
    .await;
    for (i, n) in nodes.iter_mut().enumerate() {
        if i != survivor {
            n.stop().await;
        }
    }

    let c = nodes[survivor].c();
    let res = tokio::time::timeout(Duration::from_secs(10), c.propose(revoke("lost")))
        .await
        .expect("propose is bounded by its own 5 s timeout");
    assert!(matches!(res, Err(ClusterError::Unavailable(_))), "{res:?}");
    assert!(c.is_revoked("kept") && !c.is_revoked("lost"));
    assert_eq!(c.keys().len(), 1);
    assert_eq!(c.status().members, vec![1, 2, 3]);
    stop_all(&mut nodes).await;
}

/// openraft 0.9 keeps an isolated leader in the Leader state; `status()` must not call it leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_without_quorum_reports_no_leader() {
    let mut nodes = three().await;
    let leader = agreed_leader(&nodes).await;
    let id = nodes[leader].id;
    assert_eq!(nodes[leader].c().status().leader, Some(id));
    for (i, n) in nodes.iter_mut().enumerate() {
        if i != leader {
            n.stop().await;
        }
    }
    let c = nodes[leader].c();
    let start = std::time::Instant::now();
    while c.status().leader.is_some() {
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", c.status());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.raft().metrics().borrow().current_leader, Some(id), "raft itself still names this node");
    stop_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn remove_shrinks_membership() {
    let mut nodes = three().await;
    let leader = agreed_leader(&nodes).await;
    let f = follower(&nodes, leader);
    let other = (0..3).find(|i| *i != leader && *i != f).unwrap();
    let gone = nodes[other].id;

    // Removal asked on a follower is carried out by the leader.
    nodes[f].c().remove(gone).await.unwrap();
    let mut left: Vec<_> = nodes
        .iter()
        .map(|n| n.id)
        .filter(|id| *id != gone)
        .collect();
    left.sort();
    voters(nodes[leader].c(), &left).await;
    voters(nodes[f].c(), &left).await;
    // The removed node knows it no longer votes (it was demoted before being dropped).
    let gone_view = nodes[other].c().status();
    assert!(!gone_view.members.contains(&gone), "{gone_view:?}");
    assert_eq!(gone_view.state, "Learner");
    nodes[other].stop().await;

    // Two members left, both needed: writes still commit.
    let resp = nodes[f].c().propose(revoke("two-left")).await.unwrap();
    applied(nodes[leader].c(), resp.log_index).await;
    // Unknown ids and the CLI path.
    let admin = AdminClient::new(nodes[leader].addr.to_string(), SECRET);
    let unknown = admin.remove(gone).await;
    assert!(
        matches!(unknown, Err(ClusterError::Rejected(_))),
        "{unknown:?}"
    );
    let s = admin.status().await.unwrap();
    assert_eq!(s.members, left);
    assert_eq!(s.nodes.len(), 2);

    // Restarted with CLUSTER_JOIN, the removed node joins again and catches up.
    let peer = Some(nodes[leader].addr.to_string());
    let back = Cluster::start(nodes[other].config(peer)).await.unwrap();
    assert!(back.is_joining());
    tokio::time::timeout(PATIENCE, back.wait_joined())
        .await
        .unwrap()
        .unwrap();
    nodes[other].cluster = Some(back);
    voters(nodes[leader].c(), &[1, 2, 3]).await;
    applied(nodes[other].c(), resp.log_index).await;
    assert!(nodes[other].c().is_revoked("two-left"));
    stop_all(&mut nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_leading_its_own_group_cannot_join_another() {
    let mut a = net::seed(1).await;
    let mut b = net::seed(2).await;
    let res = b.c().join(&a.addr.to_string()).await;
    assert!(matches!(res, Err(ClusterError::Rejected(_))), "{res:?}");
    // Without a listener there is nothing to join with.
    let dir = tempfile::tempdir().unwrap();
    let lone = Cluster::start(crate::ClusterConfig {
        node_id: 3,
        data_dir: dir.path().join("raft"),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(matches!(
        lone.join("127.0.0.1:1").await,
        Err(ClusterError::NotNetworked)
    ));
    assert!(lone.local_addr().is_none() && lone.advertise().is_none());
    lone.shutdown().await.unwrap();
    a.stop().await;
    b.stop().await;
}

/// `propose` and the membership calls must be usable from spawned tasks.
#[allow(dead_code)]
fn futures_are_send(c: Cluster) {
    fn send<T: Send>(_: T) {}
    send(async move {
        let _ = c.propose(revoke("x")).await;
        let _ = c.join("x").await;
        let _ = c.remove(1).await;
        let _ = c.cluster_status().await;
    });
}
