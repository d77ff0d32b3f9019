//! The operator's view of the key set (`tessera keys list`, the admin API): never private parts.

use serde_json::{Value, json};
use tessera_cluster::KeyRecord;

fn ts(t: Option<i64>) -> Value {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(|d| json!(d.to_rfc3339())).unwrap_or(Value::Null)
}

pub fn list(keys: &[KeyRecord]) -> Vec<Value> {
    keys.iter()
        .map(|k| {
            json!({
                "kid": k.kid,
                "alg": k.alg,
                "state": format!("{:?}", k.state).to_lowercase(),
                "created_at": ts(Some(k.created_at)),
                "activated_at": ts(k.activated_at),
                "retired_at": ts(k.retired_at),
            })
        })
        .collect()
}

/// A fixed-width table for the terminal.
pub fn table(keys: &[Value]) -> String {
    let mut out = format!("{:<44} {:<6} {:<10} {}\n", "KID", "ALG", "STATE", "CREATED");
    for k in keys {
        let s = |f: &str| k[f].as_str().unwrap_or("-").to_string();
        out.push_str(&format!("{:<44} {:<6} {:<10} {}\n", s("kid"), s("alg"), s("state"), s("created_at")));
    }
    out
}
