//! The askama templates (under `templates/` at the crate root). Every value is HTML-escaped by
//! askama; nothing here is marked safe.

use askama::Template;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub title: &'a str,
    pub action: &'a str,
    pub csrf: &'a str,
    pub return_to: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "change_password.html")]
pub struct ChangePasswordPage<'a> {
    pub title: &'a str,
    pub action: &'a str,
    pub csrf: &'a str,
    pub return_to: &'a str,
    pub error: Option<&'a str>,
}

/// One requested scope on the consent page.
pub struct ScopeLine {
    pub name: String,
    pub description: String,
    /// Not granted to this client before.
    pub is_new: bool,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub title: &'a str,
    pub action: &'a str,
    pub csrf: &'a str,
    pub client_name: &'a str,
    pub username: &'a str,
    pub scopes: Vec<ScopeLine>,
    /// The authorization request, re-validated when the form comes back.
    pub request: &'a str,
    pub redirect_host: &'a str,
}

/// Errors, "signed out", "signed in".
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub is_error: bool,
    pub code: Option<&'a str>,
}
