//! Membership: joining a cluster (as a learner, then promoted once caught up), the background
//! join a starting node runs with `CLUSTER_JOIN`, removing members, and the status report
//! (members with addresses, and the leader's replication lag per member).

use std::time::Duration;

use openraft::{BasicNode, ChangeMembers};
use tokio::time::Instant;

use crate::api::{self, AddLearner, AdminReply, MembershipChange, StatusQuery};
use crate::error::ClusterError;
use crate::handle::{Cluster, JoinState};
use crate::types::{ClusterStatus, MemberStatus, NodeId};

/// How long one join step (reaching the leader, committing a membership change) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new learner may take to catch up (it may have to install a snapshot).
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);
/// Bounds of the pause between attempts of the background join.
const JOIN_RETRY_MIN: Duration = Duration::from_millis(250);
const JOIN_RETRY_MAX: Duration = Duration::from_secs(5);
/// How long `cluster_status` waits for the leader's view.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);

impl Cluster {
    /// Joins the cluster `peer` (any member's cluster address) belongs to: asks the leader to
    /// add this node as a learner, waits until it has caught up (log or snapshot), then asks
    /// for promotion to voter and waits until it has applied that change. A voting member
    /// returns at once; a node leading its own one-member group is refused (its data would
    /// conflict — join with an empty raft directory).
    pub async fn join(&self, peer: &str) -> Result<(), ClusterError> {
        let net = self.net()?;
        let id = self.inner.node_id;
        let (voters, nodes) = self.local_membership();
        if voters.contains(&id) {
            if voters == [id] && nodes.len() == 1 {
                return Err(ClusterError::Rejected(
                    "this node already runs its own one-member cluster; start it with an empty raft directory to join another".into(),
                ));
            }
            return Ok(());
        }
        let learner = AddLearner {
            node_id: id,
            addr: net.advertise.clone(),
        };
        let added = self
            .leader_call(&learner, Some(peer), Instant::now() + STEP_TIMEOUT)
            .await?;
        tracing::info!(
            node_id = id,
            peer,
            index = added,
            "added as a learner; catching up"
        );
        self.wait_applied_until(added, Instant::now() + CATCH_UP_TIMEOUT)
            .await?;
        let deadline = Instant::now() + STEP_TIMEOUT;
        let promoted = self
            .leader_call(&MembershipChange::Promote(id), Some(peer), deadline)
            .await?;
        self.wait_applied_until(promoted, deadline).await?;
        tracing::info!(node_id = id, "joined the cluster as a voter");
        Ok(())
    }

    /// Starts the background join of a starting node; retries until the peer answers. Wrong
    /// secret or a rejected request end it (see [`Cluster::wait_joined`]).
    pub(crate) fn spawn_join(&self, peer: String) {
        self.inner.join_state.send_replace(JoinState::Joining);
        let cluster = self.clone();
        let task = tokio::spawn(async move {
            let mut delay = JOIN_RETRY_MIN;
            let mut attempt = 1u32;
            loop {
                match cluster.join(&peer).await {
                    Ok(()) => {
                        cluster.inner.join_state.send_replace(JoinState::Joined);
                        return;
                    }
                    Err(e @ (ClusterError::Unauthorized(_) | ClusterError::Rejected(_))) => {
                        tracing::error!(peer = %peer, error = %e, "cannot join the cluster");
                        cluster
                            .inner
                            .join_state
                            .send_replace(JoinState::Failed(e.to_string()));
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(peer = %peer, attempt, error = %e, "join failed; retrying");
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(JOIN_RETRY_MAX);
                        attempt += 1;
                    }
                }
            }
        });
        *self
            .inner
            .join_task
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    /// True while the background join started by `CLUSTER_JOIN` is still running. A node that
    /// joins receives the keys by replication: it must not generate initial keys.
    pub fn is_joining(&self) -> bool {
        *self.inner.join_state.borrow() == JoinState::Joining
    }

    /// Waits for the background join to finish (at once when there is none). `Unauthorized`
    /// or `Rejected` when the join gave up.
    pub async fn wait_joined(&self) -> Result<(), ClusterError> {
        let mut rx = self.inner.join_state.subscribe();
        let state = rx
            .wait_for(|s| *s != JoinState::Joining)
            .await
            .map(|s| s.clone())
            .map_err(|_| ClusterError::Unavailable("cluster stopped".into()))?;
        match state {
            JoinState::Failed(e) => Err(ClusterError::Rejected(e)),
            _ => Ok(()),
        }
    }

    /// Removes a member (voter or learner) through the leader and waits until this node has
    /// applied the change (unless it removed itself).
    pub async fn remove(&self, node_id: NodeId) -> Result<(), ClusterError> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        let index = self
            .leader_call(&MembershipChange::Remove(node_id), None, deadline)
            .await?;
        if node_id != self.inner.node_id {
            self.wait_applied_until(index, deadline).await?;
        }
        tracing::info!(node_id, "removed from the cluster");
        Ok(())
    }

    /// The effective membership in this node's metrics: voter ids and all node ids.
    fn local_membership(&self) -> (Vec<NodeId>, Vec<NodeId>) {
        let metrics = self.inner.raft.metrics();
        let m = metrics.borrow();
        let membership = m.membership_config.membership();
        (
            membership.voter_ids().collect(),
            membership.nodes().map(|(id, _)| *id).collect(),
        )
    }

    /// A lone voter whose recorded address differs from the advertised one (first started
    /// without a listener, or moved) records the new address so joiners can reach it.
    pub(crate) async fn refresh_own_address(&self) {
        let Some(advertise) = self.advertise() else {
            return;
        };
        let id = self.inner.node_id;
        let recorded = {
            let metrics = self.inner.raft.metrics();
            let m = metrics.borrow();
            m.membership_config
                .membership()
                .get_node(&id)
                .map(|n| n.addr.clone())
        };
        if recorded.as_deref() == Some(advertise) {
            return;
        }
        let node = BasicNode {
            addr: advertise.to_owned(),
        };
        let change = ChangeMembers::SetNodes([(id, node)].into());
        match tokio::time::timeout(
            STEP_TIMEOUT,
            self.inner.raft.change_membership(change, true),
        )
        .await
        {
            Ok(Ok(_)) => tracing::info!(
                node_id = id,
                addr = advertise,
                "recorded this node's cluster address"
            ),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot record this node's cluster address"),
            Err(_) => tracing::warn!("timed out recording this node's cluster address"),
        }
    }

    /// The node's raft status, from its metrics — except `last_applied`, which is read from the
    /// state machine itself so it always matches what `keys()` / `is_revoked()` see (raft's
    /// metrics are published a moment after each apply). Replication lag is known only when
    /// this node leads; see [`Cluster::cluster_status`].
    ///
    /// A leader that no quorum has acknowledged for longer than an election timeout reports no
    /// leader: openraft 0.9 keeps such a node in the Leader state (it has no check-quorum), yet it
    /// can commit nothing and its followers have moved on or are gone. Health checks, metrics and
    /// the leader-only key schedule then see what the rest of the cluster sees.
    pub fn status(&self) -> ClusterStatus {
        let metrics = self.inner.raft.metrics();
        let m = metrics.borrow();
        let membership = m.membership_config.membership();
        let voters: Vec<NodeId> = membership.voter_ids().collect();
        let is_leader = m.state == openraft::ServerState::Leader;
        let quorum_lost = is_leader
            && voters.len() > 1
            && m.millis_since_quorum_ack
                .is_none_or(|ms| ms > crate::handle::ELECTION_TIMEOUT_MAX_MS);
        let nodes = membership
            .nodes()
            .map(|(id, node)| {
                let matched = match &m.replication {
                    Some(r) => match r.get(id) {
                        Some(l) => l.map(|l| l.index),
                        None if *id == m.id => m.last_log_index,
                        None => None,
                    },
                    None => None,
                };
                // Entries the member does not hold yet.
                let lag = (is_leader && m.replication.is_some()).then(|| {
                    let last = m.last_log_index.map_or(0, |l| l + 1);
                    last.saturating_sub(matched.map_or(0, |l| l + 1))
                });
                MemberStatus {
                    id: *id,
                    addr: node.addr.clone(),
                    voter: voters.contains(id),
                    matched,
                    lag,
                }
            })
            .collect();
        ClusterStatus {
            node_id: m.id,
            leader: m.current_leader.filter(|_| !quorum_lost),
            term: m.current_term,
            last_applied: self.inner.state.last_applied(),
            last_log_index: m.last_log_index,
            learners: membership.learner_ids().collect(),
            members: voters,
            nodes,
            state: format!("{:?}", m.state),
        }
    }

    /// [`Cluster::status`], with the replication lag per member taken from the leader when this
    /// node is a follower (left empty if the leader does not answer within 2 s).
    pub async fn cluster_status(&self) -> ClusterStatus {
        let mut status = self.status();
        let (Some(leader), Ok(net)) = (status.leader, self.net()) else {
            return status;
        };
        if leader == status.node_id {
            return status;
        }
        let Some(addr) = status
            .nodes
            .iter()
            .find(|n| n.id == leader)
            .map(|n| n.addr.clone())
        else {
            return status;
        };
        let query = StatusQuery {
            with_leader_lag: false,
        };
        let reply: Result<AdminReply<ClusterStatus>, _> = net
            .peers
            .post(&addr, api::STATUS, &query, STATUS_TIMEOUT)
            .await;
        match reply {
            Ok(Ok(view)) => {
                for node in &mut status.nodes {
                    if let Some(v) = view.nodes.iter().find(|v| v.id == node.id) {
                        node.matched = v.matched;
                        node.lag = v.lag;
                    }
                }
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "leader status unavailable"),
            Err(e) => tracing::debug!(error = %e, "leader status unavailable"),
        }
        status
    }
}
