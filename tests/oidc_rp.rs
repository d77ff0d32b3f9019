//! A relying party written by someone else — the `openidconnect` crate — runs the whole flow against
//! Tessera: discovery, code + PKCE through the real login and consent forms, ID-token validation
//! (signature via the JWKS, nonce, at_hash), userinfo, refresh, introspection, revocation, logout.

use crate::common::browser::authorize_through_pages;
use crate::common::{TestServer, client};
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;
use tessera::clients::{NewClient, register};

pub const TEST_PASSWORD: &str = "Correct-Horse-9-battery";

pub async fn create_user(srv: &TestServer, username: &str) -> String {
    let user = tessera::users::create_user(
        &srv.state.db,
        tessera::users::NewUser {
            username: username.into(),
            email: Some(format!("{username}@example.test")),
            password: TEST_PASSWORD.into(),
            display_name: Some(format!("{username} Example")),
            roles: vec![],
            must_change_password: false,
        },
    )
    .await
    .expect("create user");
    user.id
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).ok()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[actix_web::test]
async fn openidconnect_relying_party_runs_the_whole_flow() {
    let srv = TestServer::start().await;
    let redirect = "http://127.0.0.1:9/callback";
    let (rp, secret) = register(
        &srv.state.db,
        &srv.state.pepper,
        NewClient {
            name: "Relying Party".into(),
            redirect_uris: vec![redirect.into()],
            post_logout_redirect_uris: vec!["http://127.0.0.1:9/signed-out".into()],
            public: false,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scopes: ["openid", "profile", "email", "offline_access"].map(String::from).to_vec(),
            require_consent: true,
        },
    )
    .await
    .unwrap();
    let secret = secret.unwrap();
    create_user(&srv, "alice").await;

    let http = openidconnect::reqwest::ClientBuilder::new().redirect(openidconnect::reqwest::redirect::Policy::none()).build().unwrap();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(srv.base.clone()).unwrap(), &http).await.expect("discovery");
    let oidc = CoreClient::from_provider_metadata(metadata, ClientId::new(rp.client_id.clone()), Some(ClientSecret::new(secret.clone())))
        .set_redirect_uri(RedirectUrl::new(redirect.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = oidc
        .authorize_url(AuthenticationFlow::<CoreResponseType>::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = client();
    let back = authorize_through_pages(&browser, &srv.base, auth_url.as_str(), "alice", TEST_PASSWORD).await;
    assert!(back.starts_with(redirect), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some(csrf.secret().as_str()));
    assert_eq!(param(&back, "iss").as_deref(), Some(srv.base.as_str()), "RFC 9207 iss");
    let code = param(&back, "code").expect("code");

    let tokens = oidc
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let id_token = tokens.id_token().expect("id token");
    let id_verifier = oidc.id_token_verifier();
    let claims = id_token.claims(&id_verifier, &nonce).expect("ID token validates (signature, iss, aud, nonce, exp)");
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some("alice"));
    let expected = claims.access_token_hash().expect("at_hash present");
    let actual = AccessTokenHash::from_token(tokens.access_token(), id_token.signing_alg().unwrap(), id_token.signing_key(&id_verifier).unwrap()).unwrap();
    assert_eq!(&actual, expected, "at_hash matches the access token");

    let info: CoreUserInfoClaims = oidc.user_info(tokens.access_token().clone(), None).unwrap().request_async(&http).await.expect("userinfo");
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.test"));

    let refresh = tokens.refresh_token().expect("refresh token with offline_access");
    let refreshed = oidc.exchange_refresh_token(refresh).unwrap().request_async(&http).await.expect("refresh");
    assert_ne!(refreshed.access_token().secret(), tokens.access_token().secret());
    let new_refresh = refreshed.refresh_token().expect("rotated refresh token");
    assert_ne!(new_refresh.secret(), refresh.secret());

    // Introspection and revocation (the crate refuses RFC 7009 over plain http, so these two are by hand).
    let introspect = |token: String| {
        let (url, id, secret) = (srv.url("/api/v2/oauth/introspect"), rp.client_id.clone(), secret.clone());
        async move {
            let v: Value = client().post(url).basic_auth(id, Some(secret)).form(&[("token", token)]).send().await.unwrap().json().await.unwrap();
            v
        }
    };
    let at = refreshed.access_token().secret().clone();
    let active = introspect(at.clone()).await;
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["client_id"], rp.client_id.as_str());
    let res = client()
        .post(srv.url("/api/v2/oauth/revoke"))
        .basic_auth(&rp.client_id, Some(&secret))
        .form(&[("token", at.as_str()), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(at.clone()).await, serde_json::json!({"active": false}));
    let ui = client().get(srv.url("/api/v2/oauth/userinfo")).bearer_auth(&at).send().await.unwrap();
    assert_eq!(ui.status(), 401);

    // RP-initiated logout ends the session: a new authorization asks for the password again.
    let logout = format!(
        "{}?id_token_hint={}&post_logout_redirect_uri={}&state=bye",
        srv.url("/api/v2/oauth/logout"),
        id_token,
        urlencode("http://127.0.0.1:9/signed-out")
    );
    let res = browser.get(&logout).send().await.unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let loc = res.headers()["location"].to_str().unwrap();
    assert!(loc.starts_with("http://127.0.0.1:9/signed-out") && loc.contains("state=bye"), "{loc}");
    let again = browser.get(auth_url.as_str()).send().await.unwrap();
    let (url, _, body) = crate::common::browser::follow(&browser, &srv.base, auth_url.to_string(), again).await;
    assert!(body.contains("name=\"password\""), "login asked again after logout, at {url}");
    srv.stop().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
