//! `/admin/clients`: OAuth clients — list, register (the secret is shown exactly once, with a copy
//! button), edit redirect URIs, scopes and grant types, and regenerate the secret after an explicit
//! confirmation. Registration goes through `crate::clients::register`; secrets are never logged or
//! audited, only their HMAC is stored.

use super::ctx::Ctx;
use super::failure::Failure;
use super::flash::Flash;
use super::fmt;
use super::form::Form;
use super::templates::{Badge, Chrome};
use crate::admin::views;
use crate::clients::{DEFAULT_GRANTS, DEFAULT_SCOPES, KNOWN_GRANTS, NewClient, RegisterError, hash_secret, register, validate_redirect_uri};
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, QueryOrder};
use serde_json::{Value, json};
use tessera_actors::audit::Severity;
use tessera_actors::crypto::random_token;
use tessera_entity::oauth_clients;

pub struct ClientRow {
    pub href: String,
    pub name: String,
    pub client_id: String,
    pub kind: Badge,
    pub status: Badge,
    pub grants: Vec<String>,
    pub redirects: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "console/clients.html")]
pub struct ClientsPage {
    pub c: Chrome,
    pub rows: Vec<ClientRow>,
    pub can_create: bool,
}

pub struct GrantOption {
    pub value: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub checked: bool,
}

/// The editable fields, as the form shows them.
pub struct Fields {
    pub name: String,
    pub description: String,
    pub public: bool,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grants: Vec<GrantOption>,
    pub scopes: String,
    pub require_consent: bool,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "console/client_new.html")]
pub struct NewClientPage {
    pub c: Chrome,
    pub errors: Vec<String>,
    pub f: Fields,
}

#[derive(Template)]
#[template(path = "console/client.html")]
pub struct ClientPage {
    pub c: Chrome,
    pub id: String,
    pub client_id: String,
    pub name: String,
    pub kind: Badge,
    pub status: Badge,
    pub facts: Vec<(&'static str, String)>,
    pub f: Fields,
    pub can_update: bool,
    pub can_regenerate: bool,
}

#[derive(Template)]
#[template(path = "console/client_secret.html")]
pub struct RegeneratePage {
    pub c: Chrome,
    pub id: String,
    pub name: String,
    pub client_id: String,
}

fn grant_options(checked: &[String]) -> Vec<GrantOption> {
    KNOWN_GRANTS
        .iter()
        .map(|g| {
            let (label, hint) = match *g {
                "authorization_code" => ("Authorization code", "Users sign in through the browser (with PKCE)."),
                "refresh_token" => ("Refresh token", "The client may renew access without the user."),
                _ => ("Client credentials", "Machine-to-machine access without a user (confidential clients only)."),
            };
            GrantOption { value: g, label, hint, checked: checked.iter().any(|c| c == g) }
        })
        .collect()
}

fn kind_badge(public: bool) -> Badge {
    if public { Badge::new("Public", "info") } else { Badge::new("Confidential", "accent") }
}

fn status_badge(active: bool) -> Badge {
    if active { Badge::new("Active", "success") } else { Badge::new("Disabled", "neutral") }
}

fn fields_of(m: &oauth_clients::Model) -> Fields {
    Fields {
        name: m.name.clone(),
        description: m.description.clone().unwrap_or_default(),
        public: m.is_public,
        redirect_uris: fmt::strings(&m.redirect_uris).join("\n"),
        post_logout_redirect_uris: fmt::strings(&m.post_logout_redirect_uris).join("\n"),
        grants: grant_options(&fmt::strings(&m.grant_types)),
        scopes: fmt::strings(&m.scopes).join(" "),
        require_consent: m.require_consent,
        active: m.is_active,
    }
}

/// What a submitted form asks for, checked as a whole (every problem reported at once).
struct Wanted {
    name: String,
    description: Option<String>,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    grants: Vec<String>,
    scopes: Vec<String>,
    require_consent: bool,
}

fn read(f: &Form, public: bool) -> (Wanted, Vec<String>) {
    let w = Wanted {
        name: f.get("name").to_string(),
        description: f.opt("description"),
        redirect_uris: f.lines("redirect_uris"),
        post_logout_redirect_uris: f.lines("post_logout_redirect_uris"),
        grants: f.all("grant_types"),
        scopes: f.words("scopes"),
        require_consent: f.checked("require_consent"),
    };
    let mut errors = Vec::new();
    if w.name.is_empty() || w.name.chars().count() > 200 {
        errors.push("Name: 1–200 characters.".to_string());
    }
    if w.description.as_ref().is_some_and(|d| d.chars().count() > 1000) {
        errors.push("Description: at most 1000 characters.".to_string());
    }
    for (label, uris) in [("Redirect URI", &w.redirect_uris), ("Post-logout redirect URI", &w.post_logout_redirect_uris)] {
        if uris.len() > 50 {
            errors.push(format!("{label}s: at most 50."));
        }
        errors.extend(uris.iter().filter_map(|u| validate_redirect_uri(u).err()).map(|m| format!("{label}: {m}.")));
    }
    if w.grants.is_empty() {
        errors.push("Grant types: choose at least one.".to_string());
    }
    if let Some(g) = w.grants.iter().find(|g| !KNOWN_GRANTS.contains(&g.as_str())) {
        errors.push(format!("Grant types: {g} is not supported (OAuth 2.1 has no implicit or password grant)."));
    }
    if public && w.grants.iter().any(|g| g == "client_credentials") {
        errors.push("Grant types: a public client cannot use client credentials.".to_string());
    }
    if w.grants.iter().any(|g| g == "authorization_code") && w.redirect_uris.is_empty() {
        errors.push("Redirect URIs: at least one is required for the authorization code grant.".to_string());
    }
    if w.scopes.is_empty() || w.scopes.len() > 100 {
        errors.push("Scopes: between 1 and 100.".to_string());
    }
    if let Some(s) = w.scopes.iter().find(|s| s.len() > 100 || !s.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')) {
        errors.push(format!("Scopes: \u{201c}{s}\u{201d} is not a valid scope token."));
    }
    (w, errors)
}

/// The form as submitted, to show it again with its errors.
fn resubmitted(f: &Form, public: bool) -> Fields {
    Fields {
        name: f.get("name").to_string(),
        description: f.get("description").to_string(),
        public,
        redirect_uris: f.raw("redirect_uris").unwrap_or("").to_string(),
        post_logout_redirect_uris: f.raw("post_logout_redirect_uris").unwrap_or("").to_string(),
        grants: grant_options(&f.all("grant_types")),
        scopes: f.get("scopes").to_string(),
        require_consent: f.checked("require_consent"),
        active: f.checked("is_active"),
    }
}

/// The audit view of a client: the API's view without timestamps (never the secret hash).
fn audit_view(c: &oauth_clients::Model) -> Value {
    let mut v = views::client(c);
    if let Some(o) = v.as_object_mut() {
        o.remove("created_at");
        o.remove("updated_at");
    }
    v
}

async fn target(ctx: &Ctx) -> Result<oauth_clients::Model, Failure> {
    oauth_clients::Entity::find_by_id(ctx.param("id")?).one(ctx.db()).await?.ok_or(Failure::NotFound("client"))
}

pub async fn list(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let models = oauth_clients::Entity::find().order_by_asc(oauth_clients::Column::Name).order_by_asc(oauth_clients::Column::Id).all(ctx.db()).await?;
    let rows = models
        .iter()
        .map(|m| {
            let uris = fmt::strings(&m.redirect_uris);
            ClientRow {
                href: format!("/admin/clients/{}", m.id),
                name: m.name.clone(),
                client_id: m.client_id.clone(),
                kind: kind_badge(m.is_public),
                status: status_badge(m.is_active),
                grants: fmt::strings(&m.grant_types),
                redirects: match uris.as_slice() {
                    [] => "\u{2014}".into(),
                    [one] => one.clone(),
                    [first, rest @ ..] => format!("{first} (+{} more)", rest.len()),
                },
                created: m.created_at.format("%Y-%m-%d").to_string(),
            }
        })
        .collect();
    let c = ctx.chrome("clients", "Clients");
    let can_create = ctx.can("clients:create");
    ctx.ok(&ClientsPage { c, rows, can_create })
}

fn new_chrome(ctx: &Ctx) -> Chrome {
    ctx.chrome("clients", "Register client").crumb("Clients", Some("/admin/clients")).crumb("Register client", None)
}

pub async fn new_form(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let defaults: Vec<String> = DEFAULT_GRANTS.iter().map(|s| s.to_string()).collect();
    let f = Fields {
        name: String::new(),
        description: String::new(),
        public: false,
        redirect_uris: String::new(),
        post_logout_redirect_uris: String::new(),
        grants: grant_options(&defaults),
        scopes: DEFAULT_SCOPES.join(" "),
        require_consent: true,
        active: true,
    };
    ctx.ok(&NewClientPage { c: new_chrome(&ctx), errors: Vec::new(), f })
}

pub async fn create(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let public = ctx.form.get("client_type") == "public";
    let (w, errors) = read(&ctx.form, public);
    if !errors.is_empty() {
        return Ok(ctx.render(StatusCode::BAD_REQUEST, &NewClientPage { c: new_chrome(&ctx), errors, f: resubmitted(&ctx.form, public) }));
    }
    let new = NewClient {
        name: w.name,
        redirect_uris: w.redirect_uris,
        post_logout_redirect_uris: w.post_logout_redirect_uris,
        public,
        grant_types: w.grants,
        scopes: w.scopes,
        require_consent: w.require_consent,
    };
    let (client, secret) = match register(ctx.db(), &ctx.state.pepper, new).await {
        Ok(r) => r,
        Err(RegisterError::Invalid { field, message }) => {
            let errors = vec![format!("{field}: {message}")];
            return Ok(ctx.render(StatusCode::BAD_REQUEST, &NewClientPage { c: new_chrome(&ctx), errors, f: resubmitted(&ctx.form, public) }));
        }
        Err(RegisterError::Db(e)) => return Err(e.into()),
    };
    let mut model = oauth_clients::Entity::find_by_id(client.id.clone()).one(ctx.db()).await?.ok_or(Failure::NotFound("client"))?;
    if w.description.is_some() {
        let mut am: oauth_clients::ActiveModel = model.into();
        am.description = Set(w.description);
        model = am.update(ctx.db()).await?;
    }
    ctx.record(ctx.event("CLIENT_CREATED", Severity::Info).client(model.client_id.clone()).resource("client", model.id.clone()).details(json!({ "after": audit_view(&model), "via": "console" }))).await;
    let path = format!("/admin/clients/{}", model.id);
    let mut flash = Flash::success(format!("Client {} registered.", model.name));
    if let Some(s) = secret {
        flash = flash.with_reveal("Client secret", s, path.clone());
    }
    ctx.redirect(&path, Some(flash))
}

pub async fn show(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let m = target(&ctx).await?;
    let facts = vec![
        ("Client ID", m.client_id.clone()),
        ("Type", if m.is_public { "Public (no secret; PKCE only)".into() } else { "Confidential (authenticates with a secret)".into() }),
        ("PKCE", if m.require_pkce { "Required (S256)".into() } else { "Optional".into() }),
        ("Registered", fmt::when(m.created_at)),
        ("Last changed", fmt::when(m.updated_at)),
    ];
    let c = ctx.chrome("clients", m.name.clone()).crumb("Clients", Some("/admin/clients")).crumb(m.name.clone(), None);
    ctx.ok(&ClientPage {
        c,
        id: m.id.clone(),
        client_id: m.client_id.clone(),
        name: m.name.clone(),
        kind: kind_badge(m.is_public),
        status: status_badge(m.is_active),
        facts,
        f: fields_of(&m),
        can_update: ctx.can("clients:update"),
        can_regenerate: !m.is_public && ctx.can("clients:secret:regenerate"),
    })
}

pub async fn update(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let before = target(&ctx).await?;
    let path = format!("/admin/clients/{}", before.id);
    let (w, errors) = read(&ctx.form, before.is_public);
    if !errors.is_empty() {
        return ctx.redirect(&path, Some(Flash::error("The client was not saved.").with_details(errors)));
    }
    let mut am: oauth_clients::ActiveModel = before.clone().into();
    am.name = Set(w.name);
    am.description = Set(w.description);
    am.redirect_uris = Set(json!(w.redirect_uris));
    am.post_logout_redirect_uris = Set(json!(w.post_logout_redirect_uris));
    am.grant_types = Set(json!(w.grants));
    am.scopes = Set(json!(w.scopes));
    am.require_consent = Set(w.require_consent);
    am.is_active = Set(ctx.form.checked("is_active"));
    am.updated_at = Set(ctx.now());
    let after = am.update(ctx.db()).await?;
    ctx.record(
        ctx.event("CLIENT_UPDATED", Severity::Info)
            .client(after.client_id.clone())
            .resource("client", after.id.clone())
            .details(json!({ "before": audit_view(&before), "after": audit_view(&after), "via": "console" })),
    )
    .await;
    ctx.redirect(&path, Some(Flash::success("Client saved.")))
}

pub async fn confirm_regenerate(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let m = target(&ctx).await?;
    if m.is_public {
        return ctx.redirect(&format!("/admin/clients/{}", m.id), Some(Flash::error("A public client has no secret.")));
    }
    let c = ctx.chrome("clients", "Regenerate secret").crumb("Clients", Some("/admin/clients")).crumb(m.name.clone(), Some(&format!("/admin/clients/{}", m.id))).crumb("Regenerate secret", None);
    ctx.ok(&RegeneratePage { c, id: m.id, name: m.name, client_id: m.client_id })
}

pub async fn regenerate(ctx: Ctx) -> Result<HttpResponse, Failure> {
    let m = target(&ctx).await?;
    let path = format!("/admin/clients/{}", m.id);
    if m.is_public {
        return ctx.redirect(&path, Some(Flash::error("A public client has no secret.")));
    }
    if ctx.form.get("confirm") != "regenerate" {
        return ctx.redirect(&format!("{path}/secret"), None);
    }
    let secret = random_token(32);
    let mut am: oauth_clients::ActiveModel = m.into();
    am.secret_hash = Set(Some(hash_secret(&ctx.state.pepper, &secret)));
    am.updated_at = Set(ctx.now());
    let after = am.update(ctx.db()).await?;
    ctx.record(ctx.event("CLIENT_SECRET_REGENERATED", Severity::Warning).client(after.client_id.clone()).resource("client", after.id.clone()).details(json!({ "via": "console" }))).await;
    let flash = Flash::success("A new secret was generated. The previous secret no longer works.").with_reveal("New client secret", secret, path.clone());
    ctx.redirect(&path, Some(flash))
}
