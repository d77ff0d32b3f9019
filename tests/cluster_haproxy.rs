//! Issue 5 acceptance: a real cluster — `tessera serve` processes on loopback sharing one
//! PostgreSQL database, one key-encryption key and one Redis — behind a real HAProxy configured
//! from `deploy/haproxy.cfg` (see `common::cluster`).
//!
//! These tests always run on PostgreSQL, in either `TESSERA_TEST_DB` mode: SQLite cannot be shared
//! by several server processes realistically (one file, one writer, no network). They print what
//! they measure (`[cluster] …` lines; `--nocapture` or nextest's output shows them). Heavy: nextest
//! runs them one at a time (`.config/nextest.toml`), and a process-wide lock does the same under
//! `cargo test`.

mod load;
mod observe;
mod oauth;

use crate::common::cluster::TestCluster;
use load::Load;
use oauth::{Creds, client_token, code_flow, is_active, jti, refresh, revoke, user, userinfo_status, web_client, worker_client};
use observe::{KeyHistory, RelyingParty, gauge, key_states};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn plain_http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client")
}

/// Sorted kids of the JWKS `base` serves.
async fn jwks_kids(http: &reqwest::Client, base: &str) -> Option<Vec<String>> {
    let v: serde_json::Value = http.get(format!("{base}/.well-known/jwks.json")).send().await.ok()?.json().await.ok()?;
    let mut kids: Vec<String> = v["keys"].as_array()?.iter().filter_map(|k| k["kid"].as_str().map(String::from)).collect();
    kids.sort();
    Some(kids)
}

#[actix_web::test]
async fn code_flow_steps_are_served_by_different_nodes() {
    let c = TestCluster::start(3, |_| {}).await;
    let rp = web_client(&c).await;
    user(&c, "alice").await;
    let (tokens, hops) = code_flow(&c, &rp, "alice").await;
    let mut verifier = RelyingParty::new(c.lb("/.well-known/jwks.json"), c.issuer());
    verifier.verify(&tokens.id_token).await.expect("the ID token verifies against the JWKS");
    verifier.verify(&tokens.access_token).await.expect("the access token verifies against the JWKS");
    for (step, hop, node) in &hops {
        eprintln!("[cluster] {step:<9} {hop:<26} served by {node}");
    }
    // Every hop lands on another node than the hop before it: the session, the CSRF cookie, the
    // pending request, the consent and the code all cross nodes.
    for w in hops.windows(2) {
        assert_ne!(w[0].2, w[1].2, "{} and {} were served by the same node", w[0].1, w[1].1);
    }
    // Each step (its final, state-changing request) on another node than the previous step.
    let steps = ["authorize", "login", "consent", "token", "userinfo", "refresh"];
    let by_step: Vec<&str> = steps.iter().map(|s| hops.iter().rev().find(|h| h.0 == *s).map(|h| h.2.as_str()).expect("step")).collect();
    eprintln!("[cluster] steps {steps:?} served by {by_step:?}");
    for (i, w) in by_step.windows(2).enumerate() {
        assert_ne!(w[0], w[1], "{} and {} were served by the same node", steps[i], steps[i + 1]);
    }
    let nodes: BTreeSet<&str> = hops.iter().map(|h| h.2.as_str()).collect();
    let want: BTreeSet<String> = c.nodes.iter().map(|n| format!("node-{}", n.id)).collect();
    assert_eq!(nodes, want.iter().map(String::as_str).collect(), "all three nodes take part");

    // The login was recorded with the browser's address from HAProxy's X-Forwarded-For (the
    // nodes trust 127.0.0.1), not HAProxy's own and not the one the browser made up.
    let db = sea_orm::Database::connect(&c.db_url).await.expect("shared database");
    let start = Instant::now();
    let ip = loop {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let row = tessera_entity::audit_logs::Entity::find()
            .filter(tessera_entity::audit_logs::Column::Action.eq("USER_LOGIN_SUCCESS"))
            .one(&db)
            .await
            .expect("audit query");
        if let Some(r) = row {
            break r.ip_address;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "no login audit row");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("[cluster] login recorded from {ip:?} (browser {}, spoofed X-Forwarded-For {})", oauth::BROWSER_IP, oauth::SPOOFED_IP);
    assert_eq!(ip.as_deref(), Some(oauth::BROWSER_IP));
}

/// Every node caches user rows for `tessera::users::USER_CACHE_TTL` (5 s), and a write on a node
/// empties only that node's cache. A change no node made (written straight to the shared database,
/// as the CLI would) must still be seen by every node within that time: here a deactivation, after
/// which userinfo refuses the user's token on each node.
#[actix_web::test]
async fn a_user_change_reaches_every_node_within_the_user_cache_lifetime() {
    use sea_orm::ConnectionTrait;
    let c = TestCluster::start(2, |_| {}).await;
    let rp = web_client(&c).await;
    user(&c, "dora").await;
    let (t, _) = code_flow(&c, &rp, "dora").await;
    let http = plain_http();
    // Each node answers from its cache after this (the user was read and kept).
    for n in &c.nodes {
        assert_eq!(userinfo_status(&http, &n.url(""), &t.access_token).await, 200, "{} accepts the token", n.name);
    }
    let db = sea_orm::Database::connect(c.db_url.as_str()).await.expect("database");
    db.execute_unprepared("UPDATE users SET is_active = false WHERE username = 'dora'").await.expect("deactivate");
    let changed_at = Instant::now();
    let ttl = tessera::users::USER_CACHE_TTL;
    for n in &c.nodes {
        loop {
            let status = userinfo_status(&http, &n.url(""), &t.access_token).await;
            if status == 401 {
                eprintln!("[cluster] {} refused the deactivated user after {:.0} ms", n.name, changed_at.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            assert_eq!(status, 200, "userinfo on {}", n.name);
            assert!(changed_at.elapsed() < ttl + Duration::from_secs(1), "{} still releases the deactivated user {:?} after the change", n.name, changed_at.elapsed());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[actix_web::test]
async fn revocation_through_one_node_is_refused_by_the_others() {
    let c = TestCluster::start(3, |_| {}).await;
    let rp = web_client(&c).await;
    user(&c, "bob").await;
    let (first, _) = code_flow(&c, &rp, "bob").await;
    // Six access tokens of one user (the flow's, then refreshes); userinfo refuses a token only
    // when the node's replicated revocation set holds it.
    let mut access = vec![first.access_token.clone()];
    let mut rt = first.refresh_token.clone();
    for _ in 0..5 {
        let t = refresh(&c.lb(""), &rp, &rt).await;
        access.push(t.access_token);
        rt = t.refresh_token;
    }
    let leader = c.leader().await.expect("a leader");
    let http = plain_http();
    let rp_creds = Creds { id: rp.id.clone(), secret: rp.secret.clone() };
    let mut times: Vec<(String, String, Duration)> = Vec::new();
    for (i, token) in access.iter().enumerate() {
        let a = &c.nodes[i % 3];
        let others: Vec<_> = c.nodes.iter().filter(|n| n.name != a.name).collect();
        for o in &others {
            assert_eq!(userinfo_status(&http, &o.url(""), token).await, 200, "{} accepts the token before", o.name);
        }
        assert_eq!(revoke(&http, &a.url(""), &rp_creds, token).await, Ok((200, String::new())), "revoked through {}", a.name);
        let revoked_at = Instant::now();
        let polls = others.iter().map(|o| {
            let (http, base) = (http.clone(), o.url(""));
            async move {
                loop {
                    let status = userinfo_status(&http, &base, token).await;
                    if status == 401 {
                        return revoked_at.elapsed();
                    }
                    assert_eq!(status, 200, "userinfo on {base}");
                    assert!(revoked_at.elapsed() < Duration::from_secs(2), "{base} still accepts the token 2 s after the revocation");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        });
        let took = futures::future::join_all(polls).await;
        for (o, t) in others.iter().zip(took) {
            assert!(!is_active(&http, &o.url(""), &rp_creds, token).await, "{} introspects the token as inactive", o.name);
            times.push((a.name.clone(), o.name.clone(), t));
        }
    }
    eprintln!("[cluster] leader: {}", c.nodes[leader].name);
    for (a, o, t) in &times {
        eprintln!("[cluster] revoked through {a}: refused by {o} after {:.1} ms", t.as_secs_f64() * 1000.0);
    }
    let max = times.iter().map(|t| t.2).max().expect("times");
    eprintln!("[cluster] revocation propagation: {} samples, max {:.1} ms", times.len(), max.as_secs_f64() * 1000.0);
}

/// What one relying party saw.
#[derive(Default)]
struct Tally {
    issued: u32,
    issue_errors: u32,
    /// Verification failures by kind.
    failures: BTreeMap<String, u32>,
    /// Verified tokens by signing kid.
    per_kid: BTreeMap<String, u32>,
    fetches: u32,
}

impl Tally {
    fn add(&mut self, t: Tally) {
        self.issued += t.issued;
        self.issue_errors += t.issue_errors;
        self.fetches += t.fetches;
        for (k, n) in t.failures {
            *self.failures.entry(k).or_default() += n;
        }
        for (k, n) in t.per_kid {
            *self.per_kid.entry(k).or_default() += n;
        }
    }
}

#[actix_web::test]
async fn rotation_under_load_has_zero_verification_failures() {
    let c = TestCluster::start(3, |e| {
        for (k, v) in [("KEY_ROTATION_INTERVAL", "4s"), ("JWKS_MAX_AGE", "2"), ("ACCESS_TOKEN_TTL", "3"), ("ID_TOKEN_TTL", "3")] {
            e.insert(k.into(), v.into());
        }
    })
    .await;
    let w = worker_client(&c, "rotation rp").await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut rps = Vec::new();
    for _ in 0..4 {
        let (stop, w, base, issuer) = (stop.clone(), w.clone(), c.lb(""), c.issuer());
        rps.push(actix_web::rt::spawn(async move {
            let http = plain_http();
            let mut rp = RelyingParty::new(format!("{base}/.well-known/jwks.json"), issuer);
            let mut t = Tally::default();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match client_token(&http, &base, &w).await {
                    Ok(token) => {
                        t.issued += 1;
                        match rp.verify(&token).await {
                            Ok(kid) => *t.per_kid.entry(kid).or_default() += 1,
                            Err(f) => *t.failures.entry(format!("{f:?}")).or_default() += 1,
                        }
                    }
                    Err(e) => {
                        t.issue_errors += 1;
                        eprintln!("[cluster] token request failed: {e}");
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            t.fetches = rp.fetches;
            t
        }));
    }
    // Watch every node's key states until each has shown a key go published → active → retired
    // (at least 20 s, at most 60 s).
    let http = plain_http();
    let mut history = KeyHistory::default();
    let start = Instant::now();
    loop {
        for n in &c.nodes {
            if let Some(states) = key_states(&http, &n.metrics_url()).await {
                history.record(&n.name, &states);
            }
        }
        let done = c.nodes.iter().all(|n| !history.full_passes(&n.name).is_empty());
        if done && start.elapsed() >= Duration::from_secs(20) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no full key pass on every node within 60 s: {history:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = Tally::default();
    for h in rps {
        total.add(h.await.expect("relying party"));
    }
    eprintln!(
        "[cluster] {:.1} s of load: {} tokens issued, {} issue errors, {} verification failures, {} JWKS fetches by 4 relying parties",
        start.elapsed().as_secs_f64(),
        total.issued,
        total.issue_errors,
        total.failures.values().sum::<u32>(),
        total.fetches
    );
    eprintln!("[cluster] tokens per signing kid: {:?}", total.per_kid);
    for n in &c.nodes {
        eprintln!("[cluster] {}: full passes published→active→retired: {:?}", n.name, history.full_passes(&n.name));
    }
    history.assert_never_backwards();
    assert!(total.failures.is_empty(), "verification failures: {:?}", total.failures);
    assert_eq!(total.issue_errors, 0, "token requests failed");
    assert!(total.issued > 100, "too little load: {} tokens", total.issued);
    assert!(total.per_kid.len() >= 2, "tokens were signed by more than one key during the run: {:?}", total.per_kid);
}
/// Key states as node `idx` reports them (empty when it does not answer).
async fn states_of(http: &reqwest::Client, c: &TestCluster, idx: usize) -> BTreeMap<String, String> {
    key_states(http, &c.nodes[idx].metrics_url()).await.unwrap_or_default()
}

/// `base` refuses every token in `revoked`: userinfo says 401 (its replicated revocation set holds
/// the jti) and introspection says inactive.
async fn all_refused(http: &reqwest::Client, base: &str, w: &Creds, revoked: &[load::Revoked]) {
    for r in revoked {
        assert_eq!(userinfo_status(http, base, &r.token).await, 401, "{base} refuses revoked {}", jti(&r.token));
        assert!(!is_active(http, base, w, &r.token).await, "{base} introspects revoked token as inactive");
    }
}

#[actix_web::test]
async fn leader_sigkill_under_load_then_restart_and_late_join() {
    let mut c = TestCluster::start(3, |e| {
        for (k, v) in [("KEY_ROTATION_INTERVAL", "3s"), ("JWKS_MAX_AGE", "1"), ("ACCESS_TOKEN_TTL", "10m")] {
            e.insert(k.into(), v.into());
        }
    })
    .await;
    let w = worker_client(&c, "failover rp").await;
    let http = plain_http();
    let mut load = Load::start(c.lb(""), w.clone(), 3);
    tokio::time::sleep(Duration::from_secs(3)).await;

    let leader = c.leader().await.expect("a leader");
    let killed_id = c.nodes[leader].id;
    let survivors: Vec<usize> = (0..c.nodes.len()).filter(|i| *i != leader).collect();
    let kids_before: BTreeSet<String> = states_of(&http, &c, survivors[0]).await.into_keys().collect();
    let t_kill = Instant::now();
    c.nodes[leader].signal_and_wait("-KILL");
    eprintln!("[cluster] SIGKILL {} (the leader, node id {killed_id})", c.nodes[leader].name);

    // A new leader among the survivors (their `tessera_raft_leader` gauge), and HAProxy's health
    // checks taking the dead node out: whichever comes first, both are timed.
    let dead = c.nodes[leader].name.clone();
    let (mut elected, mut taken_out) = (None, None);
    while elected.is_none() || taken_out.is_none() {
        if elected.is_none() {
            let mut leaders = Vec::new();
            for &i in &survivors {
                leaders.push(gauge(&http, &c.nodes[i].metrics_url(), "tessera_raft_leader").await.map(|l| l as u64));
            }
            if leaders.iter().all(|l| l.is_some_and(|l| l != 0 && l != killed_id) && *l == leaders[0]) {
                elected = Some((t_kill.elapsed(), leaders[0].unwrap_or_default()));
            }
        }
        if taken_out.is_none() && c.backend().iter().any(|s| s.name == dead && s.status.starts_with("DOWN")) {
            taken_out = Some(t_kill.elapsed());
        }
        assert!(t_kill.elapsed() < Duration::from_secs(20), "20 s after the kill: leader {elected:?}, haproxy {:?}", c.backend());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (election, new_leader) = elected.unwrap_or_default();
    eprintln!("[cluster] new leader: node id {new_leader}, agreed by both survivors {:.0} ms after the kill", election.as_secs_f64() * 1000.0);
    eprintln!("[cluster] haproxy marked {dead} DOWN {:.0} ms after the kill", taken_out.unwrap_or_default().as_secs_f64() * 1000.0);
    let status = c.nodes[survivors[0]].status().await.expect("cluster status");
    assert_eq!(status["leader"].as_u64(), Some(new_leader), "`tessera cluster status` agrees: {status}");

    // Rotation continues under the new leader: a key that did not exist at the kill activates,
    // on every survivor.
    let new_kid = loop {
        let states = states_of(&http, &c, survivors[0]).await;
        let other = states_of(&http, &c, survivors[1]).await;
        let fresh = states.iter().find(|(k, s)| *s == "active" && !kids_before.contains(*k) && other.get(*k) == Some(*s));
        if let Some((kid, _)) = fresh {
            break kid.clone();
        }
        assert!(t_kill.elapsed() < Duration::from_secs(30), "no new key activated 30 s after the kill: {states:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("[cluster] new key {new_kid} active {:.1} s after the kill", t_kill.elapsed().as_secs_f64());
    // Keep the load a little longer, so the window after the failover is measured too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.stop().await;

    let outcomes = load.outcomes();
    let before: Vec<_> = outcomes.iter().filter(|o| o.at < t_kill).collect();
    let after: Vec<_> = outcomes.iter().filter(|o| o.at >= t_kill).collect();
    let failed: Vec<_> = after.iter().filter(|o| o.error.is_some()).collect();
    assert!(before.iter().all(|o| o.error.is_none()), "errors before the kill: {:?}", before.iter().filter(|o| o.error.is_some()).collect::<Vec<_>>());
    let window = failed.last().map(|o| o.at - t_kill).unwrap_or_default();
    eprintln!(
        "[cluster] load: {} requests before the kill (0 errors), {} after; {} failed, all within {:.0} ms of the kill",
        before.len(),
        after.len(),
        failed.len(),
        window.as_secs_f64() * 1000.0
    );
    let mut kinds: BTreeMap<String, u32> = BTreeMap::new();
    for o in &failed {
        *kinds.entry(format!("{}: {}", o.what, o.error.as_deref().unwrap_or_default().chars().take(200).collect::<String>())).or_default() += 1;
    }
    for (k, n) in &kinds {
        eprintln!("[cluster]   {n} × {k}");
    }
    assert!(window < Duration::from_secs(12), "errors went on for {window:?} after the kill");
    assert!(after.iter().filter(|o| o.at - t_kill > window).count() > 20, "the load succeeded after the error window");

    // Every revocation confirmed before the kill is refused by every live node.
    let revoked = load.revoked();
    let before_kill: Vec<_> = revoked.iter().filter(|r| r.at < t_kill).collect();
    assert!(before_kill.len() >= 5, "revocations before the kill: {}", before_kill.len());
    eprintln!("[cluster] {} revocations confirmed before the kill, {} in all", before_kill.len(), revoked.len());
    for &i in &survivors {
        all_refused(&http, &c.nodes[i].url(""), &w, &revoked).await;
    }
    // A token that was never revoked is still accepted (403 = valid token, no openid scope).
    let fresh = client_token(&http, &c.lb(""), &w).await.expect("token after failover");
    assert_eq!(userinfo_status(&http, &c.nodes[survivors[0]].url(""), &fresh).await, 403);

    // The killed node restarts, catches up from its log and snapshot and serves the same keys.
    let t_restart = Instant::now();
    c.nodes[leader].spawn();
    c.nodes[leader].wait_ready().await;
    let same = loop {
        let mine = jwks_kids(&http, &c.nodes[leader].url("")).await;
        let theirs = jwks_kids(&http, &c.nodes[survivors[0]].url("")).await;
        if mine.is_some() && mine == theirs {
            break mine;
        }
        assert!(t_restart.elapsed() < Duration::from_secs(20), "restarted node's JWKS {mine:?} != {theirs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("[cluster] {} restarted and serves the same JWKS ({} keys) after {:.1} s", c.nodes[leader].name, same.map_or(0, |k| k.len()), t_restart.elapsed().as_secs_f64());
    all_refused(&http, &c.nodes[leader].url(""), &w, &revoked).await;

    // A fourth node joins later and receives every key and every revocation.
    let t_join = Instant::now();
    let fourth = c.add_node(Some(survivors[0]));
    c.nodes[fourth].wait_ready().await;
    loop {
        let mine = states_of(&http, &c, fourth).await;
        let theirs = states_of(&http, &c, survivors[0]).await;
        let revs = (
            gauge(&http, &c.nodes[fourth].metrics_url(), "tessera_revocations").await,
            gauge(&http, &c.nodes[survivors[0]].metrics_url(), "tessera_revocations").await,
        );
        if !mine.is_empty() && mine == theirs && revs.0.is_some() && revs.0 == revs.1 {
            eprintln!("[cluster] {} joined: {} keys (every state) and {:?} revocations, like the others, after {:.1} s", c.nodes[fourth].name, mine.len(), revs.0, t_join.elapsed().as_secs_f64());
            break;
        }
        assert!(t_join.elapsed() < Duration::from_secs(30), "fourth node never matched: {mine:?} vs {theirs:?}, revocations {revs:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    all_refused(&http, &c.nodes[fourth].url(""), &w, &revoked).await;
    let members = c.nodes[fourth].status().await.expect("status")["members"].as_array().map_or(0, |m| m.len());
    assert_eq!(members, 4, "four voters");
}

#[actix_web::test]
async fn without_quorum_writes_answer_503_and_reads_keep_working() {
    let mut c = TestCluster::start(3, |_| {}).await;
    let w = worker_client(&c, "quorum rp").await;
    let http = plain_http();
    // The leader survives: the case where nothing changes locally when the others go away.
    let s = c.leader().await.expect("a leader");
    let survivor = c.nodes[s].url("");
    let before = client_token(&http, &survivor, &w).await.expect("token");
    let kid_before = jsonwebtoken::decode_header(&before).expect("header").kid;
    for i in (0..3).filter(|i| *i != s) {
        c.nodes[i].signal_and_wait("-TERM");
    }
    let t_stop = Instant::now();
    eprintln!("[cluster] stopped two followers; {} (the leader) survives", c.nodes[s].name);

    // /health reports the cluster without a leader, with 503.
    let health = loop {
        let res = http.get(format!("{survivor}/health")).send().await.expect("health");
        let status = res.status().as_u16();
        let body: serde_json::Value = res.json().await.expect("health json");
        if status == 503 {
            break body;
        }
        assert!(t_stop.elapsed() < Duration::from_secs(10), "/health still {status} 10 s without quorum: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("[cluster] /health 503 after {:.1} s: {health}", t_stop.elapsed().as_secs_f64());
    assert_eq!(health["dependencies"]["cluster"], "no_leader", "{health}");
    assert_eq!(health["dependencies"]["database"], "up", "{health}");

    // Writes: revocation answers 503 temporarily_unavailable within ~5 s.
    let t = Instant::now();
    let answer = revoke(&http, &survivor, &w, &before).await.expect("revoke answered");
    eprintln!("[cluster] revocation without quorum: {answer:?} after {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(answer, (503, "temporarily_unavailable".to_string()));
    assert!(t.elapsed() < Duration::from_secs(7), "revocation took {:?}", t.elapsed());
    // `tessera keys rotate` fails clearly.
    let t = Instant::now();
    let out = c.nodes[s].cli(&["keys", "rotate"]).await;
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    eprintln!("[cluster] `tessera keys rotate` without quorum after {:.1} s: {}", t.elapsed().as_secs_f64(), err.trim());
    assert!(!out.status.success(), "keys rotate must fail without quorum");
    assert!(err.contains("unavailable"), "a clear error: {err}");

    // Reads: token issuance with the current key, introspection, JWKS.
    let token = client_token(&http, &survivor, &w).await.expect("token issuance keeps working");
    assert_eq!(jsonwebtoken::decode_header(&token).expect("header").kid, kid_before, "signed with the current key");
    assert!(is_active(&http, &survivor, &w, &token).await, "introspection keeps working");
    let mut rp = RelyingParty::new(format!("{survivor}/.well-known/jwks.json"), c.issuer());
    assert!(rp.verify(&token).await.is_ok(), "JWKS keeps working and verifies the token");
    let t = Instant::now();
    assert_eq!(userinfo_status(&http, &survivor, &token).await, 403, "a valid token without openid");
    assert!(t.elapsed() < Duration::from_secs(2));
}
