//! Users and passwords: the policy, creation, one Argon2 verification per login attempt, the
//! failed-login audit row, forced password change, the bootstrap administrator and `user create`.

use crate::common::flow::*;
use crate::common::{TestServer, base_env, client, free_listener};
use crate::process::{signal, tessera, wait_exit, wait_ready};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;
use tessera::users::{CreateUserError, LoginError, NewUser, Passwords, check_password_policy, create_user, verify_credentials};
use tessera_entity::{audit_logs, users};

#[test]
fn password_policy_rules() {
    for ok in ["Tr0ub4dor&3", "correct-horse-7", "CORRECT HORSE 7", "Pässwörter1"] {
        assert!(check_password_policy(ok).is_ok(), "{ok}");
    }
    for (bad, why) in [("Ab1-", "at least 8"), ("abcdefgh", "three of"), ("abcd1234", "three of"), ("ABCD-EFG", "three of"), ("lowerUPPERonly", "three of"), ("", "at least 8")] {
        let err = check_password_policy(bad).unwrap_err();
        assert!(err.contains(why), "{bad}: {err}");
    }
    assert!(check_password_policy(&format!("Aa1-{}", "x".repeat(124))).is_ok());
    assert!(check_password_policy(&format!("Aa1-{}", "x".repeat(125))).unwrap_err().contains("at most 128"));
}

#[actix_web::test]
async fn create_user_validates_and_assigns_roles() {
    let srv = TestServer::start().await;
    let db = &srv.state.db;
    let new = |name: &str, pw: &str, roles: &[&str]| NewUser {
        username: name.into(),
        email: Some(format!("{name}@example.com")),
        password: pw.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        ..NewUser::default()
    };
    assert!(matches!(create_user(db, new("weak", "password", &[])).await, Err(CreateUserError::Policy(_))));
    assert!(matches!(create_user(db, new("norole", PASSWORD, &["no_such_role"])).await, Err(CreateUserError::UnknownRole(_))));
    assert!(matches!(create_user(db, new("<b>x</b>", PASSWORD, &[])).await, Err(CreateUserError::Invalid { field: "username", .. })));
    let u = create_user(db, new("sam", PASSWORD, &["admin"])).await.unwrap();
    assert!(u.is_active && !u.must_change_password);
    assert_eq!(tessera::users::role_names(db, &u.id, srv.state.clock.now()).await.unwrap(), vec!["admin".to_string()]);
    assert!(matches!(create_user(db, new("sam", PASSWORD, &[])).await, Err(CreateUserError::Duplicate)));
    let row = users::Entity::find_by_id(u.id.as_str()).one(db).await.unwrap().unwrap();
    assert!(row.password_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", row.password_hash);
    srv.stop().await;
}

#[actix_web::test]
async fn unknown_user_costs_one_argon2_verification() {
    let srv = TestServer::start().await;
    let user = account(&srv, "tess").await;
    let (db, now) = (&srv.state.db, srv.state.clock.now());
    let pool = Passwords::new(1);
    let r = verify_credentials(db, &pool, now, "nobody-here", "Whatever-123").await;
    assert!(matches!(r, Err(LoginError::InvalidCredentials { user_id: None })), "{r:?}");
    assert_eq!(pool.verifications(), 1, "an unknown user is verified against the dummy hash");
    let r = verify_credentials(db, &pool, now, &user.username, "Wrong-Password-1").await;
    assert!(matches!(r, Err(LoginError::InvalidCredentials { user_id: Some(_) })));
    assert_eq!(pool.verifications(), 2);
    assert_eq!(verify_credentials(db, &pool, now, &user.username, PASSWORD).await.unwrap().id, user.id);
    assert_eq!(pool.verifications(), 3);
    tessera::users::set_active(db, &user.id, false, now).await.unwrap();
    assert!(matches!(verify_credentials(db, &pool, now, &user.username, PASSWORD).await, Err(LoginError::Inactive { .. })));
    assert_eq!(pool.verifications(), 4);
    assert_eq!(pool.hashes(), 0, "logins never hash");
    srv.stop().await;
}

#[actix_web::test]
async fn failed_login_audit_row_is_readable_as_soon_as_the_response_arrives() {
    let srv = TestServer::start().await;
    let user = account(&srv, "uma").await;
    let http = client();
    let res = submit_login(&srv, &http, "/login", &user.username, "Not-The-Password-1").await;
    assert_eq!(res.status(), 401);
    // No flush, no wait: the row is there because the response waited for it.
    let rows = audit_logs::Entity::find().filter(audit_logs::Column::Action.eq("USER_LOGIN_FAILED")).all(&srv.state.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].user_id.as_deref(), Some(user.id.as_str()));
    assert_eq!(rows[0].severity, "warning");
    assert_eq!(rows[0].ip_address.as_deref(), Some("127.0.0.1"));
    assert!(!rows[0].details.as_ref().unwrap().to_string().contains("Not-The-Password-1"));
    let body = res.text().await.unwrap();
    assert!(body.contains("Invalid username or password."));
    // An unknown user gets the same page and the same status.
    let res = submit_login(&srv, &http, "/login", "nobody", "Not-The-Password-1").await;
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("Invalid username or password."));
    let rows = audit_logs::Entity::find().filter(audit_logs::Column::Action.eq("USER_LOGIN_FAILED")).all(&srv.state.db).await.unwrap();
    assert_eq!(rows.len(), 2);
    srv.stop().await;
}

#[actix_web::test]
async fn must_change_password_is_enforced_before_continuing() {
    let srv = TestServer::start().await;
    let c = default_client(&srv).await;
    let new = NewUser { username: "vic".into(), password: PASSWORD.into(), must_change_password: true, ..NewUser::default() };
    create_user(&srv.state.db, new).await.unwrap();
    let http = client();
    let res = http.get(srv.url(&authorize_path(&c, "openid", "cp", &pkce().challenge, &[]))).send().await.unwrap();
    let res = submit_login(&srv, &http, &location(&res), "vic", PASSWORD).await;
    let to_change = location(&res);
    assert!(to_change.starts_with("/login/password?return_to="), "{to_change}");
    // Going around the form does not help: authorize sends the browser back to it.
    let back = url::Url::parse(&srv.url(&to_change)).unwrap().query_pairs().find(|(k, _)| k == "return_to").unwrap().1.to_string();
    let res = http.get(srv.url(&back)).send().await.unwrap();
    assert!(location(&res).starts_with("/login/password?"), "{}", location(&res));
    let page = http.get(srv.url(&to_change)).send().await.unwrap().text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let return_to = input_value(&page, "return_to").unwrap();
    let post = |newpw: &'static str, csrf: String| {
        let (http, url, return_to) = (http.clone(), srv.url("/login/password"), return_to.clone());
        async move {
            http.post(url)
                .form(&[("current_password", PASSWORD), ("new_password", newpw), ("confirm_password", newpw), ("csrf_token", &csrf), ("return_to", &return_to)])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(post("New-Passw0rd!", String::new()).await.status(), 400, "CSRF required");
    let weak = post("weakweak", csrf.clone()).await;
    assert_eq!(weak.status(), 400);
    assert!(weak.text().await.unwrap().contains("three of"));
    let res = post("New-Passw0rd!", csrf).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), return_to);
    let res = http.get(srv.url(&return_to)).send().await.unwrap();
    assert!(location(&res).starts_with("/oauth/consent?"), "continues with the request: {}", location(&res));
    let row = users::Entity::find().filter(users::Column::Username.eq("vic")).one(&srv.state.db).await.unwrap().unwrap();
    assert!(!row.must_change_password);
    srv.stop().await;
}

/// The one-time password lines in `tessera serve` stdout.
fn printed_passwords(stdout: &str) -> Vec<String> {
    stdout.lines().filter_map(|l| l.trim().strip_prefix("password: ").map(str::to_string)).collect()
}

#[actix_web::test]
async fn bootstrap_admin_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let (l, port) = free_listener();
    drop(l);
    let mut env = base_env(dir.path(), port).await;
    env.insert("LOG_FORMAT".into(), "json".into());
    let run = |n: usize| {
        let out = std::fs::File::create(dir.path().join(format!("stdout-{n}"))).unwrap();
        let err = std::fs::File::create(dir.path().join(format!("stderr-{n}"))).unwrap();
        tessera(&env, &["serve"]).stdout(out).stderr(err).spawn().unwrap()
    };
    let mut child = run(1);
    wait_ready(port);
    let stdout = std::fs::read_to_string(dir.path().join("stdout-1")).unwrap();
    let pw = printed_passwords(&stdout);
    assert_eq!(pw.len(), 1, "{stdout}");
    assert!(stdout.contains("username: admin"));
    check_password_policy(&pw[0]).unwrap();
    // The administrator signs in with it and must change it first.
    let http = client();
    let base = format!("http://127.0.0.1:{port}");
    let page = http.get(format!("{base}/login")).send().await.unwrap().text().await.unwrap();
    let csrf = input_value(&page, "csrf_token").unwrap();
    let res = http.post(format!("{base}/login")).form(&[("username", "admin"), ("password", pw[0].as_str()), ("csrf_token", &csrf)]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login/password");
    // A failed login leaves one fail2ban-friendly JSON line, without the password.
    let res = http.post(format!("{base}/login")).form(&[("username", "admin"), ("password", "Guess-Passw0rd"), ("csrf_token", &csrf)]).send().await.unwrap();
    assert_eq!(res.status(), 401);
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
    let mut child = run(2);
    wait_ready(port);
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(30)).success());
    let second = std::fs::read_to_string(dir.path().join("stdout-2")).unwrap();
    assert!(printed_passwords(&second).is_empty(), "printed again: {second}");
    for n in [1, 2] {
        let log = std::fs::read_to_string(dir.path().join(format!("stderr-{n}"))).unwrap();
        assert!(!log.contains(&pw[0]) && !log.contains("Guess-Passw0rd"), "password in the log");
    }
    let log = std::fs::read_to_string(dir.path().join("stderr-1")).unwrap();
    let failed: Vec<&str> = log.lines().filter(|l| l.contains(r#""error":"invalid_credentials""#)).collect();
    assert_eq!(failed.len(), 1, "{log}");
    assert!(failed[0].contains(r#""remote_addr":"127.0.0.1""#) && failed[0].contains(r#""target":"tessera::auth""#), "{}", failed[0]);
    let db = tessera::db::connect_url(&env["DATABASE_URL"], 1).await.unwrap();
    let admin = tessera::users::find_by_username(&db, "admin").await.unwrap().unwrap();
    assert!(admin.must_change_password && admin.is_active);
    assert_eq!(tessera::users::role_names(&db, &admin.id, chrono::Utc::now()).await.unwrap(), vec!["super_admin".to_string()]);
}

#[actix_web::test]
async fn user_create_reads_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let env = base_env(dir.path(), 1).await;
    let create = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = tessera(&env, args);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    };
    let secret = "Stdin-Passw0rd";
    let out = create(&["user", "create", "--username", "wes", "--email", "wes@example.com", "--password-stdin", "--role", "admin"], Some(&format!("{secret}\n")));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("created user wes") && !stdout.contains(secret), "{stdout}");
    let weak = create(&["user", "create", "--username", "xan", "--email", "xan@example.com", "--password-stdin"], Some("weak\n"));
    assert_eq!(weak.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 8"));
    let generated = create(&["user", "create", "--username", "yul", "--email", "yul@example.com"], None);
    assert!(generated.status.success());
    let shown = printed_passwords(&String::from_utf8_lossy(&generated.stdout));
    assert_eq!(shown.len(), 1);
    let db = tessera::db::connect_url(&env["DATABASE_URL"], 1).await.unwrap();
    let pool = Passwords::new(1);
    let wes = verify_credentials(&db, &pool, chrono::Utc::now(), "wes", secret).await.unwrap();
    assert_eq!(tessera::users::role_names(&db, &wes.id, chrono::Utc::now()).await.unwrap(), vec!["admin".to_string()]);
    let yul = verify_credentials(&db, &pool, chrono::Utc::now(), "yul", &shown[0]).await.unwrap();
    assert!(yul.must_change_password, "a generated password is one-time");
    assert!(verify_credentials(&db, &pool, chrono::Utc::now(), "xan", "weak").await.is_err());
}
