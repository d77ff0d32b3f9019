//! `/admin/audit`: the audit log with filters (action, severity, user, client, date range),
//! paginated; `/admin/audit/security`: the security events (warnings and critical) with the same
//! filters; `/admin/audit/export.csv`: the filtered rows as CSV (the admin API's CSV writer).

use super::ctx::Ctx;
use super::failure::Failure;
use super::fmt;
use super::form::{Form, query};
use super::templates::{AuditRow, Badge, Choice, Pager};
use actix_web::HttpResponse;
use actix_web::http::header;
use askama::Template;
use chrono::Duration;
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use std::collections::HashMap;
use tessera_entity::{audit_logs, users};

/// Severities that make an event a security event.
pub const SECURITY_SEVERITIES: [&str; 2] = ["warning", "critical"];
const PER_PAGE: u64 = 25;

pub fn severity_badge(s: &str) -> Badge {
    let tone = match s {
        "critical" => "danger",
        "warning" => "warning",
        _ => "neutral",
    };
    Badge::new(s, tone)
}

/// Display rows for audit models, with the acting users' names looked up in one query.
pub async fn rows(ctx: &Ctx, models: &[audit_logs::Model]) -> Result<Vec<AuditRow>, Failure> {
    let about_users = models.iter().filter(|m| m.resource_type.as_deref() == Some("user")).filter_map(|m| m.resource_id.clone());
    let ids: Vec<String> = models.iter().filter_map(|m| m.user_id.clone()).chain(about_users).collect();
    let names: HashMap<String, String> = crate::users::usernames(ctx.db(), ids).await?;
    let link = ctx.can("menu:users") && ctx.can("users:list");
    let now = ctx.now();
    Ok(models
        .iter()
        .map(|m| {
            let (actor, actor_href) = match &m.user_id {
                Some(id) => match names.get(id) {
                    Some(name) => (name.clone(), link.then(|| format!("/admin/users/{id}"))),
                    None => (id.chars().take(12).collect(), None),
                },
                None => ("\u{2014}".into(), None),
            };
            let (resource, resource_title, resource_href) = match (m.resource_type.as_deref(), &m.resource_id) {
                (Some("user"), Some(id)) if let Some(name) = names.get(id) => (format!("user {name}"), id.clone(), link.then(|| format!("/admin/users/{id}"))),
                (t, id) => {
                    let (r, title) = short_resource(t, id.as_deref());
                    (r, title, None)
                }
            };
            AuditRow {
                when: fmt::when_precise(m.created_at),
                ago: fmt::relative(now, m.created_at),
                action: m.action.clone(),
                severity: severity_badge(&m.severity),
                actor,
                actor_href,
                client: m.client_id.clone().unwrap_or_default(),
                resource,
                resource_title,
                resource_href,
                ip: m.ip_address.clone().unwrap_or_else(|| "\u{2014}".into()),
                details: fmt::details(m.details.as_ref()),
            }
        })
        .collect())
}

/// A resource as `type id`, long ids cut to 8 characters (the full text goes in a tooltip).
fn short_resource(kind: Option<&str>, id: Option<&str>) -> (String, String) {
    match (kind, id) {
        (Some(t), Some(id)) if id.chars().count() > 14 => (format!("{t} {}\u{2026}", id.chars().take(8).collect::<String>()), format!("{t} {id}")),
        (Some(t), Some(id)) => (format!("{t} {id}"), String::new()),
        (Some(t), None) => (t.to_string(), String::new()),
        _ => (String::new(), String::new()),
    }
}

/// The filters as the form sent them (kept to refill the form and the paging links).
#[derive(Debug, Clone, Default)]
struct Filter {
    action: String,
    severity: String,
    user: String,
    client: String,
    from: String,
    to: String,
}

impl Filter {
    fn read(q: &Form) -> Filter {
        let take = |n: &str, max: usize| q.get(n).chars().take(max).collect::<String>();
        Filter { action: take("action", 100), severity: take("severity", 16), user: take("user", 200), client: take("client", 200), from: take("from", 10), to: take("to", 10) }
    }

    fn pairs(&self) -> Vec<(&'static str, &str)> {
        vec![("action", &self.action), ("severity", &self.severity), ("user", &self.user), ("client", &self.client), ("from", &self.from), ("to", &self.to)]
    }

    /// The query; `security` keeps only warnings and critical events. Unparseable dates are errors.
    async fn select(&self, ctx: &Ctx, security: bool) -> Result<(Select<audit_logs::Entity>, Vec<String>), Failure> {
        let mut errors = Vec::new();
        let mut cond = Condition::all();
        if !self.action.is_empty() {
            cond = cond.add(audit_logs::Column::Action.eq(self.action.to_uppercase()));
        }
        match self.severity.as_str() {
            "" if security => cond = cond.add(audit_logs::Column::Severity.is_in(SECURITY_SEVERITIES)),
            "" => {}
            s @ ("info" | "warning" | "critical") => cond = cond.add(audit_logs::Column::Severity.eq(s)),
            _ => errors.push("Severity must be info, warning or critical.".to_string()),
        }
        if !self.user.is_empty() {
            let by_name = users::Entity::find().filter(users::Column::Username.eq(&self.user)).one(ctx.db()).await?;
            let id = by_name.map(|u| u.id).unwrap_or_else(|| self.user.clone());
            // The acting user, or the user an action was about.
            cond = cond.add(Condition::any().add(audit_logs::Column::UserId.eq(id.clone())).add(Condition::all().add(audit_logs::Column::ResourceType.eq("user")).add(audit_logs::Column::ResourceId.eq(id))));
        }
        if !self.client.is_empty() {
            cond = cond.add(audit_logs::Column::ClientId.eq(&self.client));
        }
        for (field, value, end_of_day) in [("From", &self.from, false), ("To", &self.to, true)] {
            if value.is_empty() {
                continue;
            }
            match fmt::parse_datetime(value) {
                Some(t) if end_of_day => cond = cond.add(audit_logs::Column::CreatedAt.lt(t + Duration::days(1))),
                Some(t) => cond = cond.add(audit_logs::Column::CreatedAt.gte(t)),
                None => errors.push(format!("{field} must be a date (YYYY-MM-DD).")),
            }
        }
        let select = audit_logs::Entity::find().filter(cond).order_by_desc(audit_logs::Column::CreatedAt).order_by_desc(audit_logs::Column::Id);
        Ok((select, errors))
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
pub struct AuditPage {
    pub c: super::templates::Chrome,
    pub security: bool,
    pub rows: Vec<AuditRow>,
    pub pager: Pager,
    pub errors: Vec<String>,
    pub action: String,
    pub actions: Vec<String>,
    pub severities: Vec<Choice>,
    pub user: String,
    pub client: String,
    pub from: String,
    pub to: String,
    pub export: String,
    pub reset: &'static str,
}

async fn page(ctx: Ctx, security: bool) -> Result<HttpResponse, Failure> {
    let q = ctx.query();
    let f = Filter::read(&q);
    let (select, errors) = f.select(&ctx, security).await?;
    let (total, models) = if errors.is_empty() {
        let total = select.clone().count(ctx.db()).await?;
        let page = q.page().min(total.div_ceil(PER_PAGE).max(1));
        (total, select.offset((page - 1) * PER_PAGE).limit(PER_PAGE).all(ctx.db()).await?)
    } else {
        (0, Vec::new())
    };
    let base = if security { "/admin/audit/security" } else { "/admin/audit" };
    let pairs = f.pairs();
    let pager = Pager::new(q.page(), PER_PAGE, total, |p| {
        let mut all = pairs.clone();
        let page = p.to_string();
        all.push(("page", &page));
        format!("{base}?{}", query(&all))
    });
    let actions: Vec<String> = audit_logs::Entity::find().select_only().column(audit_logs::Column::Action).distinct().order_by_asc(audit_logs::Column::Action).into_tuple().all(ctx.db()).await?;
    let mut severities = vec![Choice { value: String::new(), label: if security { "Warning or critical".into() } else { "Any severity".into() }, selected: f.severity.is_empty(), disabled: false }];
    for s in ["info", "warning", "critical"] {
        if security && s == "info" {
            continue;
        }
        severities.push(Choice { value: s.into(), label: s[..1].to_uppercase() + &s[1..], selected: f.severity == s, disabled: false });
    }
    let mut export_pairs = pairs.clone();
    if security {
        export_pairs.push(("view", "security"));
    }
    let title = if security { "Security events" } else { "Audit log" };
    let c = ctx.chrome("audit", title).crumb("Audit log", Some("/admin/audit")).crumb(if security { "Security events" } else { "All events" }, None);
    let rows = rows(&ctx, &models).await?;
    ctx.ok(&AuditPage {
        c,
        security,
        rows,
        pager,
        errors,
        action: f.action.clone(),
        actions,
        severities,
        user: f.user.clone(),
        client: f.client.clone(),
        from: f.from.clone(),
        to: f.to.clone(),
        export: format!("/admin/audit/export.csv?{}", query(&export_pairs)),
        reset: base,
    })
}

pub async fn list(ctx: Ctx) -> Result<HttpResponse, Failure> {
    page(ctx, false).await
}

pub async fn security(ctx: Ctx) -> Result<HttpResponse, Failure> {
    page(ctx, true).await
}

pub async fn export(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let q = ctx.query();
    let f = Filter::read(&q);
    let (select, errors) = f.select(&ctx, q.get("view") == "security").await?;
    if let Some(e) = errors.first() {
        return Err(Failure::BadRequest(e.clone()));
    }
    let max = crate::admin::audit_logs::CSV_MAX_ROWS;
    let mut models = select.limit(max + 1).all(ctx.db()).await?;
    let truncated = models.len() as u64 > max;
    models.truncate(max as usize);
    let name = format!("audit-log-{}.csv", ctx.now().format("%Y%m%dT%H%M%SZ"));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .insert_header(("x-tessera-truncated", if truncated { "true" } else { "false" }))
        .body(crate::admin::audit_logs::to_csv(&models)))
}
