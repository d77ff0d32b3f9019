//! `tessera cluster init | join <peer> | remove <node-id> | status`: signed admin calls to the
//! local node's internal cluster listener (`CLUSTER_BIND`, `CLUSTER_SECRET` from the settings),
//! and how their results are printed.

use clap::Subcommand;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use tessera_cluster::{AdminClient, ClusterStatus};
use tessera_config::Settings;

#[derive(Subcommand, Debug)]
pub enum ClusterAction {
    /// Initialise a one-member cluster with this node (nothing to do if it is already initialised).
    Init,
    /// Make this node join the cluster of PEER: added as a learner, caught up, promoted to voter.
    /// Refused when this node already leads its own one-member cluster (start it with an empty
    /// raft directory, or set CLUSTER_JOIN on first start).
    Join {
        /// A member's cluster address, host:port (e.g. tessera-seed:7001).
        peer: String,
    },
    /// Remove a member (voter or learner) by node id; the leader carries it out.
    Remove {
        /// The node id, as shown by `tessera cluster status`.
        node_id: u64,
    },
    /// Show this node, the leader, the term, the applied index, and every member with its
    /// address and replication lag (as the leader sees it).
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// The address to reach the local listener at: its bind address, with a wildcard IP replaced by
/// the loopback address.
fn local_target(bind: SocketAddr) -> String {
    let ip = match bind {
        SocketAddr::V4(a) if a.ip().is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        SocketAddr::V6(a) if a.ip().is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        _ => bind.ip(),
    };
    SocketAddr::new(ip, bind.port()).to_string()
}

pub async fn run(settings: &Settings, action: ClusterAction) -> anyhow::Result<ExitCode> {
    let (Some(bind), Some(secret)) = (settings.cluster_bind, settings.cluster_secret.as_ref()) else {
        eprintln!("error: this node has no cluster listener: set CLUSTER_BIND and CLUSTER_SECRET");
        return Ok(ExitCode::from(2));
    };
    let client = AdminClient::new(local_target(bind), secret.expose());
    let (json, result) = match action {
        ClusterAction::Init => (false, client.init().await),
        ClusterAction::Join { peer } => (false, client.join(&peer).await),
        ClusterAction::Remove { node_id } => {
            let result = client.remove(node_id).await;
            if result.is_ok() {
                println!("node {node_id} removed: it no longer receives updates; stop it (or restart it with CLUSTER_JOIN to rejoin)");
            }
            (false, result)
        }
        ClusterAction::Status { json } => (json, client.status().await),
    };
    match result {
        Ok(status) if json => println!("{}", serde_json::to_string_pretty(&status)?),
        Ok(status) => print!("{}", render(&status)),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The status as a small report: one line per fact, then one row per member.
pub fn render(s: &ClusterStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "node     {} ({})", s.node_id, s.state);
    let _ = writeln!(out, "leader   {}", opt(s.leader));
    let _ = writeln!(out, "term     {}", s.term);
    let _ = writeln!(out, "applied  {} (last log {})", opt(s.last_applied), opt(s.last_log_index));
    let _ = writeln!(out, "members  {} voters, {} learners", s.members.len(), s.learners.len());
    let width = s.nodes.iter().map(|n| n.addr.len()).max().unwrap_or(0).max("ADDRESS".len());
    let _ = writeln!(out, "{:<20} {:<8} {:<width$} {:>8} {:>6}", "ID", "ROLE", "ADDRESS", "MATCHED", "LAG");
    for n in &s.nodes {
        let mut id = n.id.to_string();
        if Some(n.id) == s.leader {
            id.push_str(" (leader)");
        } else if n.id == s.node_id {
            id.push_str(" (this)");
        }
        let role = if n.voter { "voter" } else { "learner" };
        let _ = writeln!(out, "{id:<20} {role:<8} {:<width$} {:>8} {:>6}", n.addr, opt(n.matched), opt(n.lag));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_cluster::MemberStatus;

    #[test]
    fn wildcard_bind_is_reached_on_loopback() {
        assert_eq!(local_target("0.0.0.0:7001".parse().unwrap()), "127.0.0.1:7001");
        assert_eq!(local_target("[::]:7001".parse().unwrap()), "[::1]:7001");
        assert_eq!(local_target("10.0.0.5:7001".parse().unwrap()), "10.0.0.5:7001");
    }

    #[test]
    fn status_table_names_leader_roles_and_lag() {
        let member = |id, voter, lag| MemberStatus { id, addr: format!("10.0.0.{id}:7001"), voter, matched: Some(40), lag };
        let s = ClusterStatus {
            node_id: 2,
            leader: Some(1),
            term: 3,
            last_applied: Some(42),
            last_log_index: Some(42),
            members: vec![1, 2],
            learners: vec![3],
            nodes: vec![member(1, true, Some(0)), member(2, true, Some(2)), member(3, false, None)],
            state: "Follower".into(),
        };
        let out = render(&s);
        assert!(out.starts_with("node     2 (Follower)\nleader   1\nterm     3\napplied  42 (last log 42)\nmembers  2 voters, 1 learners\n"), "{out}");
        let rows: Vec<Vec<&str>> = out.lines().skip(6).map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(rows[0], ["1", "(leader)", "voter", "10.0.0.1:7001", "40", "0"]);
        assert_eq!(rows[1], ["2", "(this)", "voter", "10.0.0.2:7001", "40", "2"]);
        assert_eq!(rows[2], ["3", "learner", "10.0.0.3:7001", "40", "-"]);
    }
}
