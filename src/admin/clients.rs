//! `/api/v2/clients`: OAuth client administration on top of `crate::clients` (registration,
//! secret hashing). A secret is returned exactly once — at creation or regeneration — and is never
//! audited or logged; regenerating replaces the stored hash, so the old secret stops working.

use super::ctx::{Ctx, created, no_content, ok};
use super::error::{ApiError, FieldError};
use super::validate::{Body, DESCRIPTION, NAME, Text};
use super::views;
use crate::clients::{DEFAULT_GRANTS, DEFAULT_SCOPES, KNOWN_GRANTS, NewClient, RegisterError, hash_secret, register, validate_redirect_uri};
use actix_web::HttpResponse;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use serde_json::{Value, json};
use tessera_actors::audit::Severity;
use tessera_actors::crypto::random_token;
use tessera_cluster::Command;
use tessera_entity::{access_tokens, authorization_codes, consents, oauth_clients, refresh_tokens};

const URI: Text = Text::len(1, 2000);
const SCOPE: Text = Text::chars(1, 100, |c| c.is_ascii_graphic() && c != '"' && c != '\\', "printable ASCII except \" and \\");
const GRANT: Text = Text::len(1, 64);

/// By internal id or by public `client_id`.
async fn find<C: ConnectionTrait>(db: &C, key: &str) -> Result<oauth_clients::Model, ApiError> {
    if let Some(c) = oauth_clients::Entity::find_by_id(key.to_string()).one(db).await? {
        return Ok(c);
    }
    oauth_clients::Entity::find().filter(oauth_clients::Column::ClientId.eq(key)).one(db).await?.ok_or(ApiError::NotFound("client"))
}

fn audit_view(c: &oauth_clients::Model) -> Value {
    let mut v = views::client(c);
    if let Some(o) = v.as_object_mut() {
        o.remove("created_at");
        o.remove("updated_at");
    }
    v
}

/// The fields create and update share, checked together so every error is reported at once.
struct Fields {
    name: Option<String>,
    description: Option<Option<String>>,
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    grant_types: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
    require_consent: Option<bool>,
}

fn read_fields(b: &mut Body, name_required: bool) -> Fields {
    let name = if name_required { b.required_str("name", NAME) } else { b.opt_str("name", NAME) };
    let f = Fields {
        name,
        description: b.nullable_str("description", DESCRIPTION),
        redirect_uris: b.opt_str_list("redirect_uris", URI, 50),
        post_logout_redirect_uris: b.opt_str_list("post_logout_redirect_uris", URI, 50),
        grant_types: b.opt_str_list("grant_types", GRANT, 3),
        scopes: b.opt_str_list("scopes", SCOPE, 100),
        require_consent: b.opt_bool("require_consent"),
    };
    for (field, uris) in [("redirect_uris", &f.redirect_uris), ("post_logout_redirect_uris", &f.post_logout_redirect_uris)] {
        for (i, u) in uris.iter().flatten().enumerate() {
            if let Err(m) = validate_redirect_uri(u) {
                b.error(format!("{field}[{i}]"), m);
            }
        }
    }
    for (i, g) in f.grant_types.iter().flatten().enumerate() {
        if !KNOWN_GRANTS.contains(&g.as_str()) {
            b.error(format!("grant_types[{i}]"), format!("must be one of {} (OAuth 2.1 has no implicit or password grant)", KNOWN_GRANTS.join(", ")));
        }
    }
    f
}

/// Rules across fields, on the values the client will have.
fn check_combination(is_public: bool, grants: &[String], redirect_uris: &[String]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if is_public && grants.iter().any(|g| g == "client_credentials") {
        errors.push(FieldError::new("grant_types", "a public client cannot use client_credentials"));
    }
    if grants.iter().any(|g| g == "authorization_code") && redirect_uris.is_empty() {
        errors.push(FieldError::new("redirect_uris", "at least one is required for authorization_code"));
    }
    errors
}

pub async fn list(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut q = ctx.query();
    let page = q.page();
    q.finish()?;
    let total = oauth_clients::Entity::find().count(ctx.db()).await?;
    let rows = oauth_clients::Entity::find().order_by_asc(oauth_clients::Column::CreatedAt).order_by_asc(oauth_clients::Column::Id).offset(page.offset()).limit(page.limit).all(ctx.db()).await?;
    Ok(ok(json!({ "clients": rows.iter().map(views::client).collect::<Vec<_>>(), "pagination": page.describe(total) })))
}

pub async fn get(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    Ok(ok(views::client(&find(ctx.db(), &ctx.param("id")?).await?)))
}

pub async fn create(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut b = ctx.body()?;
    let f = read_fields(&mut b, true);
    let is_public = b.opt_bool("is_public").unwrap_or(false);
    let grants = f.grant_types.clone().unwrap_or_else(|| DEFAULT_GRANTS.iter().map(|s| s.to_string()).collect());
    let redirect_uris = f.redirect_uris.clone().unwrap_or_default();
    for e in check_combination(is_public, &grants, &redirect_uris) {
        b.error(e.field, e.message);
    }
    b.finish()?;
    let new = NewClient {
        name: f.name.unwrap_or_default(),
        redirect_uris,
        post_logout_redirect_uris: f.post_logout_redirect_uris.unwrap_or_default(),
        public: is_public,
        grant_types: grants,
        scopes: f.scopes.unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()),
        require_consent: f.require_consent.unwrap_or(true),
    };
    let (client, secret) = match register(ctx.db(), &ctx.state.pepper, new).await {
        Ok(r) => r,
        Err(RegisterError::Invalid { field, message }) => return Err(ApiError::field(field, message)),
        Err(RegisterError::Db(e)) => return Err(e.into()),
    };
    let mut model = find(ctx.db(), &client.id).await?;
    if let Some(Some(d)) = f.description {
        let mut am: oauth_clients::ActiveModel = model.into();
        am.description = Set(Some(d));
        model = am.update(ctx.db()).await?;
    }
    ctx.record(ctx.event("CLIENT_CREATED", Severity::Info).client(model.client_id.clone()).resource("client", model.id.clone()).details(json!({ "after": audit_view(&model) }))).await;
    let mut body = views::client(&model);
    body["client_secret"] = json!(secret);
    Ok(created(body))
}

pub async fn update(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let mut b = ctx.body()?;
    let f = read_fields(&mut b, false);
    let is_active = b.opt_bool("is_active");
    let before = find(ctx.db(), &ctx.param("id")?).await?;
    let current = crate::clients::Client::from(before.clone());
    let grants = f.grant_types.clone().unwrap_or(current.grant_types);
    let uris = f.redirect_uris.clone().unwrap_or(current.redirect_uris);
    for e in check_combination(before.is_public, &grants, &uris) {
        b.error(e.field, e.message);
    }
    b.finish()?;
    let mut am: oauth_clients::ActiveModel = before.clone().into();
    if let Some(n) = f.name {
        am.name = Set(n);
    }
    if let Some(d) = f.description {
        am.description = Set(d);
    }
    if let Some(v) = f.redirect_uris {
        am.redirect_uris = Set(json!(v));
    }
    if let Some(v) = f.post_logout_redirect_uris {
        am.post_logout_redirect_uris = Set(json!(v));
    }
    if let Some(v) = f.grant_types {
        am.grant_types = Set(json!(v));
    }
    if let Some(v) = f.scopes {
        am.scopes = Set(json!(v));
    }
    if let Some(v) = f.require_consent {
        am.require_consent = Set(v);
    }
    if let Some(v) = is_active {
        am.is_active = Set(v);
    }
    am.updated_at = Set(ctx.now());
    let after = am.update(ctx.db()).await?;
    ctx.record(
        ctx.event("CLIENT_UPDATED", Severity::Info)
            .client(after.client_id.clone())
            .resource("client", after.id.clone())
            .details(json!({ "before": audit_view(&before), "after": audit_view(&after) })),
    )
    .await;
    Ok(ok(views::client(&after)))
}

pub async fn delete(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let client = find(ctx.db(), &ctx.param("id")?).await?;
    let now = ctx.now();
    // Every token of the client, row or not (client-credentials tokens have none), is refused from
    // here on, on every node; the entry lasts as long as the longest token it could cover.
    let ttl = i64::try_from(ctx.state.settings.access_token_ttl.as_secs()).unwrap_or(3600);
    let entry = crate::oauth::jwt::client_revocation(&client.client_id);
    ctx.state.ring.cluster().propose(Command::Revoke { jti: entry, expires_at: now.timestamp() + ttl, at: now.timestamp() }).await?;
    let revoked = crate::gdpr::revoke_access_tokens(&ctx.state, Condition::all().add(access_tokens::Column::ClientId.eq(&client.client_id)), now).await?;
    let txn = ctx.db().begin().await?;
    let refresh = refresh_tokens::Entity::delete_many().filter(refresh_tokens::Column::ClientId.eq(&client.client_id)).exec(&txn).await?.rows_affected;
    authorization_codes::Entity::delete_many().filter(authorization_codes::Column::ClientId.eq(&client.client_id)).exec(&txn).await?;
    consents::Entity::delete_many().filter(consents::Column::ClientId.eq(&client.client_id)).exec(&txn).await?;
    oauth_clients::Entity::delete_by_id(client.id.clone()).exec(&txn).await?;
    txn.commit().await?;
    crate::clients::ClientCache::invalidate();
    consents::bump_generation();
    ctx.record(
        ctx.event("CLIENT_DELETED", Severity::Warning)
            .client(client.client_id.clone())
            .resource("client", client.id.clone())
            .details(json!({ "before": audit_view(&client), "access_tokens_revoked": revoked, "refresh_tokens_deleted": refresh })),
    )
    .await;
    Ok(no_content())
}

pub async fn regenerate_secret(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let client = find(ctx.db(), &ctx.param("id")?).await?;
    if client.is_public {
        return Err(ApiError::Conflict("a public client has no secret".into()));
    }
    let secret = random_token(32);
    let mut am: oauth_clients::ActiveModel = client.into();
    am.secret_hash = Set(Some(hash_secret(&ctx.state.pepper, &secret)));
    am.updated_at = Set(ctx.now());
    let after = am.update(ctx.db()).await?;
    ctx.record(ctx.event("CLIENT_SECRET_REGENERATED", Severity::Warning).client(after.client_id.clone()).resource("client", after.id.clone())).await;
    let mut body = views::client(&after);
    body["client_secret"] = json!(secret);
    Ok(ok(body))
}
