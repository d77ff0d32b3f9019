//! `/admin`: the dashboard — users, clients, active sessions, tokens issued and failed logins in
//! the last 24 hours, recent security events — plus signing out and the console's 404 page.

use super::audit::{SECURITY_SEVERITIES, rows};
use super::ctx::Ctx;
use super::failure::Failure;
use super::templates::{DashboardPage, Stat};
use crate::oauth::authorize::with_return_to;
use crate::oauth::routes::LOGIN_PAGE;
use crate::pages::session;
use actix_web::HttpResponse;
use actix_web::http::header;
use chrono::Duration;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use tessera_actors::audit::Severity;
use tessera_entity::{audit_logs, oauth_clients, sessions, users};

fn n(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub async fn show(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let db = ctx.db();
    let now = ctx.now();
    let since = now - Duration::hours(24);
    let users_total = users::Entity::find().count(db).await?;
    let users_active = users::Entity::find().filter(users::Column::IsActive.eq(true)).count(db).await?;
    let clients_total = oauth_clients::Entity::find().count(db).await?;
    let clients_active = oauth_clients::Entity::find().filter(oauth_clients::Column::IsActive.eq(true)).count(db).await?;
    // From the audit trail: client-credentials tokens have no `access_tokens` row.
    let tokens = audit_logs::Entity::find().filter(audit_logs::Column::Action.eq("TOKEN_ISSUED")).filter(audit_logs::Column::CreatedAt.gte(since)).count(db).await?;
    let failed = audit_logs::Entity::find().filter(audit_logs::Column::Action.eq("USER_LOGIN_FAILED")).filter(audit_logs::Column::CreatedAt.gte(since)).count(db).await?;
    let security = audit_logs::Entity::find().filter(audit_logs::Column::Severity.is_in(SECURITY_SEVERITIES)).filter(audit_logs::Column::CreatedAt.gte(since)).count(db).await?;
    let sessions_stat = if ctx.state.settings.redis_url.is_some() {
        ("\u{2014}".to_string(), "kept in Redis".to_string())
    } else {
        let idle = chrono::Duration::from_std(ctx.state.settings.session_timeout).unwrap_or(Duration::hours(1));
        let live = sessions::Entity::find().filter(sessions::Column::ExpiresAt.gt(now)).filter(sessions::Column::LastSeenAt.gt(now - idle)).count(db).await?;
        (n(live), "signed-in browsers".to_string())
    };
    let audit = ctx.can("audit:list");
    let link = |ok: bool, href: &str| ok.then(|| href.to_string());
    let stats = vec![
        Stat { label: "Users", value: n(users_total), hint: format!("{} active", n(users_active)), href: link(ctx.can("menu:users") && ctx.can("users:list"), "/admin/users"), tone: "accent" },
        Stat { label: "Clients", value: n(clients_total), hint: format!("{} active", n(clients_active)), href: link(ctx.can("menu:clients") && ctx.can("clients:list"), "/admin/clients"), tone: "accent" },
        Stat { label: "Active sessions", value: sessions_stat.0, hint: sessions_stat.1, href: None, tone: "success" },
        Stat { label: "Tokens issued", value: n(tokens), hint: "token responses, last 24 h".into(), href: None, tone: "success" },
        Stat {
            label: "Failed logins",
            value: n(failed),
            hint: "last 24 h".into(),
            href: link(audit && ctx.can("menu:audit"), "/admin/audit?action=USER_LOGIN_FAILED"),
            tone: if failed > 0 { "warning" } else { "accent" },
        },
        Stat {
            label: "Security events",
            value: n(security),
            hint: "warnings and critical, last 24 h".into(),
            href: link(audit && ctx.can("menu:audit"), "/admin/audit/security"),
            tone: if security > 0 { "danger" } else { "accent" },
        },
    ];
    let events = if audit {
        let recent = audit_logs::Entity::find()
            .filter(audit_logs::Column::Severity.is_in(SECURITY_SEVERITIES))
            .order_by_desc(audit_logs::Column::CreatedAt)
            .order_by_desc(audit_logs::Column::Id)
            .limit(8)
            .all(db)
            .await?;
        Some(rows(&ctx, &recent).await?)
    } else {
        None
    };
    let mut shortcuts = Vec::new();
    let targets = [
        ("menu:users", "users:create", "Create a user", "/admin/users/new"),
        ("menu:clients", "clients:create", "Register a client", "/admin/clients/new"),
        ("menu:system", "system:keys", "Signing keys", "/admin/system"),
    ];
    for (menu, perm, label, href) in targets {
        if ctx.can(menu) && ctx.can(perm) {
            shortcuts.push((label, href));
        }
    }
    let c = ctx.chrome("dashboard", "Dashboard");
    ctx.ok(&DashboardPage { c, stats, events, shortcuts })
}

/// `POST /admin/logout`: ends the session and goes to the login page (which returns here).
pub async fn logout(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let removal = session::end(&ctx.state, &ctx.req).await?;
    ctx.record(ctx.event("USER_LOGOUT", Severity::Info).details(json!({ "via": "console" }))).await;
    let mut res = HttpResponse::SeeOther().insert_header((header::LOCATION, with_return_to(LOGIN_PAGE, super::ROOT))).finish();
    res.add_cookie(&removal).map_err(|_| Failure::Internal)?;
    Ok(res)
}

pub async fn not_found(_ctx: Ctx) -> Result<HttpResponse, Failure> {
    Err(Failure::NotFound("page"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_grouped() {
        assert_eq!(super::n(0), "0");
        assert_eq!(super::n(1234), "1,234");
        assert_eq!(super::n(1234567), "1,234,567");
    }
}
