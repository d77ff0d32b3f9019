//! The askama templates of the console (`templates/console/`). Every value is HTML-escaped by
//! askama; the one thing marked safe is the console's own script, a compile-time constant.
//! Handlers prepare display strings (`fmt`), so templates hold no logic beyond loops and ifs.

use super::flash::Reveal;
use askama::Template;

pub struct NavLink {
    pub key: &'static str,
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
    /// SVG path data of the section's icon (24×24, stroked).
    pub icon: &'static str,
}

/// The icon of a menu section.
pub fn icon(key: &str) -> &'static str {
    match key {
        "dashboard" => "M3 3h7v9H3zM14 3h7v5h-7zM14 12h7v9h-7zM3 16h7v5H3z",
        "users" => "M16 21v-2a4 4 0 0 0-4-4H6a4 4 0 0 0-4 4v2M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM22 21v-2a4 4 0 0 0-3-3.87M16 3.13a4 4 0 0 1 0 7.75",
        "roles" => "M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z",
        "permissions" => "M21 2l-2 2m-7.6 7.6a5.5 5.5 0 1 1-7.8 7.8 5.5 5.5 0 0 1 7.8-7.8zm0 0L15.5 7.5m0 0l3 3L22 7l-3-3m-3.5 3.5L19 4",
        "clients" => "M21 16V8a2 2 0 0 0-1-1.7l-7-4a2 2 0 0 0-2 0l-7 4A2 2 0 0 0 3 8v8a2 2 0 0 0 1 1.7l7 4a2 2 0 0 0 2 0l7-4a2 2 0 0 0 1-1.7zM3.3 7L12 12l8.7-5M12 22V12",
        "audit" => "M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zM14 2v6h6M16 13H8M16 17H8M10 9H8",
        "system" => "M2 4h20v6H2zM2 14h20v6H2zM6 7h.01M6 17h.01",
        _ => "M12 12h.01",
    }
}

pub struct FlashView {
    pub kind: &'static str,
    pub text: String,
    pub details: Vec<String>,
    pub reveal: Option<Reveal>,
}

/// A breadcrumb; the last one has no link.
pub struct Crumb {
    pub label: String,
    pub href: Option<String>,
}

/// What the layout needs: title, navigation, the user, the CSRF field, the flash.
pub struct Chrome {
    pub title: String,
    pub nav: Vec<NavLink>,
    pub username: String,
    pub display_name: String,
    pub initials: String,
    pub csrf: String,
    pub flash: Option<FlashView>,
    pub css: &'static str,
    pub script: &'static str,
    pub node: String,
    pub version: &'static str,
    pub crumbs: Vec<Crumb>,
}

impl Chrome {
    /// Adds a breadcrumb (pass `None` for the current page).
    pub fn crumb(mut self, label: impl Into<String>, href: Option<&str>) -> Chrome {
        self.crumbs.push(Crumb { label: label.into(), href: href.map(str::to_string) });
        self
    }
}

/// A coloured label: `tone` is one of neutral, info, success, warning, danger.
pub struct Badge {
    pub text: String,
    pub tone: &'static str,
    pub title: String,
}

impl Badge {
    pub fn new(text: impl Into<String>, tone: &'static str) -> Badge {
        Badge { text: text.into(), tone, title: String::new() }
    }
    pub fn titled(mut self, title: impl Into<String>) -> Badge {
        self.title = title.into();
        self
    }
}

/// Previous/next links of a paginated table.
pub struct Pager {
    pub from: u64,
    pub to: u64,
    pub total: u64,
    pub page: u64,
    pub pages: u64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `link(page)` builds the URL of another page with the current filters.
    pub fn new(page: u64, per_page: u64, total: u64, link: impl Fn(u64) -> String) -> Pager {
        let pages = total.div_ceil(per_page).max(1);
        let page = page.min(pages);
        let from = if total == 0 { 0 } else { (page - 1) * per_page + 1 };
        let to = (page * per_page).min(total);
        Pager { from, to, total, page, pages, prev: (page > 1).then(|| link(page - 1)), next: (page < pages).then(|| link(page + 1)) }
    }
}

/// One `<option>` of a select.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
    pub disabled: bool,
}

#[derive(Template)]
#[template(path = "console/error.html")]
pub struct ErrorPage {
    pub c: Chrome,
    pub message: String,
    pub code: u16,
}

/// One stat card of the dashboard.
pub struct Stat {
    pub label: &'static str,
    pub value: String,
    pub hint: String,
    pub href: Option<String>,
    pub tone: &'static str,
}

/// One audit row as tables show it.
pub struct AuditRow {
    pub when: String,
    pub ago: String,
    pub action: String,
    pub severity: Badge,
    pub actor: String,
    pub actor_href: Option<String>,
    pub client: String,
    pub resource: String,
    /// The full resource id, when `resource` shows it shortened.
    pub resource_title: String,
    pub resource_href: Option<String>,
    pub ip: String,
    pub details: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
pub struct DashboardPage {
    pub c: Chrome,
    pub stats: Vec<Stat>,
    pub events: Option<Vec<AuditRow>>,
    pub shortcuts: Vec<(&'static str, &'static str)>,
}
