//! Token revocation (RFC 7009) at `POST /api/v2/oauth/revoke`, and the access-token revocation
//! cascade the other grants use.
//!
//! A refresh token revokes its whole family and the family's access tokens; an access token is
//! revoked cluster-wide (`Command::Revoke` through raft, so every node refuses it) and its row
//! marked. Only the owning client may revoke; another client's token, an unknown or an invalid
//! token all answer 200 and change nothing (RFC 7009 §2.2).

use super::client_auth::{self, AuthenticatedClient};
use super::error::OAuthError;
use super::{jwt, refresh};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use tessera_actors::audit::{AuditEvent, Severity};
use tessera_cluster::Command;
use tessera_entity::access_tokens;

/// Revokes every unexpired access token matching `condition`: each jti proposed to the cluster's
/// revocation set first (the set alone decides whether a token is active), then the rows marked
/// revoked. A retry after a cluster failure finds the jtis again, because it skips only those the
/// cluster already holds.
pub async fn revoke_access_tokens(state: &AppState, condition: SimpleExpr) -> Result<(), OAuthError> {
    let now = state.clock.now();
    let rows = access_tokens::Entity::find()
        .filter(condition.clone())
        .filter(access_tokens::Column::ExpiresAt.gt(now))
        .all(&state.db)
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let cluster = state.ring.cluster();
    for row in rows.iter().filter(|r| !cluster.is_revoked(&r.jti)) {
        cluster.propose(Command::Revoke { jti: row.jti.clone(), expires_at: row.expires_at.timestamp(), at: now.timestamp() }).await?;
    }
    access_tokens::Entity::update_many()
        .col_expr(access_tokens::Column::Revoked, Expr::value(true))
        .filter(condition)
        .filter(access_tokens::Column::Revoked.eq(false))
        .exec(&state.db)
        .await?;
    Ok(())
}

/// What a revocation request revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    AccessToken,
    RefreshFamily,
    Nothing,
}

/// Revokes `token` if `client` owns it. Invalid, unknown or foreign tokens are `Nothing`.
pub async fn revoke_token(state: &AppState, client: &AuthenticatedClient, token: &str) -> Result<Revoked, OAuthError> {
    let owner = client.client.client_id.as_str();
    if token.contains('.') {
        let Ok(claims) = jwt::verify_access_token(state, token) else { return Ok(Revoked::Nothing) };
        if claims.client_id != owner {
            return Ok(Revoked::Nothing);
        }
        // Straight from the verified claims: a client-credentials token has no row to find.
        let cluster = state.ring.cluster();
        cluster.propose(Command::Revoke { jti: claims.jti.clone(), expires_at: claims.exp, at: state.clock.now().timestamp() }).await?;
        revoke_access_tokens(state, access_tokens::Column::Jti.eq(claims.jti)).await?;
        return Ok(Revoked::AccessToken);
    }
    match refresh::find(&state.db, token).await? {
        Some(t) if t.client_id == owner => {
            refresh::revoke_family(state, &t.family_id).await?;
            Ok(Revoked::RefreshFamily)
        }
        _ => Ok(Revoked::Nothing),
    }
}

/// `POST /api/v2/oauth/revoke`.
pub async fn revoke(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> Result<HttpResponse, OAuthError> {
    let params = client_auth::read_form(&req, payload).await?;
    let client = client_auth::authenticate(&state, &req, &params).await?;
    let token = params.require("token")?;
    let what = revoke_token(&state, &client, token).await?;
    if what != Revoked::Nothing {
        crate::metrics::TOKENS_REVOKED.inc();
        let (ip, ua) = crate::http::client_ip::origin(&state, &req).into();
        let kind = if what == Revoked::AccessToken { "access_token" } else { "refresh_token" };
        let ev = AuditEvent::new("TOKEN_REVOKED", Severity::Info, state.clock.now())
            .client(client.client.client_id.clone())
            .details(json!({ "token_type": kind }))
            .origin(ip, ua);
        state.audit.record(ev);
    }
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).insert_header((header::PRAGMA, "no-cache")).finish())
}
