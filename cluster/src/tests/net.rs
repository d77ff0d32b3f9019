//! Helpers for multi-node tests: nodes on loopback, each with its own temp dir and its own
//! listener port (port 0: the OS picks a free one, kept across restarts).

use std::net::SocketAddr;
use std::time::Duration;

use tempfile::TempDir;

use crate::types::{Command, NodeId};
use crate::{Cluster, ClusterConfig};

pub(crate) const SECRET: &str = "test-cluster-secret-0123456789";

/// Upper bound for anything a test waits for; reaching it is a failure, not a timing check.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

pub(crate) struct Node {
    pub id: NodeId,
    pub dir: TempDir,
    pub addr: SocketAddr,
    pub cluster: Option<Cluster>,
}

impl Node {
    /// A node around a started cluster handle.
    fn running(id: NodeId, dir: TempDir, cluster: Cluster) -> Node {
        let addr = cluster.local_addr().unwrap();
        Node { id, dir, addr, cluster: Some(cluster) }
    }

    pub fn c(&self) -> &Cluster {
        self.cluster.as_ref().expect("node is running")
    }

    pub fn config(&self, join: Option<String>) -> ClusterConfig {
        node_config(self.id, &self.dir, self.addr, SECRET, join)
    }

    pub async fn stop(&mut self) {
        if let Some(c) = self.cluster.take() {
            c.shutdown().await.unwrap();
        }
    }

    /// Restarts from the same dir and port (as a member: no join needed).
    pub async fn restart(&mut self) {
        assert!(self.cluster.is_none(), "stop the node first");
        self.cluster = Some(Cluster::start(self.config(None)).await.unwrap());
    }
}

pub(crate) fn node_config(
    id: NodeId,
    dir: &TempDir,
    bind: SocketAddr,
    secret: &str,
    join: Option<String>,
) -> ClusterConfig {
    ClusterConfig {
        node_id: id,
        data_dir: dir.path().join("raft"),
        bind: Some(bind),
        advertise: None,
        secret: Some(secret.into()),
        join,
    }
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A first node: initialises a one-member group.
pub(crate) async fn seed(id: NodeId) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(node_config(id, &dir, loopback(), SECRET, None))
        .await
        .unwrap();
    Node::running(id, dir, cluster)
}

/// A node that joins the cluster of `peer` by itself (CLUSTER_JOIN) and waits until it votes.
pub(crate) async fn joiner(id: NodeId, peer: &Node) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let cfg = node_config(id, &dir, loopback(), SECRET, Some(peer.addr.to_string()));
    let cluster = Cluster::start(cfg).await.unwrap();
    assert!(cluster.is_joining());
    tokio::time::timeout(PATIENCE, cluster.wait_joined())
        .await
        .expect("join finished")
        .unwrap();
    assert!(!cluster.is_joining());
    assert!(cluster.status().members.contains(&id));
    Node::running(id, dir, cluster)
}

/// Nodes 1, 2, 3: init + join + join.
pub(crate) async fn three() -> Vec<Node> {
    let a = seed(1).await;
    let b = joiner(2, &a).await;
    let c = joiner(3, &a).await;
    vec![a, b, c]
}

/// Waits until every running node names the same leader, which is one of them; returns its
/// position in `nodes`.
pub(crate) async fn agreed_leader(nodes: &[Node]) -> usize {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let running: Vec<_> = nodes.iter().filter(|n| n.cluster.is_some()).collect();
        let leaders: Vec<_> = running.iter().map(|n| n.c().status().leader).collect();
        let agreed = match leaders.first() {
            Some(Some(l)) if leaders.iter().all(|x| *x == Some(*l)) => nodes
                .iter()
                .position(|n| n.id == *l && n.cluster.is_some())
                .filter(|pos| nodes[*pos].c().status().state == "Leader"),
            _ => None,
        };
        if let Some(pos) = agreed {
            return pos;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no agreed leader: {leaders:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `c` has applied `index`.
pub(crate) async fn applied(c: &Cluster, index: u64) {
    let mut rx = c.subscribe();
    tokio::time::timeout(PATIENCE, rx.wait_for(|a| *a >= index))
        .await
        .unwrap_or_else(|_| panic!("node {} did not apply {index}", c.node_id()))
        .unwrap();
}

/// Waits until `c`'s voters are exactly `ids`.
pub(crate) async fn voters(c: &Cluster, ids: &[NodeId]) {
    let want = ids.to_vec();
    c.raft()
        .wait(Some(PATIENCE))
        .metrics(
            |m| {
                let mut v: Vec<_> = m.membership_config.membership().voter_ids().collect();
                v.sort();
                v == want && m.membership_config.membership().nodes().count() == want.len()
            },
            "membership",
        )
        .await
        .unwrap();
}

pub(crate) fn revoke(jti: &str) -> Command {
    Command::Revoke {
        jti: jti.into(),
        expires_at: i64::MAX,
        at: 1,
    }
}

pub(crate) async fn stop_all(nodes: &mut [Node]) {
    for n in nodes {
        n.stop().await;
    }
}
