//! `GET /api/v2/openapi.json`: the OpenAPI 3.1 document, generated from the route table (never
//! written by hand, so it cannot drift from what is served and enforced).

use super::ctx::{Ctx, ok};
use super::error::ApiError;
use super::routes::{Access, ROUTES, Route};
use actix_web::HttpResponse;
use serde_json::{Map, Value, json};

fn path_params(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect()
}

fn operation_id(r: &Route) -> String {
    let mut id = r.verb.as_str().to_lowercase();
    for seg in r.path.trim_start_matches("/api/v2/").split('/') {
        id.push('_');
        id.push_str(&seg.replace(['{', '}'], "").replace(['-', '.'], "_"));
    }
    id
}

fn error_ref(name: &str, description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } } })
}

fn operation(r: &Route) -> Value {
    let mut params: Vec<Value> = path_params(r.path)
        .into_iter()
        .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    params.extend(r.query.iter().map(|(name, desc)| json!({ "name": name, "in": "query", "required": false, "description": desc, "schema": { "type": "string" } })));

    let mut responses = Map::new();
    let success = match (r.response, r.path.ends_with("/export") && r.tag == "audit") {
        (Some(schema), _) => json!({ "description": "Success", "content": { "application/json": { "schema": schema() } } }),
        (None, true) => json!({ "description": "CSV", "content": { "text/csv": { "schema": { "type": "string" } } } }),
        (None, false) => json!({ "description": "Success" }),
    };
    responses.insert(r.status.to_string(), success);
    if r.request.is_some() || !r.query.is_empty() {
        responses.insert("400".into(), error_ref("ValidationError", "Invalid request fields"));
    }
    if r.access != Access::Public {
        responses.insert("401".into(), error_ref("Error", "Missing, invalid, expired or revoked access token; or inactive user"));
    }
    match r.access {
        Access::Public => {}
        Access::User => {
            responses.insert("403".into(), error_ref("Error", "The access token lacks the admin scope (insufficient_scope)"));
        }
        Access::Permission(_) => {
            responses.insert("403".into(), error_ref("Forbidden", "The access token lacks the admin scope (insufficient_scope), or the caller lacks the required permission"));
        }
    }
    if !path_params(r.path).is_empty() {
        responses.insert("404".into(), error_ref("Error", "Not found"));
    }
    responses.insert("503".into(), error_ref("Error", "A dependency (database, cluster) is unavailable"));

    let mut op = json!({
        "operationId": operation_id(r),
        "summary": r.summary,
        "tags": [r.tag],
        "parameters": params,
        "responses": responses,
    });
    match r.access {
        Access::Public => op["security"] = json!([]),
        Access::User => op["security"] = json!([{ "bearer": [] }]),
        Access::Permission(p) => {
            op["security"] = json!([{ "bearer": [] }]);
            op["x-required-permission"] = json!(p);
        }
    }
    if let Some(schema) = r.request {
        op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": schema() } } });
    }
    op
}

/// The whole document for a server whose issuer is `issuer`.
pub fn build(issuer: &str) -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.verb.as_str().to_lowercase()] = operation(r);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tessera admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Management API of the Tessera authorization server. Every route but this document needs an RFC 9068 access token of an active user carrying the admin scope; most also a named permission (x-required-permission).",
        },
        "servers": [{ "url": issuer }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "schemas": {
                "Error": { "type": "object", "properties": { "error": { "type": "string" }, "error_description": { "type": "string" } }, "required": ["error"] },
                "Forbidden": { "type": "object", "properties": { "error": { "enum": ["forbidden", "insufficient_scope"] }, "error_description": { "type": "string" }, "required_permission": { "type": "string" } }, "required": ["error"] },
                "ValidationError": {
                    "type": "object",
                    "properties": {
                        "error": { "const": "validation_failed" },
                        "details": { "type": "array", "items": { "type": "object", "properties": { "field": { "type": "string" }, "message": { "type": "string" } }, "required": ["field", "message"] } }
                    },
                    "required": ["error", "details"]
                }
            }
        }
    })
}

pub async fn document(ctx: Ctx) -> Result<HttpResponse, ApiError> {
    Ok(ok(build(&ctx.state.issuer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_appears_once_with_its_permission() {
        let doc = build("https://issuer.example");
        for r in ROUTES {
            let op = &doc["paths"][r.path][r.verb.as_str().to_lowercase()];
            assert_eq!(op["summary"], r.summary, "{} {}", r.verb.as_str(), r.path);
            assert_eq!(op["x-required-permission"].as_str(), r.access.permission());
        }
        let ops: usize = doc["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(ops, ROUTES.len());
    }
}
