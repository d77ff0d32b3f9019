//! Background load through HAProxy: workers issuing client_credentials tokens and a revoker
//! issuing-then-revoking, each outcome recorded with its time, until told to stop.

use super::oauth::{Creds, client_token, revoke};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request's outcome.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub at: Instant,
    pub what: &'static str,
    pub error: Option<String>,
}

/// A revocation the server confirmed (200), with the time the confirmation arrived.
#[derive(Clone, Debug)]
pub struct Revoked {
    pub at: Instant,
    pub token: String,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub outcomes: Arc<Mutex<Vec<Outcome>>>,
    pub revoked: Arc<Mutex<Vec<Revoked>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Load {
    /// Starts `issuers` token workers and one revoker against `base` (HAProxy).
    pub fn start(base: String, client: Creds, issuers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let revoked = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        let http = || reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
        for _ in 0..issuers {
            let (stop, outcomes, base, client, http) = (stop.clone(), outcomes.clone(), base.clone(), client.clone(), http());
            tasks.push(actix_web::rt::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let r = client_token(&http, &base, &client).await;
                    lock(&outcomes).push(Outcome { at: Instant::now(), what: "token", error: r.err() });
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
        }
        let (stop2, outcomes2, revoked2) = (stop.clone(), outcomes.clone(), revoked.clone());
        let http = http();
        tasks.push(actix_web::rt::spawn(async move {
            while !stop2.load(Ordering::Relaxed) {
                let token = match client_token(&http, &base, &client).await {
                    Ok(t) => t,
                    Err(e) => {
                        lock(&outcomes2).push(Outcome { at: Instant::now(), what: "token for revocation", error: Some(e) });
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let error = match revoke(&http, &base, &client, &token).await {
                    Ok((200, _)) => {
                        lock(&revoked2).push(Revoked { at: Instant::now(), token });
                        None
                    }
                    Ok((status, code)) => Some(format!("{status} {code}")),
                    Err(e) => Some(e),
                };
                lock(&outcomes2).push(Outcome { at: Instant::now(), what: "revoke", error });
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
        Load { stop, tasks, outcomes, revoked }
    }

    /// Stops every worker and waits for their last requests.
    pub async fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }

    pub fn outcomes(&self) -> Vec<Outcome> {
        lock(&self.outcomes).clone()
    }

    pub fn revoked(&self) -> Vec<Revoked> {
        lock(&self.revoked).clone()
    }
}
