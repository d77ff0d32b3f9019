//! `/health` (the seed's JSON, 503 when a dependency is down) and `/ready` (for load balancers).

use crate::state::AppState;
use actix_web::{HttpResponse, web};
use sea_orm::ConnectionTrait;
use serde_json::json;

async fn database_up(state: &AppState) -> bool {
    let ping = state.db.execute_unprepared("SELECT 1");
    matches!(tokio::time::timeout(std::time::Duration::from_secs(2), ping).await, Ok(Ok(_)))
}

fn cluster_state(state: &AppState) -> &'static str {
    let status = state.ring.cluster().status();
    match status.leader {
        Some(l) if l == status.node_id => "leader",
        Some(_) => "follower",
        None => "no_leader",
    }
}

pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let db_up = database_up(&state).await;
    let cluster = cluster_state(&state);
    let cache = if state.settings.redis_url.is_some() { "configured" } else { "not_configured" };
    let healthy = db_up && cluster != "no_leader";
    let body = json!({
        "status": if healthy { "healthy" } else { "unhealthy" },
        "service": "tessera",
        "version": env!("CARGO_PKG_VERSION"),
        "timestamp": state.clock.now().to_rfc3339(),
        "node": &*state.node_name,
        "dependencies": {
            "database": if db_up { "up" } else { "down" },
            "cache": cache,
            "cluster": cluster,
        }
    });
    if healthy { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Ready when the database answers and this node holds a signing key.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let signer = state.ring.signer(state.settings.jwt_algorithm.as_str()).is_some();
    if signer && database_up(&state).await {
        HttpResponse::Ok().json(json!({ "ready": true }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({ "ready": false }))
    }
}
