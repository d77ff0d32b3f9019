//! The admin console at `/admin`, driven in headless Chromium (W3C WebDriver, `crate::webdriver`)
//! and, where headers and status codes matter, over plain HTTP. Screenshots of every console page
//! land in `target/screenshots/console-*.png`.

use crate::common::admin::{assign, audit_rows, role_id};
use crate::common::flow::{input_value, location, submit_login};
use crate::common::{TestServer, client};
use crate::webdriver::Browser;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use tessera::users::{NewUser, create_user};
use tessera_actors::clock::Clock;
use tessera_entity::{permissions, role_permissions, roles, user_roles, users};

const ADMIN_PASSWORD: &str = "Console-Admin-7";

/// A user who can sign in with `password`, holding the named roles.
async fn person(srv: &TestServer, username: &str, password: &str, roles: &[&str]) -> String {
    let new = NewUser {
        username: username.into(),
        email: Some(format!("{username}@example.com")),
        password: password.into(),
        display_name: Some(format!("{} Example", username[..1].to_uppercase() + &username[1..])),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        must_change_password: false,
    };
    create_user(&srv.state.db, new).await.expect("create user").id
}

/// A role granting exactly `grants` (permission names), inserted directly.
async fn custom_role(srv: &TestServer, name: &str, grants: &[&str]) {
    let now = srv.clock.now();
    let id = uuid::Uuid::new_v4().to_string();
    roles::Entity::insert(roles::ActiveModel {
        id: Set(id.clone()),
        name: Set(name.into()),
        display_name: Set("Auditor".into()),
        description: Set(Some("Reads the audit log".into())),
        is_system: Set(false),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(&srv.state.db)
    .await
    .expect("insert role");
    for g in grants {
        let p = permissions::Entity::find().filter(permissions::Column::Name.eq(*g)).one(&srv.state.db).await.expect("query").expect("seeded permission");
        role_permissions::Entity::insert(role_permissions::ActiveModel { role_id: Set(id.clone()), permission_id: Set(p.id), created_at: Set(now) })
            .exec_without_returning(&srv.state.db)
            .await
            .expect("grant");
    }
}

/// Signs in through the real login form in the browser, starting from `path` under /admin.
async fn browser_login(b: &Browser, srv: &TestServer, path: &str, username: &str, password: &str) {
    b.goto(&srv.url(path)).await;
    b.wait_path("the login page", |p| p.starts_with("/login?")).await;
    b.fill("#username", username).await;
    b.fill("#password", password).await;
    b.click_css("button[type=submit]").await;
}

/// Signs in over plain HTTP (reqwest keeps the cookies); returns the client.
async fn http_login(srv: &TestServer, username: &str, password: &str) -> reqwest::Client {
    let http = client();
    let res = http.get(srv.url("/admin")).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let res = submit_login(srv, &http, &location(&res), username, password).await;
    assert_eq!(res.status(), 303, "login answers a redirect back to the console");
    assert_eq!(location(&res), "/admin");
    http
}

/// A loopback "relying party" that answers its callback with a plain page.
fn callback_server() -> (String, actix_web::dev::ServerHandle) {
    let (listener, port) = crate::common::free_listener();
    let server = actix_web::HttpServer::new(|| actix_web::App::new().route("/callback", actix_web::web::get().to(|| async { actix_web::HttpResponse::Ok().content_type("text/html").body("<!doctype html><title>Callback</title><p>Signed in.</p>") })))
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (format!("http://127.0.0.1:{port}/callback"), handle)
}

#[actix_web::test]
async fn console_admin_registers_client_creates_user_and_user_signs_in() {
    let srv = TestServer::start().await;
    person(&srv, "root", ADMIN_PASSWORD, &["super_admin"]).await;
    let (callback, rp) = callback_server();
    let b = Browser::start().await;

    // Signing in: /admin sends the browser to the login page and back.
    b.goto(&srv.url("/admin")).await;
    assert!(b.wait_path("login", |p| p.starts_with("/login?")).await.contains("return_to=%2Fadmin"));
    b.screenshot("console-login").await;
    b.fill("#username", "root").await;
    b.fill("#password", ADMIN_PASSWORD).await;
    b.click_css("button[type=submit]").await;
    b.wait_path("the dashboard", |p| p == "/admin").await;
    assert_eq!(b.text_of("main h1").await, "Dashboard");
    assert!(b.text_of(".user-chip").await.contains("Root Example"));
    let nav: Vec<String> = {
        let mut v = Vec::new();
        for e in b.find_all(".sidebar a").await {
            v.push(b.text(&e).await);
        }
        v
    };
    assert_eq!(nav, ["Dashboard", "Users", "Roles", "Permissions", "Clients", "Audit log", "System"]);
    b.screenshot("console-dashboard").await;

    // Registering a client: the secret is shown exactly once, with a working copy button.
    b.goto(&srv.url("/admin/clients")).await;
    b.screenshot("console-clients-empty").await;
    b.click_css("#new-client").await;
    b.wait_path("the registration form", |p| p == "/admin/clients/new").await;
    b.screenshot("console-client-new").await;
    b.fill("#c-name", "Acme Portal").await;
    b.fill("#c-description", "The customer portal").await;
    b.fill("#c-redirects", &callback).await;
    b.click_css("#create-client-submit").await;
    let client_path = b.wait_path("the new client's page", |p| p.starts_with("/admin/clients/") && p != "/admin/clients/new").await;
    assert!(b.text_of(".flash-success .flash-text").await.contains("Acme Portal registered"));
    let secret = b.text_of("#revealed-secret").await;
    assert_eq!(secret.len(), 43, "a 256-bit base64url secret: {secret:?}");
    let client_id = b.text_of("#client-id").await;
    let registered = tessera::clients::find(&srv.state.db, &client_id).await.unwrap().expect("client in the database");
    assert!(registered.secret_matches(&srv.state.pepper, &secret), "the secret shown is the client's secret");
    assert_eq!(registered.redirect_uris, std::slice::from_ref(&callback));

    let origin = json!({ "origin": srv.base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"] });
    b.cdp("Browser.grantPermissions", origin).await.expect("grant clipboard permissions");
    let copy = b.find("#copy-secret").await;
    assert_eq!(b.attr(&copy, "data-copied").await, None);
    b.click(&copy).await;
    let clip = b.exec_async("const done = arguments[arguments.length - 1]; navigator.clipboard.readText().then(done, e => done('ERR ' + e));", vec![]).await.expect("read clipboard");
    assert_eq!(clip.as_str(), Some(secret.as_str()), "the copy button put the secret on the clipboard");
    assert_eq!(b.attr(&copy, "data-copied").await.as_deref(), Some("true"));
    b.screenshot("console-client-created").await;

    b.refresh().await;
    b.find("#client-form").await;
    assert!(b.try_find("#revealed-secret").await.is_none(), "the secret is gone after a reload");
    assert!(!b.source().await.contains(&secret));
    b.screenshot("console-client").await;

    // Regenerating the secret needs a confirmation; the old secret stops working.
    b.click_css("#regenerate-link").await;
    b.wait_path("the confirmation", |p| p.ends_with("/secret")).await;
    b.screenshot("console-client-regenerate").await;
    b.click_css("#confirm-regenerate").await;
    b.wait_path("the client's page", |p| p == client_path).await;
    let new_secret = b.text_of("#revealed-secret").await;
    assert_ne!(new_secret, secret);
    let rotated = tessera::clients::find(&srv.state.db, &client_id).await.unwrap().unwrap();
    assert!(rotated.secret_matches(&srv.state.pepper, &new_secret) && !rotated.secret_matches(&srv.state.pepper, &secret));
    b.goto(&srv.url("/admin/clients")).await;
    b.screenshot("console-clients").await;

    // Creating a user, then assigning a role with an expiry.
    b.goto(&srv.url("/admin/users")).await;
    b.click_css("#new-user").await;
    b.wait_path("the user form", |p| p == "/admin/users/new").await;
    b.screenshot("console-user-new").await;
    b.fill("#username", "grace").await;
    b.fill("#display_name", "Grace Hopper").await;
    b.fill("#email", "grace@example.com").await;
    b.fill("#password", "Compiler-1952").await;
    let must_change = b.find("#must_change_password").await;
    assert!(b.selected(&must_change).await, "a password change is asked for by default");
    b.click(&must_change).await;
    b.click_css("#create-user-submit").await;
    let user_path = b.wait_path("the new user's page", |p| p.starts_with("/admin/users/") && p != "/admin/users/new").await;
    assert!(b.text_of(".flash-success").await.contains("User grace created"));
    let grace = users::Entity::find().filter(users::Column::Username.eq("grace")).one(&srv.state.db).await.unwrap().expect("grace exists");
    assert_eq!(user_path, format!("/admin/users/{}", grace.id));
    assert!(!grace.must_change_password && grace.is_active);

    let user_role = role_id(&srv, "user").await;
    b.click_css(&format!("#a-role option[value='{user_role}']")).await;
    let expiry = (srv.clock.now() + chrono::Duration::days(30)).format("%Y-%m-%dT%H:%M").to_string();
    let field = b.find("#a-expires").await;
    b.exec("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', { bubbles: true }));", vec![json!({ "element-6066-11e4-a52e-4f735466cecf": field.0 }), json!(expiry)]).await;
    b.click_css("#assign-form button[type=submit]").await;
    b.wait_path("the user's page", |p| p == user_path).await;
    // The form posts from the user's page back to it: wait for the new page's message.
    let started = std::time::Instant::now();
    while !b.text_of(".flash-success").await.contains("assigned to grace until") {
        assert!(started.elapsed() < std::time::Duration::from_secs(15), "no assignment message");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let row = b.text_of("#assignments tr[data-role=user]").await;
    assert!(row.contains(&expiry.replace('T', " ")), "{row}");
    let a = user_roles::Entity::find_by_id((grace.id.clone(), user_role.clone())).one(&srv.state.db).await.unwrap().expect("assignment");
    assert_eq!(a.expires_at.map(|t| t.format("%Y-%m-%dT%H:%M").to_string()), Some(expiry.clone()));
    assert!(a.assigned_by.is_some());
    assert_eq!(audit_rows(&srv, "ROLE_ASSIGNED").await.len(), 1);
    b.screenshot("console-user").await;

    // The role × permission matrix: the plain user role gets the dashboard.
    b.goto(&srv.url("/admin/roles")).await;
    let cell = b.find("input[aria-label='User grants menu:dashboard']").await;
    assert!(!b.selected(&cell).await);
    b.click(&cell).await;
    b.click_css("#matrix-form .card-foot button[type=submit]").await;
    assert!(b.text_of(".flash-success").await.contains("1 permission granted, 0 revoked across 1 role"));
    let cell = b.find("input[aria-label='User grants menu:dashboard']").await;
    assert!(b.selected(&cell).await);
    let dashboard = permissions::Entity::find().filter(permissions::Column::Name.eq("menu:dashboard")).one(&srv.state.db).await.unwrap().unwrap();
    assert!(role_permissions::Entity::find_by_id((user_role.clone(), dashboard.id)).one(&srv.state.db).await.unwrap().is_some());
    assert_eq!(audit_rows(&srv, "ROLE_PERMISSIONS_CHANGED").await.len(), 1);

    // Every other page, for the record.
    for (path, name) in [
        ("/admin/users", "console-users"),
        ("/admin/roles", "console-roles"),
        ("/admin/permissions", "console-permissions"),
        ("/admin/audit", "console-audit"),
        ("/admin/audit/security", "console-audit-security"),
        ("/admin/system", "console-system"),
        ("/admin/nothing-here", "console-not-found"),
    ] {
        b.goto(&srv.url(path)).await;
        b.find("main h1").await;
        b.screenshot(name).await;
    }
    b.goto(&srv.url("/admin")).await;
    b.find(".stats").await;
    b.set_window(390, 844).await;
    b.screenshot("console-dashboard-narrow").await;
    b.set_window(1280, 900).await;

    // Signing out ends the console session.
    b.click_css("#sign-out").await;
    b.wait_path("the login page", |p| p.starts_with("/login")).await;

    // The new user completes an OAuth login in the browser with the registered client.
    let verifier = tessera_actors::crypto::random_token(32);
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &callback)
        .append_pair("scope", "openid profile")
        .append_pair("state", "console-state-1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    b.goto(&srv.url(&format!("/api/v2/oauth/authorize?{query}"))).await;
    b.wait_path("the login page", |p| p.starts_with("/login?")).await;
    b.fill("#username", "grace").await;
    b.fill("#password", "Compiler-1952").await;
    b.click_css("button[type=submit]").await;
    b.wait_path("the consent page", |p| p.starts_with("/oauth/consent")).await;
    assert!(b.text_of("main").await.contains("Acme Portal"));
    b.click_css("button[value=approve]").await;
    let started = std::time::Instant::now();
    let landed = loop {
        let u = b.url().await;
        if u.starts_with(&callback) {
            break u;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "no redirect to the client; at {u}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let params: std::collections::HashMap<String, String> = url::Url::parse(&landed).unwrap().query_pairs().into_owned().collect();
    assert_eq!(params.get("state").map(String::as_str), Some("console-state-1"));
    let code = params.get("code").expect("an authorization code");
    let token = client()
        .post(srv.url("/api/v2/oauth/token"))
        .basic_auth(&client_id, Some(&new_secret))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", callback.as_str()), ("code_verifier", verifier.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200, "the code redeems with the regenerated secret");
    let body: serde_json::Value = token.json().await.unwrap();
    assert!(body["access_token"].is_string() && body["id_token"].is_string());

    b.quit().await;
    rp.stop(true).await;
    srv.stop().await;
}

#[actix_web::test]
async fn console_hides_users_without_menu_permission_and_answers_403() {
    let srv = TestServer::start().await;
    custom_role(&srv, "auditor", &["menu:dashboard", "menu:audit", "audit:list"]).await;
    let ada = person(&srv, "ada", "Analytical-1843", &[]).await;
    assign(&srv, &ada, "auditor", None).await;
    let b = Browser::start().await;

    browser_login(&b, &srv, "/admin", "ada", "Analytical-1843").await;
    b.wait_path("the dashboard", |p| p == "/admin").await;
    let mut nav = Vec::new();
    for e in b.find_all(".sidebar a").await {
        nav.push(b.text(&e).await);
    }
    assert_eq!(nav, ["Dashboard", "Audit log"]);
    assert!(b.try_find("a[href='/admin/users']").await.is_none(), "no link to the users page anywhere");
    assert!(b.try_find("a[data-stat='Users']").await.is_none(), "the users figure is not a link either");

    b.goto(&srv.url("/admin/users")).await;
    assert_eq!(b.text_of("[data-error]").await.lines().next(), Some("403"));
    assert!(b.text_of(".error-panel").await.contains("menu:users"));
    b.screenshot("console-forbidden").await;
    b.goto(&srv.url("/admin/audit")).await;
    assert_eq!(b.text_of("main h1").await, "Audit log");
    b.quit().await;

    // The status, and the audit row committed before it.
    let http = http_login(&srv, "ada", "Analytical-1843").await;
    let res = http.get(srv.url("/admin/users")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let res = http.get(srv.url("/admin/clients/new")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let denied = audit_rows(&srv, "PERMISSION_DENIED").await;
    let mine: Vec<_> = denied.iter().filter(|r| r.user_id.as_deref() == Some(ada.as_str())).collect();
    assert!(mine.len() >= 3, "one row per refusal: {mine:?}");
    let details: Vec<&serde_json::Value> = mine.iter().filter_map(|r| r.details.as_ref()).collect();
    assert!(details.iter().any(|d| d["permission"] == "menu:users" && d["path"] == "/admin/users"));
    assert!(details.iter().any(|d| d["permission"] == "menu:clients" && d["path"] == "/admin/clients/new"));
    assert!(mine.iter().all(|r| r.severity == "warning"));
    srv.stop().await;
}

#[actix_web::test]
async fn console_requires_session_csrf_and_sends_no_store() {
    let srv = TestServer::start().await;
    person(&srv, "root", ADMIN_PASSWORD, &["super_admin"]).await;

    // No session: every page goes to the login page, which comes back to the page asked for.
    let anon = client();
    for path in ["/admin", "/admin/users?q=ro", "/admin/system"] {
        let res = anon.get(srv.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 302, "{path}");
        let expected = format!("/login?return_to={}", url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>());
        assert_eq!(location(&res), expected);
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
    }
    let b = Browser::start().await;
    browser_login(&b, &srv, "/admin/users?q=ro", "root", ADMIN_PASSWORD).await;
    assert_eq!(b.wait_path("the page asked for", |p| p.starts_with("/admin/")).await, "/admin/users?q=ro");
    assert_eq!(b.find_all("#users-table tbody tr").await.len(), 1);
    b.quit().await;

    // A POST without a session and without a CSRF token is refused.
    let res = anon.post(srv.url("/admin/users")).form(&[("username", "mallory"), ("password", "Mallory-Pass-1")]).send().await.unwrap();
    assert_eq!(res.status(), 400);

    // Signed in: pages are no-store with a strict CSP, and every mutation needs the CSRF token.
    let http = http_login(&srv, "root", ADMIN_PASSWORD).await;
    for path in ["/admin", "/admin/users", "/admin/users/new", "/admin/roles", "/admin/permissions", "/admin/clients", "/admin/clients/new", "/admin/audit", "/admin/audit/security", "/admin/system"] {
        let res = http.get(srv.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers().clone();
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'sha256-") && csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp}");
        let html = res.text().await.unwrap();
        let lower = html.to_lowercase();
        for handler in [" onclick=", " onsubmit=", " onload=", " onchange=", "javascript:", " style="] {
            assert!(!lower.contains(handler), "{path} has {handler}");
        }
        assert_eq!(html.matches("<script").count(), 1, "{path}: the one hashed script");
    }
    let css = http.get(srv.url("/admin/assets/console.css")).send().await.unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    for (path, status) in [("/admin/users/00000000-0000-4000-8000-000000000000", 404), ("/admin/clients/nope", 404), ("/admin/no-such-page", 404)] {
        let res = http.get(srv.url(path)).send().await.unwrap();
        assert_eq!(res.status(), status, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
    }

    // The audit log filters, and its CSV export (after the audit actor has written the sign-ins).
    assert_eq!(audit_rows(&srv, "USER_LOGIN_SUCCESS").await.len(), 2);
    let html = http.get(srv.url("/admin/audit?action=user_login_success")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<code>USER_LOGIN_SUCCESS</code>") && !html.contains("<code>USER_LOGIN_FAILED</code>"));
    let bad = http.get(srv.url("/admin/audit?from=yesterday")).send().await.unwrap();
    assert_eq!(bad.status(), 200);
    assert!(bad.text().await.unwrap().contains("From must be a date"));
    let csv = http.get(srv.url("/admin/audit/export.csv?action=USER_LOGIN_SUCCESS")).send().await.unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("id,created_at,action,severity"));
    assert_eq!(csv.lines().count(), 3, "a header and the two sign-ins: {csv}");

    let users_before = users::Entity::find().count(&srv.state.db).await.unwrap();
    let form = |csrf: Option<&str>| {
        let mut f = vec![("username", "mallory"), ("password", "Mallory-Pass-1")];
        if let Some(c) = csrf {
            f.push(("csrf_token", c));
        }
        f.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>()
    };
    for csrf in [None, Some(""), Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] {
        let res = http.post(srv.url("/admin/users")).form(&form(csrf)).send().await.unwrap();
        assert_eq!(res.status(), 400, "csrf {csrf:?}");
        assert_eq!(res.headers()["cache-control"], "no-store");
    }
    assert_eq!(res_status(&http, &srv, "/admin/logout", &[]).await, 400);
    assert_eq!(users::Entity::find().count(&srv.state.db).await.unwrap(), users_before, "nothing was created");

    // The same POST with the form's token goes through (so the 400s were the token's doing).
    let page = http.get(srv.url("/admin/users/new")).send().await.unwrap().text().await.unwrap();
    let token = input_value(&page, "csrf_token").expect("csrf field");
    let res = http.post(srv.url("/admin/users")).form(&form(Some(&token))).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/admin/users/"));
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(users::Entity::find().count(&srv.state.db).await.unwrap(), users_before + 1);

    // The same token works for the user page's other forms: reset, deactivate (never oneself).
    let mallory_page = location(&res);
    let mallory = users::Entity::find().filter(users::Column::Username.eq("mallory")).one(&srv.state.db).await.unwrap().unwrap();
    assert!(!mallory.must_change_password, "the box was not ticked");
    let before_hash = mallory.password_hash.clone();
    let res = http.post(srv.url(&format!("{mallory_page}/password"))).form(&[("csrf_token", token.as_str()), ("mode", "generate"), ("must_change_password", "on")]).send().await.unwrap();
    assert_eq!((res.status().as_u16(), location(&res)), (303, mallory_page.clone()));
    let shown = http.get(srv.url(&mallory_page)).send().await.unwrap().text().await.unwrap();
    assert!(shown.contains("id=\"revealed-secret\""), "the temporary password is shown once");
    let again = http.get(srv.url(&mallory_page)).send().await.unwrap().text().await.unwrap();
    assert!(!again.contains("id=\"revealed-secret\""), "and only once");
    let reset = users::Entity::find_by_id(mallory.id.clone()).one(&srv.state.db).await.unwrap().unwrap();
    assert_ne!(reset.password_hash, before_hash);
    let res = http.post(srv.url(&format!("{mallory_page}/status"))).form(&[("csrf_token", token.as_str()), ("action", "deactivate")]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(!users::Entity::find_by_id(mallory.id.clone()).one(&srv.state.db).await.unwrap().unwrap().is_active);
    assert_eq!(audit_rows(&srv, "USER_DEACTIVATED").await.len(), 1);
    let root = users::Entity::find().filter(users::Column::Username.eq("root")).one(&srv.state.db).await.unwrap().unwrap();
    let res = http.post(srv.url(&format!("/admin/users/{}/status", root.id))).form(&[("csrf_token", token.as_str()), ("action", "deactivate")]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(http.get(srv.url(&format!("/admin/users/{}", root.id))).send().await.unwrap().text().await.unwrap().contains("You cannot deactivate your own account."));
    assert!(users::Entity::find_by_id(root.id).one(&srv.state.db).await.unwrap().unwrap().is_active);
    srv.stop().await;
}

async fn res_status(http: &reqwest::Client, srv: &TestServer, path: &str, form: &[(&str, &str)]) -> u16 {
    http.post(srv.url(path)).form(form).send().await.unwrap().status().as_u16()
}
