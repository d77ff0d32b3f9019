//! The console's one page table and its menu. Registration (`super::configure`), authorization
//! (`super::dispatch`) and the tests are all driven by it. Each page needs the `menu:*`
//! permission of its section (seed 003 §4.1.3) and the API permission of what it shows or changes
//! (the same names the admin REST API requires).

use super::ctx::Ctx;
use super::failure::Failure;
use super::{audit, clients, dashboard, roles, system, user_actions, users};
use actix_web::HttpResponse;
use futures::future::LocalBoxFuture;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
        }
    }
}

pub type Handler = fn(Ctx) -> LocalBoxFuture<'static, Result<HttpResponse, Failure>>;

pub struct Page {
    pub verb: Verb,
    /// actix path syntax, `{name}` for a parameter.
    pub path: &'static str,
    /// Every one of these is required (checked before the handler runs).
    pub needs: &'static [&'static str],
    pub handler: Handler,
}

/// One entry of the navigation, shown only to holders of `permission`.
pub struct MenuItem {
    /// Also the `section` pages name to mark it current.
    pub key: &'static str,
    pub label: &'static str,
    pub path: &'static str,
    pub permission: &'static str,
}

pub const MENU: &[MenuItem] = &[
    MenuItem { key: "dashboard", label: "Dashboard", path: "/admin", permission: "menu:dashboard" },
    MenuItem { key: "users", label: "Users", path: "/admin/users", permission: "menu:users" },
    MenuItem { key: "roles", label: "Roles", path: "/admin/roles", permission: "menu:roles" },
    MenuItem { key: "permissions", label: "Permissions", path: "/admin/permissions", permission: "menu:permissions" },
    MenuItem { key: "clients", label: "Clients", path: "/admin/clients", permission: "menu:clients" },
    MenuItem { key: "audit", label: "Audit log", path: "/admin/audit", permission: "menu:audit" },
    MenuItem { key: "system", label: "System", path: "/admin/system", permission: "menu:system" },
];

macro_rules! h {
    ($f:path) => {
        |c| Box::pin($f(c))
    };
}

use Verb::{Get, Post};

pub const PAGES: &[Page] = &[
    Page { verb: Get, path: "/admin", needs: &["menu:dashboard"], handler: h!(dashboard::show) },
    // Users
    Page { verb: Get, path: "/admin/users", needs: &["menu:users", "users:list"], handler: h!(users::list) },
    Page { verb: Post, path: "/admin/users", needs: &["menu:users", "users:create"], handler: h!(users::create) },
    Page { verb: Get, path: "/admin/users/new", needs: &["menu:users", "users:create"], handler: h!(users::new_form) },
    Page { verb: Get, path: "/admin/users/{id}", needs: &["menu:users", "users:list"], handler: h!(users::show) },
    Page { verb: Post, path: "/admin/users/{id}", needs: &["menu:users", "users:update"], handler: h!(user_actions::update) },
    Page { verb: Post, path: "/admin/users/{id}/status", needs: &["menu:users", "users:update"], handler: h!(user_actions::set_status) },
    Page { verb: Post, path: "/admin/users/{id}/password", needs: &["menu:users", "users:update"], handler: h!(user_actions::reset_password) },
    Page { verb: Post, path: "/admin/users/{id}/roles", needs: &["menu:users", "users:update"], handler: h!(user_actions::assign_role) },
    Page { verb: Post, path: "/admin/users/{id}/roles/{role_id}/remove", needs: &["menu:users", "users:update"], handler: h!(user_actions::unassign_role) },
    // Roles and permissions
    Page { verb: Get, path: "/admin/roles", needs: &["menu:roles", "roles:list"], handler: h!(roles::list) },
    Page { verb: Post, path: "/admin/roles/matrix", needs: &["menu:roles", "roles:update"], handler: h!(roles::save_matrix) },
    Page { verb: Get, path: "/admin/permissions", needs: &["menu:permissions", "permissions:list"], handler: h!(roles::permissions) },
    // OAuth clients
    Page { verb: Get, path: "/admin/clients", needs: &["menu:clients", "clients:list"], handler: h!(clients::list) },
    Page { verb: Post, path: "/admin/clients", needs: &["menu:clients", "clients:create"], handler: h!(clients::create) },
    Page { verb: Get, path: "/admin/clients/new", needs: &["menu:clients", "clients:create"], handler: h!(clients::new_form) },
    Page { verb: Get, path: "/admin/clients/{id}", needs: &["menu:clients", "clients:list"], handler: h!(clients::show) },
    Page { verb: Post, path: "/admin/clients/{id}", needs: &["menu:clients", "clients:update"], handler: h!(clients::update) },
    Page { verb: Get, path: "/admin/clients/{id}/secret", needs: &["menu:clients", "clients:secret:regenerate"], handler: h!(clients::confirm_regenerate) },
    Page { verb: Post, path: "/admin/clients/{id}/secret", needs: &["menu:clients", "clients:secret:regenerate"], handler: h!(clients::regenerate) },
    // Audit
    Page { verb: Get, path: "/admin/audit", needs: &["menu:audit", "audit:list"], handler: h!(audit::list) },
    Page { verb: Get, path: "/admin/audit/security", needs: &["menu:audit", "audit:list"], handler: h!(audit::security) },
    Page { verb: Get, path: "/admin/audit/export.csv", needs: &["menu:audit", "audit:list"], handler: h!(audit::export) },
    // System
    Page { verb: Get, path: "/admin/system", needs: &["menu:system"], handler: h!(system::show) },
    // Signing out needs only the session.
    Page { verb: Post, path: "/admin/logout", needs: &[], handler: h!(dashboard::logout) },
    // Anything else under /admin: the console's own 404 page (for signed-in users).
    Page { verb: Get, path: "/admin/{tail:.*}", needs: &[], handler: h!(dashboard::not_found) },
];

/// The menu entries a holder of `has` sees.
pub fn visible_menu(has: impl Fn(&str) -> bool) -> impl Iterator<Item = &'static MenuItem> {
    MENU.iter().filter(move |m| has(m.permission))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_but_sign_out_and_404_names_its_menu_permission() {
        for p in PAGES {
            if p.path == "/admin/logout" || p.path.contains("{tail") {
                continue;
            }
            assert!(p.needs.iter().any(|n| n.starts_with("menu:")), "{} {}", p.verb.as_str(), p.path);
        }
    }

    #[test]
    fn fixed_paths_come_before_parameters() {
        let pos = |path: &str| PAGES.iter().position(|p| p.path == path).unwrap();
        assert!(pos("/admin/users/new") < pos("/admin/users/{id}"));
        assert!(pos("/admin/clients/new") < pos("/admin/clients/{id}"));
        assert_eq!(PAGES.last().map(|p| p.path), Some("/admin/{tail:.*}"));
    }
}
