//! `/api/v2/keys` and `/api/v2/system/config`: the signing key set (public metadata only), key
//! rotation through the key actor, and the effective configuration with every secret redacted.

use super::ctx::{Ctx, ok};
use super::error::ApiError;
use actix_web::HttpResponse;
use serde_json::{Map, Value, json};
use tessera_actors::audit::Severity;
use tessera_actors::keys::{KeyError, Rotate};

pub async fn keys(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let keys = ctx.state.ring.cluster().keys();
    Ok(ok(json!({ "keys": crate::keys_view::list(&keys) })))
}

pub async fn rotate_keys(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    let kids = match ctx.state.keys.send(Rotate).await {
        Ok(Ok(kids)) => kids,
        Ok(Err(KeyError::Cluster(e))) => return Err(e.into()),
        Ok(Err(KeyError::Generate(e))) => {
            tracing::error!(error = %e, "key generation failed");
            return Err(ApiError::Internal);
        }
        Err(e) => {
            tracing::error!(error = %e, "key actor unreachable");
            return Err(ApiError::Unavailable("the key service is unavailable".into()));
        }
    };
    ctx.record(ctx.event("KEYS_ROTATED", Severity::Critical).resource("keys", kids.join(",")).details(json!({ "published": kids }))).await;
    Ok(HttpResponse::Accepted().json(json!({
        "published": kids,
        "note": "the new keys are in the JWKS now and start signing once every JWKS cache has seen them (JWKS max-age)",
    })))
}

/// `KEY = value` lines of `Settings::redacted` as a JSON object.
pub fn config_object(redacted: &str) -> Value {
    let mut map = Map::new();
    for line in redacted.lines() {
        if let Some((k, v)) = line.split_once(" = ") {
            map.insert(k.trim().to_string(), json!(v.trim()));
        }
    }
    Value::Object(map)
}

pub async fn config(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    Ok(ok(json!({ "config": config_object(&ctx.state.settings.redacted()), "permission_cache": if ctx.state.permissions.uses_redis() { "redis" } else { "in-process" } })))
}
