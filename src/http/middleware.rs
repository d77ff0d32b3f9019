//! Middleware for every response: a request id span on every log line, the serving node's name,
//! and security headers.

use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;

pub async fn common(req: ServiceRequest, next: Next<impl MessageBody>) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string());
    let node = req.app_data::<web::Data<AppState>>().map(|s| s.node_name.clone());
    let started = std::time::Instant::now();
    let route: &'static str = route_label(&req);
    let span = tracing::info_span!("request", request_id = %request_id, method = %req.method(), path = %req.path());
    let mut res = next.call(req).instrument(span.clone()).await?;
    span.in_scope(|| tracing::debug!(status = res.status().as_u16(), "response"));
    crate::metrics::HTTP_REQUESTS.inc(route, res.status().as_u16());
    crate::metrics::HTTP_DURATION_S.observe(started.elapsed().as_secs_f64());
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert(HeaderName::from_static("x-request-id"), v);
    }
    if let Some(node) = node.and_then(|n| HeaderValue::from_str(&n).ok()) {
        h.insert(HeaderName::from_static("x-tessera-node"), node);
    }
    for (k, v) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        let name = HeaderName::from_static(k);
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(v));
        }
    }
    Ok(res)
}

/// The matched route pattern as a static label (bounded cardinality: unknown paths share one label).
fn route_label(req: &ServiceRequest) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static LABELS: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let Some(pattern) = req.match_pattern() else { return "unmatched" };
    let labels = LABELS.get_or_init(|| Mutex::new(HashSet::new()));
    let Ok(mut set) = labels.lock() else { return "unmatched" };
    if let Some(l) = set.get(pattern.as_str()) {
        return l;
    }
    if set.len() >= 256 {
        return "other";
    }
    // Route patterns come from the route table, so this leaks a bounded, small set of strings once.
    let leaked: &'static str = Box::leak(pattern.into_boxed_str());
    set.insert(leaked);
    leaked
}
