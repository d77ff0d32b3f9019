//! `/api/v2/audit-logs`: searching the audit trail, as JSON pages or as CSV.
//!
//! CSV follows RFC 4180 (CRLF, fields quoted when needed) and neutralises spreadsheet formulas: a
//! field starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'` (OWASP CSV injection).

use super::ctx::{Ctx, ok};
use super::error::ApiError;
use super::validate::Query;
use super::views;
use actix_web::HttpResponse;
use actix_web::http::header;
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use serde_json::json;
use tessera_entity::audit_logs;

/// Most rows one CSV export carries (newest first); `X-Tessera-Truncated: true` says when cut.
pub const CSV_MAX_ROWS: u64 = 50_000;
const SEVERITIES: [&str; 3] = ["info", "warning", "critical"];
const COLUMNS: [&str; 11] = ["id", "created_at", "action", "severity", "user_id", "client_id", "resource_type", "resource_id", "ip_address", "user_agent", "details"];

/// The filters both forms share.
fn filtered(q: &mut Query) -> Select<audit_logs::Entity> {
    let from = q.opt_time("from");
    let to = q.opt_time("to");
    let action = q.opt_str("action", 100);
    let user = q.opt_str("user_id", 200);
    let client = q.opt_str("client_id", 200);
    let severity = q.opt_one_of("severity", &SEVERITIES);
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        q.error("to", "must not be before from");
    }
    let mut cond = Condition::all();
    if let Some(f) = from {
        cond = cond.add(audit_logs::Column::CreatedAt.gte(f));
    }
    if let Some(t) = to {
        cond = cond.add(audit_logs::Column::CreatedAt.lt(t));
    }
    if let Some(a) = action {
        cond = cond.add(audit_logs::Column::Action.eq(a));
    }
    if let Some(u) = user {
        // The acting user, or the user an action was about.
        cond = cond.add(Condition::any().add(audit_logs::Column::UserId.eq(u.clone())).add(Condition::all().add(audit_logs::Column::ResourceType.eq("user")).add(audit_logs::Column::ResourceId.eq(u))));
    }
    if let Some(c) = client {
        cond = cond.add(audit_logs::Column::ClientId.eq(c));
    }
    if let Some(s) = severity {
        cond = cond.add(audit_logs::Column::Severity.eq(s));
    }
    audit_logs::Entity::find().filter(cond).order_by_desc(audit_logs::Column::CreatedAt).order_by_desc(audit_logs::Column::Id)
}

pub async fn list(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut q = ctx.query();
    let csv = q.opt_one_of("format", &["json", "csv"]).as_deref() == Some("csv");
    if csv {
        return csv_response(&ctx, q).await;
    }
    let page = q.page();
    let select = filtered(&mut q);
    q.finish()?;
    let total = select.clone().count(ctx.db()).await?;
    let rows = select.offset(page.offset()).limit(page.limit).all(ctx.db()).await?;
    Ok(ok(json!({ "audit_logs": rows.iter().map(views::audit).collect::<Vec<_>>(), "pagination": page.describe(total) })))
}

pub async fn export(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let q = ctx.query();
    csv_response(&ctx, q).await
}

async fn csv_response(ctx: &Ctx, mut q: Query) -> Result<HttpResponse, ApiError> {
    let select = filtered(&mut q);
    q.finish()?;
    let mut rows = select.limit(CSV_MAX_ROWS + 1).all(ctx.db()).await?;
    let truncated = rows.len() as u64 > CSV_MAX_ROWS;
    rows.truncate(CSV_MAX_ROWS as usize);
    let name = format!("audit-logs-{}.csv", ctx.now().format("%Y%m%dT%H%M%SZ"));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .insert_header(("x-tessera-truncated", if truncated { "true" } else { "false" }))
        .body(to_csv(&rows)))
}

/// One CSV field: quoted when it holds a separator, a quote or a line break; formulas defused.
pub fn csv_field(raw: &str) -> String {
    let mut s = String::with_capacity(raw.len() + 2);
    if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        s.push('\'');
    }
    s.push_str(raw);
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

pub fn to_csv(rows: &[audit_logs::Model]) -> String {
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    for r in rows {
        let details = r.details.as_ref().map(|d| d.to_string()).unwrap_or_default();
        let created = r.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let id = r.id.to_string();
        let fields: [&str; 11] = [
            &id,
            &created,
            &r.action,
            &r.severity,
            r.user_id.as_deref().unwrap_or(""),
            r.client_id.as_deref().unwrap_or(""),
            r.resource_type.as_deref().unwrap_or(""),
            r.resource_id.as_deref().unwrap_or(""),
            r.ip_address.as_deref().unwrap_or(""),
            r.user_agent.as_deref().unwrap_or(""),
            &details,
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("-2,3"), "\"'-2,3\"");
    }
}
