//! How values read on console pages: times in UTC to the minute with a relative hint, lists,
//! and audit details as short `key: value` text.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// `2026-11-30 16:47 UTC`.
pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `2026-11-30 16:47:05` (audit rows, where seconds matter).
pub fn when_precise(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub fn opt_when(t: Option<DateTime<Utc>>) -> String {
    t.map(when).unwrap_or_else(|| "\u{2014}".into())
}

/// `just now`, `5 min ago`, `3 h ago`, `2 days ago`, or `in 4 days` for the future.
pub fn relative(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let (future, s) = (secs < 0, secs.unsigned_abs());
    // Rounded to the nearest unit: an expiry set 30 days ahead reads "in 30 days" a second later.
    let round = |unit: u64| (s + unit / 2) / unit;
    let span = match s {
        0..=59 => return if future { "in under a minute".into() } else { "just now".into() },
        60..=3569 => format!("{} min", round(60)),
        3570..=84_599 => format!("{} h", round(3600)),
        _ if round(86_400) == 1 => "1 day".into(),
        _ => format!("{} days", round(86_400)),
    };
    if future { format!("in {span}") } else { format!("{span} ago") }
}

/// The value of an HTML `datetime-local` input for `t` (UTC).
pub fn datetime_local(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M").to_string()
}

/// Reads a `datetime-local` value (`2030-01-31T12:00`, seconds optional) as UTC, or an RFC 3339 instant.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
        .map(|n| n.and_utc())
}

/// A JSON array of strings stored in a column, as a Vec.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// Audit details as `key: value` lines, each at most ~400 characters.
pub fn details(v: Option<&Value>) -> Vec<String> {
    let Some(Value::Object(map)) = v else {
        return v.filter(|v| !v.is_null()).map(|v| vec![clip(&v.to_string(), 400)]).unwrap_or_default();
    };
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{k}: {}", clip(&text, 400))
        })
        .collect()
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}\u{2026}", s.chars().take(max).collect::<String>()) }
}

/// Initials for the avatar: first letters of the first two words, or the first two letters.
pub fn initials(name: &str) -> String {
    let words: Vec<&str> = name.split(|c: char| c.is_whitespace() || c == '.' || c == '_' || c == '-').filter(|w| !w.is_empty()).collect();
    let s: String = match words.as_slice() {
        [a, b, ..] => a.chars().take(1).chain(b.chars().take(1)).collect(),
        [a] => a.chars().take(2).collect(),
        [] => "?".into(),
    };
    s.to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_well() {
        let t = DateTime::parse_from_rfc3339("2030-01-31T12:05:09Z").unwrap().with_timezone(&Utc);
        assert_eq!(when(t), "2030-01-31 12:05 UTC");
        assert_eq!(relative(t, t - chrono::Duration::minutes(5)), "5 min ago");
        assert_eq!(relative(t, t + chrono::Duration::days(3)), "in 3 days");
        assert_eq!(parse_datetime("2030-01-31T12:05"), Some(t - chrono::Duration::seconds(9)));
        assert_eq!(parse_datetime("2030-01-31T12:05:09Z"), Some(t));
        assert_eq!(parse_datetime("tomorrow"), None);
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("root"), "RO");
    }
}
