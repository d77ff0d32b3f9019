//! `/admin/system`: this node and the cluster (raft state, leader, members, revocations), the
//! signing keys and their states (`system:keys`), and the effective configuration with every
//! secret redacted (`system:config`). Nothing private is ever shown: keys are listed by their
//! public metadata (`crate::keys_view`), the configuration is `Settings::redacted`.

use super::ctx::Ctx;
use super::failure::Failure;
use super::fmt;
use super::templates::{Badge, Chrome};
use actix_web::HttpResponse;
use askama::Template;

pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub state: Badge,
    pub created: String,
    pub activated: String,
    pub retired: String,
}

#[derive(Template)]
#[template(path = "console/system.html")]
pub struct SystemPage {
    pub c: Chrome,
    pub node: Vec<(&'static str, String)>,
    pub cluster: Vec<(&'static str, String)>,
    pub role: Badge,
    pub keys: Option<Vec<KeyRow>>,
    pub config: Option<Vec<(String, String)>>,
}

fn ts(v: &serde_json::Value) -> String {
    v.as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()).map(|t| fmt::when(t.with_timezone(&chrono::Utc))).unwrap_or_else(|| "\u{2014}".into())
}

pub async fn show(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let state = &ctx.state;
    let cluster = state.ring.cluster();
    let status = cluster.status();
    let role = match status.leader {
        Some(l) if l == status.node_id => Badge::new("Leader", "success"),
        Some(_) => Badge::new("Follower", "info"),
        None => Badge::new("No leader", "danger"),
    };
    let settings = &state.settings;
    let node = vec![
        ("Node name", state.node_name.to_string()),
        ("Version", env!("CARGO_PKG_VERSION").to_string()),
        ("Issuer", state.issuer.to_string()),
        ("Session store", if settings.redis_url.is_some() { "Redis".into() } else { "Database".into() }),
        ("Permission cache", if state.permissions.uses_redis() { "Redis, with an in-process fallback".into() } else { "In process".into() }),
        ("Server time", fmt::when(ctx.now())),
    ];
    let members: Vec<String> = status.members.iter().map(|m| m.to_string()).collect();
    let cluster_facts = vec![
        ("Raft node id", status.node_id.to_string()),
        ("Raft state", status.state.clone()),
        ("Leader", status.leader.map(|l| l.to_string()).unwrap_or_else(|| "none".into())),
        ("Term", status.term.to_string()),
        ("Last applied index", status.last_applied.map(|i| i.to_string()).unwrap_or_else(|| "\u{2014}".into())),
        ("Voting members", if members.is_empty() { "\u{2014}".into() } else { members.join(", ") }),
        ("Revoked tokens held", cluster.revocation_count().to_string()),
    ];
    let keys = ctx.can("system:keys").then(|| {
        crate::keys_view::list(&cluster.keys())
            .iter()
            .map(|k| {
                let state = k["state"].as_str().unwrap_or("").to_string();
                let tone = match state.as_str() {
                    "active" => "success",
                    "published" => "info",
                    _ => "neutral",
                };
                KeyRow {
                    kid: k["kid"].as_str().unwrap_or("").to_string(),
                    alg: k["alg"].as_str().unwrap_or("").to_string(),
                    state: Badge::new(state, tone),
                    created: ts(&k["created_at"]),
                    activated: ts(&k["activated_at"]),
                    retired: ts(&k["retired_at"]),
                }
            })
            .collect()
    });
    let config = ctx.can("system:config").then(|| {
        settings.redacted().lines().filter_map(|l| l.split_once(" = ")).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect()
    });
    let c = ctx.chrome("system", "System");
    ctx.ok(&SystemPage { c, node, cluster: cluster_facts, role, keys, config })
}
