//! The one route table of the protocol endpoints. The HTTP configuration and the discovery
//! documents are both built from it, so they cannot disagree.

/// A protocol endpoint: the discovery metadata name it is published under, and its path.
pub struct Endpoint {
    pub metadata: &'static str,
    pub path: &'static str,
}

pub const AUTHORIZE: Endpoint = Endpoint { metadata: "authorization_endpoint", path: "/api/v2/oauth/authorize" };
pub const TOKEN: Endpoint = Endpoint { metadata: "token_endpoint", path: "/api/v2/oauth/token" };
pub const USERINFO: Endpoint = Endpoint { metadata: "userinfo_endpoint", path: "/api/v2/oauth/userinfo" };
pub const INTROSPECT: Endpoint = Endpoint { metadata: "introspection_endpoint", path: "/api/v2/oauth/introspect" };
pub const REVOKE: Endpoint = Endpoint { metadata: "revocation_endpoint", path: "/api/v2/oauth/revoke" };
pub const LOGOUT: Endpoint = Endpoint { metadata: "end_session_endpoint", path: "/api/v2/oauth/logout" };
pub const JWKS: Endpoint = Endpoint { metadata: "jwks_uri", path: "/api/v2/oauth/jwks" };

/// Every endpoint that discovery advertises.
pub const ENDPOINTS: [&Endpoint; 7] = [&AUTHORIZE, &TOKEN, &USERINFO, &INTROSPECT, &REVOKE, &LOGOUT, &JWKS];

/// Browser pages.
pub const LOGIN_PAGE: &str = "/login";
pub const CONSENT_PAGE: &str = "/oauth/consent";
