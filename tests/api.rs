//! The HTTP API in process: routes, shapes, statuses and challenges.

mod common;

use common::*;
use http::{Method, Request, Response, StatusCode};
use portcullis::api::{Api, ApiOptions, ErrorLog, Reusable};
use portcullis::jwt::{Algorithm, JwtKeys, SigningKey};
use portcullis::{JwtSessionManager, JwtSettings, TokenConfig, TokenService};
use serde_json::{json, Value};

const BOOTSTRAP: &str = "pc-AAAAAAAAAAAAAAAAAAAAAA.c2VjcmV0LXNlY3JldC1zZQ";

async fn api() -> (Api, Harness) {
    let h = Harness::new().await;
    let config = TokenConfig { ..config() }.with_bootstrap_token(BOOTSTRAP).unwrap();
    let service = TokenService::new(h.env.clone(), key_ring(), config).unwrap();
    let keys = JwtKeys::new(SigningKey::generate(Algorithm::EdDsa, &portcullis_native::OsRandom).unwrap());
    let sessions = JwtSessionManager::new(h.env.clone(), key_ring(), keys, JwtSettings::default());
    (Api::new(service, ApiOptions::default()).with_sessions(Some(sessions)), h)
}

async fn call(api: &Api, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> Response<Vec<u8>> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
    api.handle(builder.body(body).unwrap(), Some("198.51.100.7")).await
}

fn body(response: &Response<Vec<u8>>) -> Value {
    serde_json::from_slice(response.body()).unwrap_or(Value::Null)
}

fn header<'a>(response: &'a Response<Vec<u8>>, name: &str) -> &'a str {
    response.headers().get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

fn error_type(response: &Response<Vec<u8>>) -> String {
    body(response)["detail"][0]["type"].as_str().unwrap_or("").to_owned()
}

#[test]
fn curl_session_flow() {
    run(async {
        let (api, _h) = api().await;
        // The bootstrap token makes a user token for alice.
        let created = call(&api, Method::POST, "/auth/api/v1/tokens", Some(BOOTSTRAP), Some(json!({
            "username": "alice", "token_type": "user", "token_name": "laptop", "scopes": ["read:all"], "email": "alice@example.com"
        }))).await;
        assert_eq!(created.status(), StatusCode::CREATED, "{:?}", body(&created));
        let token = body(&created)["token"].as_str().unwrap().to_owned();
        let key = &token[3..25];
        assert_eq!(header(&created, "location"), format!("/auth/api/v1/users/alice/tokens/{key}"));

        let ok = call(&api, Method::GET, "/auth?scope=read:all", Some(&token), None).await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(header(&ok, "x-auth-request-user"), "alice");
        assert_eq!(header(&ok, "x-auth-request-email"), "alice@example.com");

        let forbidden = call(&api, Method::GET, "/auth?scope=write:files", Some(&token), None).await;
        assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            header(&forbidden, "www-authenticate"),
            "Bearer realm=\"portcullis\", error=\"insufficient_scope\", scope=\"write:files\""
        );

        let list = call(&api, Method::GET, "/auth/api/v1/users/alice/tokens", Some(&token), None).await;
        assert_eq!(list.status(), StatusCode::OK);
        assert_eq!(body(&list)[0]["token_name"], json!("laptop"));

        let info = call(&api, Method::GET, "/auth/api/v1/token-info", Some(&token), None).await;
        assert_eq!(body(&info)["token"], json!(key));
        assert_eq!(body(&info)["token_type"], json!("user"));

        let deleted =
            call(&api, Method::DELETE, &format!("/auth/api/v1/users/alice/tokens/{key}"), Some(BOOTSTRAP), None).await;
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let gone = call(&api, Method::GET, "/auth?scope=read:all", Some(&token), None).await;
        assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&gone, "www-authenticate"), "Bearer realm=\"portcullis\", error=\"invalid_token\"");
        assert_eq!(error_type(&gone), "invalid_token");
    })
}

/// A host may give `/auth`'s success again (see `Reusable`): only for an opaque token, without
/// delegation, and never past the token's expiry.
#[test]
fn only_auth_successes_for_opaque_tokens_that_delegate_nothing_are_reusable() {
    run(async {
        use portcullis::Clock as _;
        let (api, h) = api().await;
        let (session, data) = h.login("alice", &["read:all", "exec:notebook"]).await;
        let reusable = |r: &Response<Vec<u8>>| r.extensions().get::<Reusable>().copied();
        let ok = call(&api, Method::GET, "/auth?scope=read:all", Some(&session), None).await;
        assert_eq!((ok.status(), reusable(&ok)), (StatusCode::OK, Some(Reusable { millis: Reusable::MAX_MILLIS })));
        let admin = call(&api, Method::GET, "/auth?scope=admin:token", Some(BOOTSTRAP), None).await;
        assert_eq!((admin.status(), reusable(&admin)), (StatusCode::OK, Some(Reusable { millis: 1000 })));

        // Failures, delegations, JWTs and other endpoints: never.
        let forbidden = call(&api, Method::GET, "/auth?scope=write:files", Some(&session), None).await;
        assert_eq!((forbidden.status(), reusable(&forbidden)), (StatusCode::FORBIDDEN, None));
        let anonymous = call(&api, Method::GET, "/auth?scope=read:all", None, None).await;
        assert_eq!((anonymous.status(), reusable(&anonymous)), (StatusCode::UNAUTHORIZED, None));
        let no_scope = call(&api, Method::GET, "/auth", Some(&session), None).await;
        assert_eq!((no_scope.status(), reusable(&no_scope)), (StatusCode::UNPROCESSABLE_ENTITY, None));
        let notebook = call(&api, Method::GET, "/auth?scope=exec:notebook&notebook=true", Some(&session), None).await;
        assert_eq!((notebook.status(), reusable(&notebook)), (StatusCode::OK, None));
        let carol = json!({"username": "carol", "scopes": ["read:all"]});
        let jwt = call(&api, Method::POST, "/auth/api/v1/sessions", Some(BOOTSTRAP), Some(carol)).await;
        let access = body(&jwt)["access_token"].as_str().unwrap().to_owned();
        let by_jwt = call(&api, Method::GET, "/auth?scope=read:all", Some(&access), None).await;
        assert_eq!(by_jwt.status(), StatusCode::OK, "{:?}", body(&by_jwt));
        assert_eq!(reusable(&by_jwt), None);
        let info = call(&api, Method::GET, "/auth/api/v1/user-info", Some(&session), None).await;
        assert_eq!((info.status(), reusable(&info)), (StatusCode::OK, None));

        // 400 ms before the token expires, the window is those 400 ms; after, the token is gone.
        let expires = data.expires.expect("a session token expires");
        h.clock.advance(expires - h.clock.now() - 1);
        h.clock.sleep(600).await;
        let last = call(&api, Method::GET, "/auth?scope=read:all", Some(&session), None).await;
        assert_eq!((last.status(), reusable(&last)), (StatusCode::OK, Some(Reusable { millis: 400 })));
        h.clock.sleep(400).await;
        let expired = call(&api, Method::GET, "/auth?scope=read:all", Some(&session), None).await;
        assert_eq!((expired.status(), reusable(&expired)), (StatusCode::UNAUTHORIZED, None));
    })
}

#[test]
fn delegation_through_auth() {
    run(async {
        let (api, h) = api().await;
        let (session, _) = h.login("alice", &["read:all", "exec:notebook"]).await;
        let r = call(&api, Method::GET, "/auth?scope=exec:notebook&notebook=true", Some(&session), None).await;
        let child = header(&r, "x-auth-request-token").to_owned();
        assert!(child.starts_with("pc-"), "{r:?}");
        let again = call(&api, Method::GET, "/auth?scope=exec:notebook&notebook=true", Some(&session), None).await;
        assert_eq!(header(&again, "x-auth-request-token"), child);
        let internal = call(
            &api,
            Method::GET,
            "/auth?scope=read:all&delegate_to=tap&delegate_scope=read:all",
            Some(&session),
            None,
        )
        .await;
        assert_ne!(header(&internal, "x-auth-request-token"), child);
        let too_broad = call(
            &api,
            Method::GET,
            "/auth?scope=read:all&delegate_to=tap&delegate_scope=write:files",
            Some(&session),
            None,
        )
        .await;
        assert_eq!(too_broad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_type(&too_broad), "invalid_scopes");
        let bad_min = call(
            &api,
            Method::GET,
            "/auth?scope=read:all&notebook=true&minimum_lifetime=99999999",
            Some(&session),
            None,
        )
        .await;
        assert_eq!(error_type(&bad_min), "invalid_minimum_lifetime");
        let any =
            call(&api, Method::GET, "/auth?scope=write:files&scope=read:all&satisfy=any", Some(&session), None).await;
        assert_eq!(any.status(), StatusCode::OK);
    })
}

#[test]
fn user_token_endpoints_and_errors() {
    run(async {
        let (api, h) = api().await;
        let (session, _) = h.login("alice", &["read:all", "user:token"]).await;
        let uri = "/auth/api/v1/users/alice/tokens";
        let made = call(
            &api,
            Method::POST,
            uri,
            Some(&session),
            Some(json!({"token_name": "ci", "scopes": ["read:all"], "expires": NOW + DAY})),
        )
        .await;
        assert_eq!(made.status(), StatusCode::CREATED);
        let dup = call(&api, Method::POST, uri, Some(&session), Some(json!({"token_name": "ci"}))).await;
        assert_eq!((dup.status(), error_type(&dup)), (StatusCode::UNPROCESSABLE_ENTITY, "duplicate_token_name".into()));
        let soon =
            call(&api, Method::POST, uri, Some(&session), Some(json!({"token_name": "x", "expires": NOW + 10}))).await;
        assert_eq!(error_type(&soon), "invalid_expires");
        let broad =
            call(&api, Method::POST, uri, Some(&session), Some(json!({"token_name": "y", "scopes": ["write:files"]})))
                .await;
        assert_eq!(error_type(&broad), "invalid_scopes");
        let other = call(&api, Method::GET, "/auth/api/v1/users/bob/tokens", Some(&session), None).await;
        assert_eq!(other.status(), StatusCode::FORBIDDEN);
        let missing =
            call(&api, Method::GET, "/auth/api/v1/users/alice/tokens/AAAAAAAAAAAAAAAAAAAAAA", Some(&session), None)
                .await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let garbage_key =
            call(&api, Method::GET, "/auth/api/v1/users/alice/tokens/..%2F..", Some(&session), None).await;
        assert_eq!(garbage_key.status(), StatusCode::NOT_FOUND);
        let not_admin = call(
            &api,
            Method::POST,
            "/auth/api/v1/tokens",
            Some(&session),
            Some(json!({"username": "bot-x", "token_type": "service"})),
        )
        .await;
        assert_eq!(not_admin.status(), StatusCode::FORBIDDEN);
        // PATCH by an admin, with null expiry meaning "never".
        let key = body(&made)["token"].as_str().unwrap()[3..25].to_owned();
        let patched = call(
            &api,
            Method::PATCH,
            &format!("{uri}/{key}"),
            Some(BOOTSTRAP),
            Some(json!({"expires": null, "token_name": "ci2"})),
        )
        .await;
        assert_eq!(patched.status(), StatusCode::OK, "{:?}", body(&patched));
        assert_eq!(body(&patched)["token_name"], json!("ci2"));
        assert!(body(&patched).get("expires").is_none());
        // History with paging headers.
        let history =
            call(&api, Method::GET, "/auth/api/v1/users/alice/token-change-history?limit=1", Some(&session), None)
                .await;
        assert_eq!(history.status(), StatusCode::OK);
        assert_eq!(body(&history).as_array().unwrap().len(), 1);
        assert_eq!(header(&history, "x-total-count"), "3");
        assert!(header(&history, "link").contains("rel=\"next\""), "{:?}", history.headers());
        let next = header(&history, "link").trim_start_matches('<').split('>').next().unwrap().to_owned();
        let page2 = call(&api, Method::GET, &next, Some(&session), None).await;
        assert_eq!(body(&page2).as_array().unwrap().len(), 1);
        let all = call(&api, Method::GET, "/auth/api/v1/history/token-changes", Some(&session), None).await;
        assert_eq!(all.status(), StatusCode::FORBIDDEN);
        let all =
            call(&api, Method::GET, "/auth/api/v1/history/token-changes?username=alice", Some(BOOTSTRAP), None).await;
        assert_eq!(body(&all).as_array().unwrap().len(), 3);
    })
}

#[test]
fn bad_requests_get_clear_4xx() {
    run(async {
        let (api, h) = api().await;
        let (session, _) = h.login("alice", &["user:token"]).await;
        let uri = "/auth/api/v1/users/alice/tokens";
        let cases: Vec<(Response<Vec<u8>>, StatusCode)> = vec![
            (call(&api, Method::GET, "/nope", None, None).await, StatusCode::NOT_FOUND),
            (call(&api, Method::PUT, uri, Some(&session), None).await, StatusCode::METHOD_NOT_ALLOWED),
            (call(&api, Method::GET, uri, None, None).await, StatusCode::UNAUTHORIZED),
            (call(&api, Method::GET, uri, Some("garbage"), None).await, StatusCode::UNAUTHORIZED),
            (
                call(&api, Method::POST, uri, Some(&session), Some(json!({"token_name": 5}))).await,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                call(&api, Method::POST, uri, Some(&session), Some(json!({"token_name": "a", "extra": 1}))).await,
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (call(&api, Method::GET, "/auth", Some(&session), None).await, StatusCode::UNPROCESSABLE_ENTITY),
        ];
        for (i, (response, status)) in cases.iter().enumerate() {
            assert_eq!(response.status(), *status, "case {i}: {:?}", body(response));
            assert!(body(response)["detail"][0]["msg"].is_string(), "case {i}");
            assert!(response.extensions().get::<ErrorLog>().is_some());
        }
        assert_eq!(header(&cases[1].0, "allow"), "GET, POST");
        assert_eq!(header(&cases[2].0, "www-authenticate"), "Bearer realm=\"portcullis\"");
        let raw = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("authorization", format!("Bearer {session}"))
            .body(b"{not json".to_vec())
            .unwrap();
        assert_eq!(api.handle(raw, None).await.status(), StatusCode::BAD_REQUEST);
        let big = Request::builder().method(Method::POST).uri(uri).body(vec![b' '; 70_000]).unwrap();
        assert_eq!(api.handle(big, None).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // No error text carries the token.
        for (response, _) in &cases {
            assert!(!String::from_utf8_lossy(response.body()).contains(&session[3..]));
        }
    })
}

#[test]
fn the_bootstrap_token_is_refused_from_a_browser() {
    run(async {
        let (api, _h) = api().await;
        for (name, value) in [("sec-fetch-site", "same-origin"), ("origin", "http://127.0.0.1:8080")] {
            let request = Request::builder()
                .uri("/auth/api/v1/admin/metrics")
                .header("authorization", format!("Bearer {BOOTSTRAP}"))
                .header(name, value)
                .body(Vec::new())
                .unwrap();
            let response = api.handle(request, None).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}");
        }
        assert_eq!(
            call(&api, Method::GET, "/auth/api/v1/admin/metrics", Some(BOOTSTRAP), None).await.status(),
            StatusCode::OK
        );
        // Node's fetch marks its requests with Sec-Fetch-Mode only: an operator's script.
        let node = Request::builder()
            .uri("/auth/api/v1/admin/metrics")
            .header("authorization", format!("Bearer {BOOTSTRAP}"))
            .header("sec-fetch-mode", "cors")
            .body(Vec::new())
            .unwrap();
        assert_eq!(api.handle(node, None).await.status(), StatusCode::OK);
    })
}

#[test]
fn admin_endpoints() {
    run(async {
        let (api, h) = api().await;
        let (session, _) = h.login("alice", &["user:token"]).await;
        assert_eq!(
            call(&api, Method::POST, "/auth/api/v1/admin/expire", Some(&session), None).await.status(),
            StatusCode::FORBIDDEN
        );
        let metrics = call(&api, Method::GET, "/auth/api/v1/admin/metrics", Some(BOOTSTRAP), None).await;
        assert_eq!(body(&metrics), json!({"unique_sessions": 1, "user_tokens": 0, "active_sessions": 0}));
        let audit = call(&api, Method::GET, "/auth/api/v1/admin/audit?fix=false", Some(BOOTSTRAP), None).await;
        assert_eq!(body(&audit), json!({"issues": []}));
        h.clock.advance(31 * DAY);
        let expired = call(&api, Method::POST, "/auth/api/v1/admin/expire", Some(BOOTSTRAP), None).await;
        assert_eq!(body(&expired)["deleted"].as_array().unwrap().len(), 1);
        assert_eq!(body(&call(&api, Method::GET, "/health", None, None).await), json!({"status": "ok"}));
    })
}

#[test]
fn jwt_sessions_over_http() {
    run(async {
        let (api, h) = api().await;
        let (plain, _) = h.login("alice", &["user:token"]).await;
        let body_json = json!({"username": "alice", "scopes": ["read:all", "user:token"]});
        let refused = call(&api, Method::POST, "/auth/api/v1/sessions", Some(&plain), Some(body_json.clone())).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let made = call(&api, Method::POST, "/auth/api/v1/sessions", Some(BOOTSTRAP), Some(body_json)).await;
        assert_eq!(made.status(), StatusCode::OK, "{:?}", body(&made));
        let pair = body(&made);
        assert_eq!((pair["token_type"].clone(), pair["expires_in"].clone()), (json!("Bearer"), json!(900)));
        let access = pair["access_token"].as_str().unwrap().to_owned();
        let refresh = pair["refresh_token"].as_str().unwrap().to_owned();

        // The access token authenticates; token-info says what it is.
        let ok = call(&api, Method::GET, "/auth?scope=read:all", Some(&access), None).await;
        assert_eq!((ok.status(), header(&ok, "x-auth-request-user")), (StatusCode::OK, "alice"));
        let info = body(&call(&api, Method::GET, "/auth/api/v1/token-info", Some(&access), None).await);
        assert_eq!(info["token_type"], json!("access"));
        assert_eq!(info["token"].as_str().unwrap().len(), 22);
        // A JWT session with user:token can manage opaque tokens.
        let made = call(
            &api,
            Method::POST,
            "/auth/api/v1/users/alice/tokens",
            Some(&access),
            Some(json!({"token_name": "from-jwt"})),
        )
        .await;
        assert_eq!(made.status(), StatusCode::CREATED, "{:?}", body(&made));
        // A refresh token never authenticates.
        let no = call(&api, Method::GET, "/auth?scope=read:all", Some(&refresh), None).await;
        assert_eq!(no.status(), StatusCode::UNAUTHORIZED);
        // Delegation needs an opaque token.
        let d = call(&api, Method::GET, "/auth?scope=read:all&notebook=true", Some(&access), None).await;
        assert_eq!(d.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // Refresh rotates; an access token in its place is a typed 422.
        let wrong =
            call(&api, Method::POST, "/auth/api/v1/sessions/refresh", None, Some(json!({"refresh_token": access})))
                .await;
        assert_eq!((wrong.status(), error_type(&wrong)), (StatusCode::UNPROCESSABLE_ENTITY, "wrong_token_type".into()));
        let rotated =
            call(&api, Method::POST, "/auth/api/v1/sessions/refresh", None, Some(json!({"refresh_token": refresh})))
                .await;
        assert_eq!(rotated.status(), StatusCode::OK);
        let new_access = body(&rotated)["access_token"].as_str().unwrap().to_owned();
        assert_eq!(
            call(&api, Method::GET, "/auth?scope=read:all", Some(&access), None).await.status(),
            StatusCode::UNAUTHORIZED
        );
        h.clock.advance(11);
        let reused =
            call(&api, Method::POST, "/auth/api/v1/sessions/refresh", None, Some(json!({"refresh_token": refresh})))
                .await;
        assert_eq!((reused.status(), error_type(&reused)), (StatusCode::UNAUTHORIZED, "refresh_token_reused".into()));
        assert_eq!(
            call(&api, Method::GET, "/auth?scope=read:all", Some(&new_access), None).await.status(),
            StatusCode::UNAUTHORIZED
        );

        // API tokens, and logout.
        let again = body(
            &call(&api, Method::POST, "/auth/api/v1/sessions", Some(BOOTSTRAP), Some(json!({"username": "alice"})))
                .await,
        );
        let access = again["access_token"].as_str().unwrap().to_owned();
        let api_token = call(
            &api,
            Method::POST,
            "/auth/api/v1/api-tokens",
            Some(&access),
            Some(json!({"datasets": {"plants/*": ["read", "write"]}})),
        )
        .await;
        assert_eq!(api_token.status(), StatusCode::CREATED, "{:?}", body(&api_token));
        let api_token = body(&api_token)["token"].as_str().unwrap().to_owned();
        let info = body(&call(&api, Method::GET, "/auth/api/v1/token-info", Some(&api_token), None).await);
        assert_eq!(info["token_type"], json!("api"));
        let jti = info["token"].as_str().unwrap().to_owned();
        let bad_perm = call(
            &api,
            Method::POST,
            "/auth/api/v1/api-tokens",
            Some(&access),
            Some(json!({"datasets": {"x": ["fly"]}})),
        )
        .await;
        assert_eq!(bad_perm.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            call(&api, Method::DELETE, &format!("/auth/api/v1/api-tokens/{jti}"), Some(&access), None).await.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(&api, Method::GET, "/auth/api/v1/token-info", Some(&api_token), None).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            call(&api, Method::DELETE, "/auth/api/v1/sessions/current", Some(&access), None).await.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            call(&api, Method::GET, "/auth/api/v1/user-info", Some(&access), None).await.status(),
            StatusCode::UNAUTHORIZED
        );

        let jwks = body(&call(&api, Method::GET, "/.well-known/jwks.json", None, None).await);
        assert_eq!(jwks["keys"][0]["kty"], json!("OKP"));
        assert!(jwks["keys"][0].get("d").is_none());
    })
}

/// Found by schemathesis (negative_data_rejection): an empty flag (`?fix=`, or a bare `?fix`)
/// read as `true`, so `GET /admin/audit?fix=` repaired (deleted) what it found and
/// `/auth?notebook=` minted a notebook token. An empty value is refused now.
#[test]
fn an_empty_flag_is_refused_not_read_as_true() {
    run(async {
        let (api, h) = api().await;
        let (session, _) = h.login("alice", &["read:all"]).await;
        for uri in ["/auth/api/v1/admin/audit?fix=", "/auth/api/v1/admin/audit?fix"] {
            let response = call(&api, Method::GET, uri, Some(BOOTSTRAP), None).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
            assert_eq!(body(&response)["detail"][0]["loc"], json!(["query", "fix"]));
        }
        let response = call(&api, Method::GET, "/auth?scope=read:all&notebook=", Some(&session), None).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(header(&response, "x-auth-request-token"), "");
        for uri in ["/auth/api/v1/admin/audit?fix=false", "/auth/api/v1/admin/audit?fix=1"] {
            assert_eq!(call(&api, Method::GET, uri, Some(BOOTSTRAP), None).await.status(), StatusCode::OK, "{uri}");
        }
    })
}

/// Found with the schemathesis work: an `expires` near the end of i64 overflowed. On
/// `portcullis serve` a user token expiring at i64::MAX was a 500 (the SQLite KV's TTL in
/// milliseconds overflowed; in a release build it wraps into the past, so the token would be
/// acknowledged but never valid), and `POST /api-tokens` panicked in a debug build. Expiries
/// after 9999 are refused now, and no expiry overflows.
#[test]
fn expiries_at_the_ends_of_i64_are_refused_not_overflowed() {
    run(async {
        let (api, h) = api().await;
        let (session, _) = h.login("alice", &["read:all", "user:token"]).await;
        let made = call(
            &api,
            Method::POST,
            "/auth/api/v1/users/alice/tokens",
            Some(&session),
            Some(json!({"token_name": "mine"})),
        )
        .await;
        let key = body(&made)["token"].as_str().unwrap()[3..25].to_owned();
        for exp in [i64::MAX, i64::MIN, portcullis::MAX_EXPIRES + 1] {
            let requests = [
                (
                    Method::POST,
                    "/auth/api/v1/users/alice/tokens".to_owned(),
                    json!({"token_name": "t", "expires": exp}),
                ),
                (
                    Method::POST,
                    "/auth/api/v1/tokens".to_owned(),
                    json!({"username": "bob", "token_type": "user", "token_name": "t", "expires": exp}),
                ),
                (Method::PATCH, format!("/auth/api/v1/users/alice/tokens/{key}"), json!({"expires": exp})),
                (Method::POST, "/auth/api/v1/api-tokens".to_owned(), json!({"expires": exp})),
            ];
            for (method, uri, request) in requests {
                let response = call(&api, method.clone(), &uri, Some(BOOTSTRAP), Some(request)).await;
                assert_eq!(
                    response.status(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{method} {uri} {exp}: {:?}",
                    body(&response)
                );
                assert_eq!(error_type(&response), "invalid_expires", "{method} {uri} {exp}");
            }
        }
        // The last second allowed is fine.
        let far = json!({"token_name": "far", "scopes": ["read:all"], "expires": portcullis::MAX_EXPIRES});
        let made = call(&api, Method::POST, "/auth/api/v1/users/alice/tokens", Some(&session), Some(far)).await;
        assert_eq!(made.status(), StatusCode::CREATED, "{:?}", body(&made));
        let token = body(&made)["token"].as_str().unwrap().to_owned();
        assert_eq!(call(&api, Method::GET, "/auth?scope=read:all", Some(&token), None).await.status(), StatusCode::OK);
    })
}

/// Found by schemathesis (long form, negative_data_rejection): a JSON array was read as the
/// body's struct by position, so `POST /api-tokens` with `[]` made an API token and
/// `POST /users/{username}/tokens` with `["name"]` a user token. Bodies are objects only now.
#[test]
fn a_json_array_is_not_a_request_body() {
    run(async {
        let (api, h) = api().await;
        let (session, _) = h.login("alice", &["read:all", "user:token"]).await;
        let cases = [
            ("/auth/api/v1/api-tokens", json!([])),
            ("/auth/api/v1/users/alice/tokens", json!(["positional", ["read:all"], null])),
        ];
        for (uri, request) in cases {
            let response = call(&api, Method::POST, uri, Some(&session), Some(request)).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{uri}: {:?}", body(&response));
            assert_eq!(body(&response)["detail"][0]["loc"], json!(["body"]), "{uri}");
        }
        let list = call(&api, Method::GET, "/auth/api/v1/users/alice/tokens", Some(&session), None).await;
        assert!(body(&list).as_array().unwrap().iter().all(|t| t["token_name"] != json!("positional")));
    })
}
