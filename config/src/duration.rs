//! Duration syntax shared by every TTL-like setting: an integer number of
//! seconds (`90`) or a number with a unit suffix `s`, `m`, `h` or `d`
//! (`90s`, `15m`, `12h`, `7d`).

use std::time::Duration;

/// Longest accepted duration (3650 days). Larger values would risk overflow
/// when added to timestamps elsewhere in the server.
pub(crate) const MAX_SECS: u64 = 3650 * 86_400;

/// Parses `90`, `90s`, `15m`, `12h` or `7d` into a [`Duration`].
///
/// The error message describes the expected syntax but does not repeat the
/// input (callers add it, so that secrets are never echoed).
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    const SYNTAX: &str =
        "expected whole seconds or a number with a unit s, m, h or d (e.g. 90, 15m, 12h, 7d)";
    let text = input.trim();
    let (number, multiplier) = match text.char_indices().last() {
        Some((i, 's')) => (&text[..i], 1),
        Some((i, 'm')) => (&text[..i], 60),
        Some((i, 'h')) => (&text[..i], 3_600),
        Some((i, 'd')) => (&text[..i], 86_400),
        Some(_) => (text, 1),
        None => return Err(SYNTAX.to_string()),
    };
    let number = number.trim_end();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SYNTAX.to_string());
    }
    let too_long = || {
        format!(
            "must be at most {}",
            format_duration(Duration::from_secs(MAX_SECS))
        )
    };
    let value: u64 = number.parse().map_err(|_| too_long())?;
    let secs = value.checked_mul(multiplier).ok_or_else(too_long)?;
    if secs > MAX_SECS {
        return Err(too_long());
    }
    Ok(Duration::from_secs(secs))
}

/// Formats a duration in the same syntax [`parse_duration`] accepts, using
/// the largest unit that divides it exactly (`3600s` → `1h`).
pub(crate) fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return "0s".to_string();
    }
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}
