//! The content type check every form-reading endpoint shares (token side, userinfo, authorize).

use actix_web::HttpRequest;
use actix_web::http::header;

/// True when the request's media type is `application/x-www-form-urlencoded` (parameters such as
/// `charset` allowed, case-insensitive).
pub fn is_urlencoded(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}
