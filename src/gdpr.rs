//! GDPR: export of everything held about a user (art. 15/20) and erasure (art. 17).
//!
//! Erasure order matters: access tokens are revoked through the cluster first (if the quorum is
//! unreachable nothing is deleted and the caller may retry), then one transaction deletes the
//! user's rows and pseudonymises the audit trail. Audit rows are kept (the trail must survive) but
//! keep only a pseudonym — a keyed hash of the user id, so rows of one erased user still correlate
//! while the id cannot be recovered — and lose the IP address, user agent, and any personal fields
//! (username, e-mail, display name) inside their details.

use crate::admin::views;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use serde_json::{Value, json};
use tessera_cluster::{ClusterError, Command};
use tessera_actors::sessions::{self, EndAllForUser, ListForUser, SessionError};
use tessera_entity::sessions as sessions_table;
use tessera_entity::{access_tokens, audit_logs, authorization_codes, consents, refresh_tokens, roles, user_roles, users};

/// Most audit rows an export carries (the newest).
pub const EXPORT_AUDIT_LIMIT: u64 = 10_000;
/// Keys whose values are personal data wherever they appear in audit details.
const PERSONAL_KEYS: [&str; 5] = ["username", "email", "display_name", "ip_address", "user_agent"];

#[derive(Debug, thiserror::Error)]
pub enum GdprError {
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Sessions(#[from] SessionError),
}

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Erasure {
    pub erased: bool,
    pub pseudonym: String,
    pub access_tokens_revoked: u64,
    pub refresh_tokens_deleted: u64,
    pub sessions_ended: u64,
    pub audit_rows_pseudonymised: u64,
}

/// The stable pseudonym of an erased user: `erased:` + 32 hex digits of HMAC-SHA-256(pepper, id).
pub fn pseudonym(pepper: &[u8; 32], user_id: &str) -> String {
    const CONTEXT: &[u8] = b"tessera gdpr pseudonym v1:";
    let hex: String = match <Hmac<sha2::Sha256> as Mac>::new_from_slice(pepper) {
        Ok(mut mac) => {
            mac.update(CONTEXT);
            mac.update(user_id.as_bytes());
            mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
        }
        // HMAC accepts keys of any length; this arm only keeps the request path panic-free.
        Err(_) => tessera_actors::crypto::sha256_hex(&[pepper.as_slice(), CONTEXT, user_id.as_bytes()].concat()),
    };
    format!("erased:{}", &hex[..32])
}

fn about_user(user_id: &str) -> Condition {
    Condition::any()
        .add(audit_logs::Column::UserId.eq(user_id))
        .add(Condition::all().add(audit_logs::Column::ResourceType.eq("user")).add(audit_logs::Column::ResourceId.eq(user_id)))
}

/// Pending audit events are written first, so none about the user arrives after an erasure and
/// an export sees them all.
async fn flush_audit(state: &AppState) {
    match state.audit.flush().await {
        Ok(()) => {}
        Err(e) => tracing::error!(error = %e, "audit flush failed"),
    }
}

/// Everything held about the user, or `None` if there is no such user. No password hash, no
/// token or code hash.
pub async fn export(state: &AppState, user_id: &str) -> Result<Option<Value>, GdprError> {
    let db = &state.db;
    let now = state.clock.now();
    let Some(user) = users::Entity::find_by_id(user_id.to_string()).one(db).await? else { return Ok(None) };
    flush_audit(state).await;
    let assignments = user_roles::Entity::find().filter(user_roles::Column::UserId.eq(user_id)).find_also_related(roles::Entity).all(db).await?;
    let live: Vec<(user_roles::Model, roles::Model)> =
        assignments.iter().filter(|(a, _)| a.expires_at.is_none_or(|t| t > now)).filter_map(|(a, r)| r.clone().map(|r| (a.clone(), r))).collect();
    let roles_json: Vec<Value> = assignments.iter().filter_map(|(a, r)| r.as_ref().map(|r| views::assignment(a, r, now))).collect();
    let consents: Vec<Value> = consents::Entity::find()
        .filter(consents::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .map(|c| json!({ "client_id": c.client_id, "scopes": c.scopes.split_whitespace().collect::<Vec<_>>(), "created_at": views::ts(c.created_at), "updated_at": views::ts(c.updated_at) }))
        .collect();
    // Through the sessions actor: they may live in Redis. Everything still held, expired or not.
    let sessions: Vec<Value> = sessions::ask(&state.sessions, ListForUser { user_id: user_id.to_string(), include_expired: true })
        .await?
        .into_iter()
        .map(|s| json!({ "auth_time": views::ts(s.auth_time), "last_seen_at": views::ts(s.last_seen_at), "expires_at": views::ts(s.expires_at), "ip_address": s.ip_address, "user_agent": s.user_agent, "created_at": views::ts(s.created_at) }))
        .collect();
    let access: Vec<Value> = access_tokens::Entity::find()
        .filter(access_tokens::Column::UserId.eq(user_id))
        .order_by_asc(access_tokens::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|t| json!({ "jti": t.jti, "client_id": t.client_id, "scope": t.scope, "expires_at": views::ts(t.expires_at), "revoked": t.revoked, "created_at": views::ts(t.created_at) }))
        .collect();
    let refresh: Vec<Value> = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::UserId.eq(user_id))
        .order_by_asc(refresh_tokens::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|t| {
            json!({
                "id": t.id, "family_id": t.family_id, "client_id": t.client_id, "scope": t.scope,
                "auth_time": views::ts(t.auth_time), "expires_at": views::ts(t.expires_at), "revoked": t.revoked,
                "revoked_at": views::opt_ts(t.revoked_at), "rotated_at": views::opt_ts(t.rotated_at), "created_at": views::ts(t.created_at),
            })
        })
        .collect();
    let mut audit: Vec<audit_logs::Model> = audit_logs::Entity::find()
        .filter(about_user(user_id))
        .order_by_desc(audit_logs::Column::CreatedAt)
        .order_by_desc(audit_logs::Column::Id)
        .limit(EXPORT_AUDIT_LIMIT + 1)
        .all(db)
        .await?;
    let truncated = audit.len() as u64 > EXPORT_AUDIT_LIMIT;
    audit.truncate(EXPORT_AUDIT_LIMIT as usize);
    Ok(Some(json!({
        "exported_at": views::ts(now),
        "user": views::user(&user, &live),
        "roles": roles_json,
        "consents": consents,
        "sessions": sessions,
        "access_tokens": access,
        "refresh_tokens": refresh,
        "audit_logs": audit.iter().map(views::audit).collect::<Vec<_>>(),
        "audit_logs_truncated": truncated,
    })))
}

/// Revokes, through the cluster, every unexpired access token matching `filter` (by user or by
/// client), and marks the rows revoked. Returns how many were revoked.
pub async fn revoke_access_tokens(state: &AppState, filter: Condition, now: DateTime<Utc>) -> Result<u64, GdprError> {
    let live: Vec<(String, DateTime<Utc>)> = access_tokens::Entity::find()
        .select_only()
        .column(access_tokens::Column::Jti)
        .column(access_tokens::Column::ExpiresAt)
        .filter(filter)
        .filter(access_tokens::Column::ExpiresAt.gt(now))
        .into_tuple()
        .all(&state.db)
        .await?;
    let cluster = state.ring.cluster();
    for (jti, exp) in &live {
        if !cluster.is_revoked(jti) {
            cluster.propose(Command::Revoke { jti: jti.clone(), expires_at: exp.timestamp(), at: now.timestamp() }).await?;
        }
    }
    if !live.is_empty() {
        access_tokens::Entity::update_many()
            .col_expr(access_tokens::Column::Revoked, Expr::value(true))
            .filter(access_tokens::Column::Jti.is_in(live.iter().map(|(j, _)| j.clone())))
            .exec(&state.db)
            .await?;
    }
    Ok(live.len() as u64)
}

/// Replaces personal values inside audit details; returns whether anything changed.
fn scrub(v: &mut Value) -> bool {
    match v {
        Value::Object(map) => {
            let mut changed = false;
            for (k, inner) in map.iter_mut() {
                if PERSONAL_KEYS.contains(&k.as_str()) && !inner.is_null() {
                    *inner = json!("[erased]");
                    changed = true;
                } else {
                    changed |= scrub(inner);
                }
            }
            changed
        }
        Value::Array(items) => {
            let mut changed = false;
            for item in items {
                changed |= scrub(item); // every item, no short-circuit
            }
            changed
        }
        _ => false,
    }
}

async fn pseudonymise_audit<C: ConnectionTrait>(db: &C, user_id: &str, alias: &str) -> Result<u64, DbErr> {
    let ids: Vec<i64> = audit_logs::Entity::find().select_only().column(audit_logs::Column::Id).filter(about_user(user_id)).into_tuple().all(db).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    audit_logs::Entity::update_many()
        .col_expr(audit_logs::Column::UserId, Expr::value(alias))
        .col_expr(audit_logs::Column::IpAddress, Expr::value(Option::<String>::None))
        .col_expr(audit_logs::Column::UserAgent, Expr::value(Option::<String>::None))
        .filter(audit_logs::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    audit_logs::Entity::update_many()
        .col_expr(audit_logs::Column::ResourceId, Expr::value(alias))
        .filter(audit_logs::Column::ResourceType.eq("user"))
        .filter(audit_logs::Column::ResourceId.eq(user_id))
        .exec(db)
        .await?;
    for chunk in ids.chunks(500) {
        let rows = audit_logs::Entity::find().filter(audit_logs::Column::Id.is_in(chunk.to_vec())).filter(audit_logs::Column::Details.is_not_null()).all(db).await?;
        for row in rows {
            let Some(mut details) = row.details else { continue };
            if scrub(&mut details) {
                audit_logs::Entity::update_many()
                    .col_expr(audit_logs::Column::Details, Expr::value(details))
                    .filter(audit_logs::Column::Id.eq(row.id))
                    .exec(db)
                    .await?;
            }
        }
    }
    Ok(ids.len() as u64)
}

/// Erases the user. Access tokens are revoked in the cluster before anything is deleted.
pub async fn erase(state: &AppState, user_id: &str) -> Result<Erasure, GdprError> {
    let now = state.clock.now();
    if users::Entity::find_by_id(user_id.to_string()).one(&state.db).await?.is_none() {
        return Err(GdprError::NotFound);
    }
    let revoked = revoke_access_tokens(state, Condition::all().add(access_tokens::Column::UserId.eq(user_id)), now).await?;
    // Sessions are ended through the actor (they may live in Redis), before the rows go: a retry
    // after a failure below finds none left to end, and none can outlive the user.
    let sessions = sessions::ask(&state.sessions, EndAllForUser(user_id.to_string())).await?;
    flush_audit(state).await;
    let alias = pseudonym(&state.pepper, user_id);
    let txn = state.db.begin().await?;
    access_tokens::Entity::delete_many().filter(access_tokens::Column::UserId.eq(user_id)).exec(&txn).await?;
    let refresh = refresh_tokens::Entity::delete_many().filter(refresh_tokens::Column::UserId.eq(user_id)).exec(&txn).await?.rows_affected;
    authorization_codes::Entity::delete_many().filter(authorization_codes::Column::UserId.eq(user_id)).exec(&txn).await?;
    // The table too, in case sessions moved from the database to Redis since they were made.
    sessions_table::Entity::delete_many().filter(sessions_table::Column::UserId.eq(user_id)).exec(&txn).await?;
    consents::Entity::delete_many().filter(consents::Column::UserId.eq(user_id)).exec(&txn).await?;
    user_roles::Entity::delete_many().filter(user_roles::Column::UserId.eq(user_id)).exec(&txn).await?;
    // Assignments this user made for others keep only the pseudonym of who made them.
    user_roles::Entity::update_many()
        .col_expr(user_roles::Column::AssignedBy, Expr::value(alias.as_str()))
        .filter(user_roles::Column::AssignedBy.eq(user_id))
        .exec(&txn)
        .await?;
    users::Entity::delete_by_id(user_id.to_string()).exec(&txn).await?;
    let audit = pseudonymise_audit(&txn, user_id, &alias).await?;
    txn.commit().await?;
    users::bump_generation();
    consents::bump_generation();
    state.permissions.invalidate_user(user_id).await;
    Ok(Erasure {
        erased: true,
        pseudonym: alias,
        access_tokens_revoked: revoked,
        refresh_tokens_deleted: refresh,
        sessions_ended: sessions,
        audit_rows_pseudonymised: audit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_keyed_and_opaque() {
        let p = pseudonym(&[1; 32], "user-1");
        assert_eq!(p, pseudonym(&[1; 32], "user-1"));
        assert_ne!(p, pseudonym(&[2; 32], "user-1"));
        assert!(p.starts_with("erased:") && !p.contains("user-1"));
    }

    #[test]
    fn scrub_replaces_personal_fields_at_any_depth() {
        let mut v = json!({ "after": { "username": "alice", "is_active": true }, "list": [{ "email": "a@b.c" }], "permission": "users:list" });
        assert!(scrub(&mut v));
        assert_eq!(v["after"]["username"], "[erased]");
        assert_eq!(v["list"][0]["email"], "[erased]");
        assert_eq!(v["permission"], "users:list");
        assert!(!scrub(&mut json!({ "permission": "x" })));
    }
}
