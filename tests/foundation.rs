//! Foundation: health, readiness, JWKS shape, key rotation through the actor.

use crate::common::{TestServer, client};
use serde_json::Value;

#[actix_web::test]
async fn health_reports_dependencies_and_ready_answers() {
    let srv = TestServer::start().await;
    let res = client().get(srv.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("x-tessera-node").is_some());
    assert!(res.headers().get("x-request-id").is_some());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["service"], "tessera");
    assert_eq!(body["dependencies"]["database"], "up");
    assert_eq!(body["dependencies"]["cluster"], "leader");
    assert!(body["timestamp"].as_str().is_some());
    let ready = client().get(srv.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    srv.stop().await;
}

fn check_jwk(k: &Value) {
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        assert!(k.get(private).is_none(), "private member {private} in JWKS: {k}");
    }
    assert_eq!(k["use"], "sig");
    assert!(k["kid"].as_str().is_some_and(|s| !s.is_empty()));
    match k["kty"].as_str().unwrap() {
        "RSA" => {
            assert_eq!(k["alg"], "RS256");
            assert!(k["n"].as_str().unwrap().len() > 300);
            assert_eq!(k["e"], "AQAB");
        }
        "EC" => {
            assert_eq!(k["alg"], "ES256");
            assert_eq!(k["crv"], "P-256");
            assert!(k["x"].is_string() && k["y"].is_string());
        }
        "OKP" => {
            assert_eq!(k["alg"], "EdDSA");
            assert_eq!(k["crv"], "Ed25519");
            assert!(k["x"].is_string());
        }
        other => panic!("unexpected kty {other}"),
    }
}

#[actix_web::test]
async fn jwks_serves_public_keys_with_cache_control_at_both_paths() {
    let srv = TestServer::start().await;
    for path in ["/api/v2/oauth/jwks", "/.well-known/jwks.json"] {
        let res = client().get(srv.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let cc = res.headers()["cache-control"].to_str().unwrap().to_string();
        assert!(cc.contains("max-age=300"), "{cc}");
        let body: Value = res.json().await.unwrap();
        let keys = body["keys"].as_array().unwrap();
        let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
        assert!(algs.contains(&"RS256") && algs.contains(&"ES256"), "{algs:?}");
        keys.iter().for_each(check_jwk);
    }
    srv.stop().await;
}

#[actix_web::test]
async fn eddsa_key_is_generated_when_configured() {
    let srv = TestServer::start_with(|env| {
        env.insert("JWT_ALGORITHM".into(), "EdDSA".into());
    })
    .await;
    let body: Value = client().get(srv.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let keys = body["keys"].as_array().unwrap();
    assert!(keys.iter().any(|k| k["alg"] == "EdDSA"));
    keys.iter().for_each(check_jwk);
    srv.stop().await;
}

#[actix_web::test]
async fn rotation_publishes_then_activates_after_max_age() {
    let srv = TestServer::start_with(|env| {
        env.insert("JWKS_MAX_AGE".into(), "2".into());
    })
    .await;
    let before = srv.state.ring.signer("RS256").unwrap().kid.clone();
    let kids = srv.state.keys.send(tessera_actors::keys::Rotate).await.unwrap().unwrap();
    assert_eq!(kids.len(), 2, "one new key per algorithm");
    let jwks: Value = client().get(srv.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let listed: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    for kid in &kids {
        assert!(listed.contains(&kid.as_str()), "new key published at once");
    }
    // Published keys do not sign until the JWKS max-age has passed.
    assert_eq!(srv.state.ring.signer("RS256").unwrap().kid, before);
    let mut activated = false;
    for _ in 0..60 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if srv.state.ring.signer("RS256").unwrap().kid != before {
            activated = true;
            break;
        }
    }
    assert!(activated, "new key activated after max-age");
    assert!(kids.contains(&srv.state.ring.signer("RS256").unwrap().kid));
    srv.stop().await;
}

#[actix_web::test]
async fn metrics_listener_exposes_the_seed_metric_names() {
    let srv = TestServer::start().await;
    let (l, port) = crate::common::free_listener();
    actix_web::rt::spawn(srv.node().serve_metrics(l).unwrap());
    assert_eq!(client().get(srv.url("/health")).send().await.unwrap().status(), 200);
    let text = client().get(format!("http://127.0.0.1:{port}/metrics")).send().await.unwrap().text().await.unwrap();
    for name in [
        "oauth_authorization_requests_total",
        "oauth_token_issued_total",
        "oauth_token_revoked_total",
        "oauth_login_attempts_total",
        "oauth_login_failures_total",
        "oauth_authorization_latency_ms_bucket",
        "oauth_database_connections_active",
        "oauth_cache_hits_total",
        "oauth_cache_misses_total",
        "http_request_duration_seconds_bucket",
        "tessera_raft_term",
        "tessera_raft_applied_index",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains("http_requests_total{route=\"/health\",status=\"200\"}"), "{text}");
    assert!(text.contains("tessera_signing_keys{alg=\"RS256\",state=\"active\"} 1"), "{text}");
    assert!(text.contains("tessera_raft_is_leader 1"), "{text}");
    // The public listener does not serve metrics.
    assert_eq!(client().get(srv.url("/metrics")).send().await.unwrap().status(), 404);
    srv.stop().await;
}

/// The value of one series (`name{labels}`) in a Prometheus text exposition; 0 when absent.
fn series(text: &str, name: &str) -> u64 {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' '))).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

#[actix_web::test]
async fn protocol_events_are_counted_in_the_metrics() {
    use crate::common::admin::{get, user_with_token};
    use crate::common::flow::{account, submit_login};
    use crate::common::tokens::{post_as, register, token};
    // The counters are process-wide and other tests run alongside: each must grow by at least
    // what this test did.
    let srv = TestServer::start().await;
    let read = |name: &str| series(&tessera::metrics::render(&srv.state), name);
    const ISSUED_CC: &str = "oauth_token_issued_total{grant_type=\"client_credentials\"}";
    let names = [
        ISSUED_CC,
        "oauth_token_revoked_total",
        "oauth_login_attempts_total",
        "oauth_login_failures_total",
        "oauth_authorization_requests_total",
        "oauth_authorization_latency_ms_count",
        "oauth_cache_hits_total",
        "oauth_cache_misses_total",
    ];
    let before: Vec<u64> = names.iter().map(|n| read(n)).collect();

    let service = register(&srv, false, &["client_credentials"], &["api.read"]).await;
    let res = token(&srv, &service, &[("grant_type", "client_credentials")]).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let revoked = post_as(&srv, "/api/v2/oauth/revoke", &service, &[("token", body["access_token"].as_str().unwrap())]).await;
    assert_eq!(revoked.status(), 200);

    let user = account(&srv, "metered").await;
    let failed = submit_login(&srv, &client(), "/login", &user.username, "Wrong-Password-1").await;
    assert_eq!(failed.status(), 401);
    assert_eq!(client().get(srv.url("/api/v2/oauth/authorize?client_id=nobody")).send().await.unwrap().status(), 400);

    let (_, admin) = user_with_token(&srv, "counted", &["super_admin"]).await;
    assert_eq!(get(&srv, "/api/v2/users", &admin).await.status, 200); // permissions loaded: a miss
    assert_eq!(get(&srv, "/api/v2/users", &admin).await.status, 200); // then cached: a hit

    for (name, was) in names.iter().zip(before) {
        assert!(read(name) > was, "{name} did not grow from {was}");
    }
    assert!(tessera::metrics::render(&srv.state).contains(ISSUED_CC));
    srv.stop().await;
}

/// One CLIENT_AUTH_FAILED row (token endpoint), one PERMISSION_DENIED row (admin API) and one
/// USER_LOGIN_FAILED row (login page), each from a request claiming `X-Forwarded-For: 203.0.113.50`;
/// returns the addresses the three rows recorded.
async fn recorded_addresses(srv: &TestServer) -> Vec<Option<String>> {
    use crate::common::admin::{audit_rows, user_with_token};
    use crate::common::flow::account;
    const FORGED: (&str, &str) = ("x-forwarded-for", "198.51.100.99, 203.0.113.50");
    let res = client()
        .post(srv.url("/api/v2/oauth/token"))
        .header(FORGED.0, FORGED.1)
        .form(&[("grant_type", "client_credentials"), ("client_id", "tsr_nobody"), ("client_secret", "nothing")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let (_, token) = user_with_token(srv, "plain", &["user"]).await;
    let res = client().get(srv.url("/api/v2/users")).bearer_auth(&token).header(FORGED.0, FORGED.1).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let user = account(srv, "walker").await;
    let http = client();
    let page = http.get(srv.url("/login")).send().await.unwrap().text().await.unwrap();
    let csrf = crate::common::flow::input_value(&page, "csrf_token").unwrap();
    let res = http.post(srv.url("/login")).header(FORGED.0, FORGED.1).form(&[("username", user.username.as_str()), ("password", "Wrong-Password-1"), ("csrf_token", &csrf)]).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let mut out = Vec::new();
    for action in ["CLIENT_AUTH_FAILED", "PERMISSION_DENIED", "USER_LOGIN_FAILED"] {
        let rows = audit_rows(srv, action).await;
        assert_eq!(rows.len(), 1, "{action}");
        out.push(rows[0].ip_address.clone());
    }
    out
}

#[actix_web::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let direct = TestServer::start().await;
    let peer = Some("127.0.0.1".to_string());
    assert_eq!(recorded_addresses(&direct).await, vec![peer.clone(); 3], "a forged X-Forwarded-For from an untrusted peer is ignored");
    direct.stop().await;

    let proxied = TestServer::start_with(|env| {
        env.insert("TRUSTED_PROXIES".into(), "127.0.0.1".into());
    })
    .await;
    let client_addr = Some("203.0.113.50".to_string());
    assert_eq!(recorded_addresses(&proxied).await, vec![client_addr; 3], "behind a trusted proxy the nearest untrusted hop is the client");
    proxied.stop().await;
}

/// The metric names in PromQL text: identifiers with Tessera's prefixes.
fn promql_metrics(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| ["oauth_", "http_", "tessera_"].iter().any(|p| w.starts_with(p)))
        .map(str::to_string)
        .collect()
}

/// Every `expr` of a Prometheus rules file (one-line, or a `|` block of more indented lines).
fn alert_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("expr:") else { continue };
        if rest.trim() != "|" {
            out.push(rest.trim().to_string());
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let block: Vec<&str> = lines[i + 1..].iter().take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent).copied().collect();
        out.push(block.join("\n"));
    }
    out
}

fn dashboard_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", Value::String(s)) => out.push(s.clone()),
                    _ => dashboard_exprs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| dashboard_exprs(v, out)),
        _ => {}
    }
}

/// The shipped Grafana dashboard and Prometheus alert rules only query series the server exports,
/// and the seed's four alerts are there.
#[actix_web::test]
async fn deployed_dashboard_and_alerts_query_exported_metrics() {
    let root = env!("CARGO_MANIFEST_DIR");
    let srv = TestServer::start().await;
    let (l, port) = crate::common::free_listener();
    actix_web::rt::spawn(srv.node().serve_metrics(l).unwrap());
    // `http_requests_total` has a series once a request has been answered.
    assert_eq!(client().get(srv.url("/health")).send().await.unwrap().status(), 200);
    let text = client().get(format!("http://127.0.0.1:{port}/metrics")).send().await.unwrap().text().await.unwrap();
    // Series names, and families declared by `# TYPE` (a labelled counter has no series before its
    // first event); a histogram family `x` is queried as `x_bucket`, `x_sum`, `x_count`.
    let mut exported: std::collections::BTreeSet<String> =
        text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split(['{', ' ']).next()).map(str::to_string).collect();
    for l in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let mut w = l.split(' ');
        let (Some(name), Some(kind)) = (w.next(), w.next()) else { continue };
        exported.insert(name.to_string());
        if kind == "histogram" {
            exported.extend(["_bucket", "_sum", "_count"].map(|s| format!("{name}{s}")));
        }
    }

    let rules = std::fs::read_to_string(format!("{root}/deploy/prometheus/alerts.yml")).unwrap();
    for alert in ["HighErrorRate", "HighLatency", "DatabaseConnectionPoolExhausted", "TokenRevocationRateHigh"] {
        assert!(rules.contains(&format!("- alert: {alert}\n")), "alert {alert} missing");
    }
    let alerts = alert_exprs(&rules);
    assert!(alerts.len() >= 4, "{alerts:?}");

    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(format!("{root}/deploy/grafana/tessera-dashboard.json")).unwrap()).unwrap();
    let mut panels = Vec::new();
    dashboard_exprs(&dashboard, &mut panels);
    assert!(panels.len() >= 10, "{panels:?}");

    for expr in alerts.iter().chain(&panels) {
        let names = promql_metrics(expr);
        assert!(!names.is_empty(), "no Tessera metric in {expr:?}");
        for name in names {
            assert!(exported.contains(&name), "{name} (in {expr:?}) is not exported; exported: {exported:?}");
        }
    }
    srv.stop().await;
}
