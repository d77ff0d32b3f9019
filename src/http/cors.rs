//! CORS for the endpoints browsers call cross-origin (token, userinfo, JWKS, discovery): only the
//! origins in `ALLOWED_ORIGINS` are answered, and preflights get 204.

use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

pub async fn cors(req: ServiceRequest, next: Next<impl MessageBody + 'static>) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let origin = req.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()).map(str::to_string);
    let allowed = match (&origin, req.app_data::<web::Data<AppState>>()) {
        (Some(o), Some(state)) => state.settings.allowed_origins.iter().any(|a| a == o),
        _ => false,
    };
    let preflight = req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut res = if preflight {
        let mut b = HttpResponse::NoContent();
        if allowed {
            b.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Authorization, Content-Type, DPoP"))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
        }
        req.into_response(b.finish())
    } else {
        next.call(req).await?.map_into_boxed_body()
    };
    let h = res.headers_mut();
    h.append(header::VARY, header::HeaderValue::from_static("Origin"));
    if let (true, Some(o)) = (allowed, origin)
        && let Ok(v) = header::HeaderValue::from_str(&o)
    {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    Ok(res)
}
