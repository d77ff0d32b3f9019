//! Request validation: a JSON-object reader and a query reader that collect every field error
//! at once (`400 validation_failed` with `details: [{field, message}]`), instead of stopping at
//! the first like serde would. Unknown body fields are rejected, so a typo never silently does
//! nothing.

use super::error::{ApiError, FieldError};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

/// Which characters a field may hold, and how to say so in an error.
pub type CharRule = (fn(char) -> bool, &'static str);

/// Length bounds (in characters) and an allowed-character rule for a text field.
#[derive(Clone, Copy)]
pub struct Text {
    pub min: usize,
    pub max: usize,
    pub allowed: Option<CharRule>,
}

impl Text {
    pub const fn len(min: usize, max: usize) -> Text {
        Text { min, max, allowed: None }
    }
    pub const fn chars(min: usize, max: usize, f: fn(char) -> bool, what: &'static str) -> Text {
        Text { min, max, allowed: Some((f, what)) }
    }
    fn check(&self, s: &str) -> Result<(), String> {
        let n = s.chars().count();
        if n < self.min || n > self.max {
            return Err(if self.min == self.max { format!("must be {} characters", self.min) } else { format!("must be {}-{} characters", self.min, self.max) });
        }
        if s.chars().any(|c| c.is_control()) {
            return Err("must not contain control characters".into());
        }
        if let Some((f, what)) = self.allowed
            && !s.chars().all(f)
        {
            return Err(format!("may contain only {what}"));
        }
        Ok(())
    }
}

/// Plain-text fields (names, descriptions).
pub const NAME: Text = Text::len(1, 200);
pub const DESCRIPTION: Text = Text::len(0, 1000);

/// Reads a JSON object body field by field.
pub struct Body {
    obj: Map<String, Value>,
    seen: BTreeSet<&'static str>,
    errors: Vec<FieldError>,
}

impl Body {
    pub fn parse(bytes: &[u8]) -> Result<Body, ApiError> {
        let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice(bytes).map_err(|e| ApiError::field("body", format!("is not valid JSON: {e}")))?
        };
        match value {
            Value::Object(obj) => Ok(Body { obj, seen: BTreeSet::new(), errors: Vec::new() }),
            _ => Err(ApiError::field("body", "must be a JSON object")),
        }
    }

    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// `None` if absent, `Some(Value::Null)` if explicitly null.
    fn take(&mut self, field: &'static str) -> Option<Value> {
        self.seen.insert(field);
        self.obj.get(field).cloned()
    }

    pub fn has(&self, field: &str) -> bool {
        self.obj.contains_key(field)
    }

    /// A string the request must carry.
    pub fn required_str(&mut self, field: &'static str, rule: Text) -> Option<String> {
        match self.take(field) {
            None | Some(Value::Null) => {
                self.error(field, "is required");
                None
            }
            Some(v) => self.text(field, v, rule),
        }
    }

    /// A string that may be absent (`None`); null counts as absent.
    pub fn opt_str(&mut self, field: &'static str, rule: Text) -> Option<String> {
        match self.take(field) {
            None | Some(Value::Null) => None,
            Some(v) => self.text(field, v, rule),
        }
    }

    /// For updates: absent = `None` (leave as is), null or "" = `Some(None)` (clear), else `Some(Some(v))`.
    pub fn nullable_str(&mut self, field: &'static str, rule: Text) -> Option<Option<String>> {
        match self.take(field) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) if s.is_empty() => Some(None),
            Some(v) => self.text(field, v, rule).map(Some),
        }
    }

    fn text(&mut self, field: &'static str, v: Value, rule: Text) -> Option<String> {
        let Value::String(s) = v else {
            self.error(field, "must be a string");
            return None;
        };
        match rule.check(&s) {
            Ok(()) => Some(s),
            Err(m) => {
                self.error(field, m);
                None
            }
        }
    }

    pub fn opt_bool(&mut self, field: &'static str) -> Option<bool> {
        match self.take(field) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => {
                self.error(field, "must be true or false");
                None
            }
        }
    }

    /// A list of strings, each checked with `rule`, at most `max` items, duplicates removed.
    pub fn opt_str_list(&mut self, field: &'static str, rule: Text, max: usize) -> Option<Vec<String>> {
        let v = match self.take(field) {
            None | Some(Value::Null) => return None,
            Some(v) => v,
        };
        let Value::Array(items) = v else {
            self.error(field, "must be an array of strings");
            return None;
        };
        if items.len() > max {
            self.error(field, format!("must have at most {max} items"));
            return None;
        }
        let mut out: Vec<String> = Vec::new();
        let mut ok = true;
        for (i, item) in items.into_iter().enumerate() {
            let name = format!("{field}[{i}]");
            match item {
                Value::String(s) => match rule.check(&s) {
                    Ok(()) if !out.contains(&s) => out.push(s),
                    Ok(()) => {}
                    Err(m) => {
                        self.error(name, m);
                        ok = false;
                    }
                },
                _ => {
                    self.error(name, "must be a string");
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    pub fn required_str_list(&mut self, field: &'static str, rule: Text, max: usize) -> Option<Vec<String>> {
        if !self.has(field) || self.obj.get(field).is_some_and(Value::is_null) {
            self.seen.insert(field);
            self.error(field, "is required");
            return None;
        }
        self.opt_str_list(field, rule, max)
    }

    /// An RFC 3339 instant; absent = `None`, null = `Some(None)`.
    pub fn nullable_time(&mut self, field: &'static str) -> Option<Option<DateTime<Utc>>> {
        match self.take(field) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => match DateTime::parse_from_rfc3339(&s) {
                Ok(t) => Some(Some(t.with_timezone(&Utc))),
                Err(_) => {
                    self.error(field, "must be an RFC 3339 date-time, e.g. 2030-01-31T12:00:00Z");
                    None
                }
            },
            Some(_) => {
                self.error(field, "must be an RFC 3339 date-time string");
                None
            }
        }
    }

    /// Rejects unknown fields; returns every error collected.
    pub fn finish(mut self) -> Result<(), ApiError> {
        let unknown: Vec<String> = self.obj.keys().filter(|k| !self.seen.contains(k.as_str())).cloned().collect();
        for k in unknown {
            self.errors.push(FieldError::new(k, "is not a known field"));
        }
        if self.errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(self.errors)) }
    }
}

/// Reads query parameters (unknown ones are ignored, as is customary for GET).
pub struct Query {
    params: HashMap<String, String>,
    errors: Vec<FieldError>,
}

/// Default and maximum page size.
pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;

impl Query {
    pub fn parse(query_string: &str) -> Query {
        let params = url::form_urlencoded::parse(query_string.as_bytes()).into_owned().collect();
        Query { params, errors: Vec::new() }
    }

    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// A non-empty value, trimmed; at most `max` characters.
    pub fn opt_str(&mut self, name: &str, max: usize) -> Option<String> {
        let v = self.params.get(name)?.trim().to_string();
        if v.is_empty() {
            return None;
        }
        if v.chars().count() > max {
            self.error(name, format!("must be at most {max} characters"));
            return None;
        }
        Some(v)
    }

    pub fn opt_one_of(&mut self, name: &str, allowed: &[&str]) -> Option<String> {
        let v = self.opt_str(name, 64)?;
        if allowed.contains(&v.as_str()) {
            Some(v)
        } else {
            self.error(name, format!("must be one of {}", allowed.join(", ")));
            None
        }
    }

    pub fn opt_bool(&mut self, name: &str) -> Option<bool> {
        match self.opt_str(name, 8)?.as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => {
                self.error(name, "must be true or false");
                None
            }
        }
    }

    fn number(&mut self, name: &str, min: u64, max: u64, default: u64) -> u64 {
        let Some(v) = self.opt_str(name, 20) else { return default };
        match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                self.error(name, format!("must be an integer from {min} to {max}"));
                default
            }
        }
    }

    /// `page` (from 1) and `limit` (1..=100, default 20).
    pub fn page(&mut self) -> Page {
        let page = self.number("page", 1, 1_000_000, 1);
        let limit = self.number("limit", 1, MAX_LIMIT, DEFAULT_LIMIT);
        Page { page, limit }
    }

    pub fn opt_time(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let v = self.opt_str(name, 64)?;
        match DateTime::parse_from_rfc3339(&v) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                self.error(name, "must be an RFC 3339 date-time, e.g. 2030-01-31T12:00:00Z");
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(self.errors)) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: u64,
    pub limit: u64,
}

impl Page {
    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.limit
    }
    /// The `pagination` object of list responses.
    pub fn describe(&self, total: u64) -> Value {
        serde_json::json!({ "page": self.page, "limit": self.limit, "total": total, "pages": total.div_ceil(self.limit) })
    }
}

/// A very small e-mail check: one `@`, something on both sides, a dot in the domain, no spaces.
pub fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@') && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_collects_every_error_and_rejects_unknown_fields() {
        let mut b = Body::parse(br#"{"name": 5, "extra": 1, "list": ["ok", 3]}"#).unwrap();
        assert!(b.required_str("name", NAME).is_none());
        assert!(b.required_str("missing", NAME).is_none());
        assert!(b.opt_str_list("list", NAME, 10).is_none());
        let Err(ApiError::Validation(d)) = b.finish() else { panic!("expected validation error") };
        let fields: Vec<&str> = d.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "missing", "list[1]", "extra"]);
    }

    #[test]
    fn query_bounds_page_and_limit() {
        let mut q = Query::parse("page=0&limit=500");
        q.page();
        assert!(q.finish().is_err());
        let mut q = Query::parse("page=3&limit=10");
        let p = q.page();
        assert_eq!((p.offset(), p.limit), (20, 10));
        assert!(q.finish().is_ok());
    }

    #[test]
    fn emails() {
        assert!(looks_like_email("a@b.example"));
        for bad in ["a", "@b.c", "a@b", "a b@c.d", "a@@b.c", "a@.b"] {
            assert!(!looks_like_email(bad), "{bad}");
        }
    }
}
