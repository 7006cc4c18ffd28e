//! Security checks on the public API: no token or secret in any error message, log line or
//! `Debug` output produced during a run (with storage failing too), and request size limits
//! answered with 4xx, never 5xx or a panic.

mod common;

use common::*;
use http::{Method, Request, Response, StatusCode};
use portcullis::api::{Api, ApiOptions, ErrorLog};
use portcullis::jwt::{Algorithm, JwtKeys, SigningKey};
use portcullis::{EncryptionKey, JwtSessionManager, JwtSettings, Token, TokenConfig, TokenService};
use serde_json::{json, Value};

const BOOTSTRAP: &str = "pc-AAAAAAAAAAAAAAAAAAAAAA.c2VjcmV0LXNlY3JldC1zZQ";
/// base64 of the test key ring's key bytes ([7; 32]), as a configuration would hold it.
const RING_KEY_B64: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";

/// Everything a run could leak into, and everything it must not leak.
#[derive(Default)]
struct Watch {
    /// Error texts, log lines and Debug renderings seen.
    seen: Vec<String>,
    /// Tokens and secrets issued.
    secrets: Vec<String>,
}

impl Watch {
    fn secret(&mut self, token: &str) {
        self.secrets.push(token.to_owned());
        // The secret half of an opaque token, the signature of a JWT.
        if let Some(tail) = token.rsplit('.').next().filter(|t| t.len() >= 16) {
            self.secrets.push(tail.to_owned());
        }
    }

    fn response(&mut self, response: &Response<Vec<u8>>) {
        // Credentials are bearer tokens only: no response ever sets a cookie.
        assert!(
            !response.headers().contains_key(http::header::SET_COOKIE),
            "{:?}",
            response.headers().keys().collect::<Vec<_>>()
        );
        if let Some(log) = response.extensions().get::<ErrorLog>() {
            self.seen.push(log.0.clone());
            self.seen.push(format!("{log:?}"));
        }
        if !response.status().is_success() {
            self.seen.push(String::from_utf8_lossy(response.body()).into_owned());
            self.seen.push(format!("{:?}", response.headers()));
        }
    }

    fn error(&mut self, error: &dyn std::fmt::Debug, display: String) {
        self.seen.push(display);
        self.seen.push(format!("{error:?}"));
    }

    fn assert_clean(&self) {
        assert!(self.seen.len() > 20, "the run produced only {} texts", self.seen.len());
        for secret in &self.secrets {
            for text in &self.seen {
                assert!(!text.contains(secret.as_str()), "{secret:?} appears in {text:?}");
            }
        }
    }
}

async fn api(h: &Harness) -> Api {
    let config = TokenConfig { ..config() }.with_bootstrap_token(BOOTSTRAP).unwrap();
    let service = TokenService::new(h.env.clone(), key_ring(), config).unwrap();
    let keys = JwtKeys::new(SigningKey::from_bytes(Algorithm::Hs512, &[5; 64]).unwrap());
    let sessions = JwtSessionManager::new(h.env.clone(), key_ring(), keys, JwtSettings::default());
    Api::new(service, ApiOptions::default()).with_sessions(Some(sessions))
}

async fn call(
    api: &Api,
    watch: &mut Watch,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Response<Vec<u8>> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
    let response = api.handle(builder.body(body).unwrap(), Some("198.51.100.7")).await;
    watch.response(&response);
    response
}

fn field(response: &Response<Vec<u8>>, name: &str) -> String {
    let body: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    body[name].as_str().unwrap_or_default().to_owned()
}

/// Issues opaque tokens, JWT sessions and API tokens, then uses each wrongly: tampered, revoked,
/// replayed, in the wrong place, with storage failing. No error text, log line or Debug output
/// contains any of them.
#[test]
fn no_token_or_secret_in_errors_logs_or_debug_output() {
    run(async {
        let h = Harness::new().await;
        let api = api(&h).await;
        let mut w = Watch::default();
        w.secret(BOOTSTRAP);
        w.secrets.push(RING_KEY_B64.to_owned());

        let created = call(&api, &mut w, Method::POST, "/auth/api/v1/tokens", Some(BOOTSTRAP), Some(json!({
            "username": "admin", "token_type": "user", "token_name": "ops", "scopes": ["admin:token", "admin:session"]
        }))).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let admin = field(&created, "token");
        w.secret(&admin);
        let user = call(
            &api,
            &mut w,
            Method::POST,
            "/auth/api/v1/tokens",
            Some(&admin),
            Some(json!({
                "username": "alice", "token_type": "user", "token_name": "laptop", "scopes": ["read:all", "user:token"]
            })),
        )
        .await;
        let alice = field(&user, "token");
        w.secret(&alice);
        let session =
            call(&api, &mut w, Method::POST, "/auth/api/v1/sessions", Some(&admin), Some(json!({"username": "bob"})))
                .await;
        assert_eq!(session.status(), StatusCode::OK, "{:?}", String::from_utf8_lossy(session.body()));
        let (access, refresh) = (field(&session, "access_token"), field(&session, "refresh_token"));
        w.secret(&access);
        w.secret(&refresh);
        let api_token =
            call(&api, &mut w, Method::POST, "/auth/api/v1/api-tokens", Some(&access), Some(json!({}))).await;
        let api_token = field(&api_token, "token");
        w.secret(&api_token);

        // Wrong uses of every credential.
        let tampered: Vec<String> = [&admin, &alice, &access, &refresh, &api_token]
            .iter()
            .map(|t| format!("{}{}", &t[..t.len() - 1], if t.ends_with('A') { 'B' } else { 'A' }))
            .collect();
        for t in &tampered {
            w.secret(t);
            call(&api, &mut w, Method::GET, "/auth/api/v1/token-info", Some(t), None).await;
            call(&api, &mut w, Method::POST, "/auth/api/v1/sessions/refresh", None, Some(json!({"refresh_token": t})))
                .await;
        }
        call(&api, &mut w, Method::GET, "/auth/api/v1/token-info", Some(&refresh), None).await;
        call(&api, &mut w, Method::POST, "/auth/api/v1/sessions/refresh", None, Some(json!({"refresh_token": access})))
            .await;
        call(&api, &mut w, Method::POST, "/auth/api/v1/sessions/refresh", None, Some(json!({"refresh_token": alice})))
            .await;
        // The token in places it does not belong: the path, the query, a wrong-typed field.
        call(
            &api,
            &mut w,
            Method::GET,
            &format!("/auth/api/v1/users/alice/tokens/{}", &alice[3..]),
            Some(&admin),
            None,
        )
        .await;
        call(
            &api,
            &mut w,
            Method::GET,
            &format!("/auth?scope=read:all&delegate_to={}", &alice[3..]),
            Some(&alice),
            None,
        )
        .await;
        call(
            &api,
            &mut w,
            Method::POST,
            "/auth/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": [refresh]})),
        )
        .await;
        call(
            &api,
            &mut w,
            Method::POST,
            "/auth/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": refresh, "x": 1})),
        )
        .await;
        let basic = Request::builder().uri("/auth/api/v1/token-info").header("authorization", format!("Basic {alice}"));
        w.response(&api.handle(basic.body(Vec::new()).unwrap(), None).await);
        // A credential in a cookie is not one: a page's ambient cookies never authenticate (no CSRF).
        for cookie in [format!("portcullis={admin}"), format!("token={admin}"), format!("session={access}")] {
            let request = Request::builder().uri("/auth/api/v1/token-info").header("cookie", cookie);
            let response = api.handle(request.body(Vec::new()).unwrap(), None).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            w.response(&response);
        }

        // Refresh twice past the grace window: the family is revoked.
        let first = call(
            &api,
            &mut w,
            Method::POST,
            "/auth/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
        w.secret(&field(&first, "access_token"));
        w.secret(&field(&first, "refresh_token"));
        h.clock.advance(60);
        call(
            &api,
            &mut w,
            Method::POST,
            "/auth/api/v1/sessions/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
        call(&api, &mut w, Method::GET, "/auth/api/v1/token-info", Some(&field(&first, "access_token")), None).await;

        // Revoked, then used.
        let key = &alice[3..25];
        call(&api, &mut w, Method::DELETE, &format!("/auth/api/v1/users/alice/tokens/{key}"), Some(&admin), None).await;
        call(&api, &mut w, Method::GET, "/auth?scope=read:all", Some(&alice), None).await;

        // Every storage operation failing in turn, on every kind of request.
        for op in ["kv.get", "kv.set", "kv.delete", "kv.list_keys", "sql.execute", "sql.batch"] {
            h.faults.fail(op);
            call(&api, &mut w, Method::GET, "/auth?scope=read:all", Some(&admin), None).await;
            call(
                &api,
                &mut w,
                Method::POST,
                "/auth/api/v1/tokens",
                Some(&admin),
                Some(json!({
                    "username": "carol", "token_type": "user", "token_name": format!("t-{op}"), "scopes": ["read:all"]
                })),
            )
            .await;
            call(&api, &mut w, Method::POST, "/auth/api/v1/sessions", Some(&admin), Some(json!({"username": "dave"})))
                .await;
            call(
                &api,
                &mut w,
                Method::POST,
                "/auth/api/v1/sessions/refresh",
                None,
                Some(json!({"refresh_token": field(&first, "refresh_token")})),
            )
            .await;
            call(&api, &mut w, Method::GET, "/auth/api/v1/admin/audit?fix=true", Some(&admin), None).await;
            h.faults.heal_all();
        }

        // The core's own errors and Debug renderings.
        let service = api.tokens();
        for t in tampered.iter().chain([&alice, &admin]) {
            if let Err(e) = service.validate_strict(t).await {
                w.error(&e, e.to_string());
            }
        }
        let token = Token::parse(&admin, "pc").unwrap();
        w.seen.push(format!("{token:?}"));
        w.seen.push(format!("{:?}", service.validate(&admin).await));
        w.seen.push(format!("{:?}", key_ring()));
        w.seen.push(format!("{:?}", EncryptionKey::new("k1", [7; 32]).unwrap()));
        w.seen.push(format!("{:?}", TokenConfig { ..config() }.with_bootstrap_token(BOOTSTRAP).unwrap()));
        w.seen.push(format!("{:?}", SigningKey::from_bytes(Algorithm::Hs512, &[5; 64]).unwrap()));
        w.secrets.push("BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQ".to_owned());
        w.assert_clean();
    });
}

/// Oversize credentials, bodies, queries and paths get 4xx; nothing panics or answers 5xx.
#[test]
fn request_size_limits_are_client_errors() {
    run(async {
        let h = Harness::new().await;
        let api = api(&h).await;
        let big = "a".repeat(1 << 20);
        // `http` refuses URIs of 64 KiB or more before any handler sees them.
        let long = "a".repeat(60_000);
        let admin = {
            let mut w = Watch::default();
            let created = call(&api, &mut w, Method::POST, "/auth/api/v1/tokens", Some(BOOTSTRAP), Some(json!({
                "username": "admin", "token_type": "user", "token_name": "ops", "scopes": ["admin:token", "admin:session"]
            }))).await;
            field(&created, "token")
        };
        let deep = "[".repeat(60_000);
        let requests: Vec<(&str, Request<Vec<u8>>)> = vec![
            (
                "1 MiB bearer",
                Request::get("/auth").header("authorization", format!("Bearer {big}")).body(vec![]).unwrap(),
            ),
            (
                "1 MiB JWT-shaped bearer",
                Request::get("/auth/api/v1/token-info")
                    .header("authorization", format!("Bearer {big}.{big}.{big}"))
                    .body(vec![])
                    .unwrap(),
            ),
            ("1 MiB cookie", Request::get("/auth").header("cookie", format!("portcullis={big}")).body(vec![]).unwrap()),
            (
                "1 MiB other header",
                Request::get("/auth")
                    .header("x-forwarded-for", big.as_str())
                    .header("authorization", format!("Bearer {admin}"))
                    .body(vec![])
                    .unwrap(),
            ),
            ("10,000 headers", {
                let mut b = Request::get("/auth/api/v1/token-info");
                for i in 0..10_000 {
                    b = b.header(format!("x-h{i}"), "v");
                }
                b.header("authorization", format!("Bearer {admin}")).body(vec![]).unwrap()
            }),
            (
                "1 MiB body",
                Request::post("/auth/api/v1/tokens")
                    .header("authorization", format!("Bearer {admin}"))
                    .body(big.clone().into_bytes())
                    .unwrap(),
            ),
            (
                "64 KiB + 1 JSON body",
                Request::post("/auth/api/v1/sessions/refresh")
                    .body(format!("{{\"refresh_token\":\"{}\"}}", "a".repeat(64 * 1024)).into_bytes())
                    .unwrap(),
            ),
            (
                "deeply nested JSON",
                Request::post("/auth/api/v1/sessions")
                    .header("authorization", format!("Bearer {admin}"))
                    .body(deep.clone().into_bytes())
                    .unwrap(),
            ),
            (
                "60 KB query value",
                Request::get(format!("/auth?scope={long}"))
                    .header("authorization", format!("Bearer {admin}"))
                    .body(vec![])
                    .unwrap(),
            ),
            (
                "4,000 query pairs",
                Request::get(format!("/auth?{}", "scope=read:all&".repeat(4_000)))
                    .header("authorization", format!("Bearer {admin}"))
                    .body(vec![])
                    .unwrap(),
            ),
            (
                "60 KB path",
                Request::get(format!("/auth/api/v1/users/{long}/tokens"))
                    .header("authorization", format!("Bearer {admin}"))
                    .body(vec![])
                    .unwrap(),
            ),
            (
                "60 KB username in body",
                Request::post("/auth/api/v1/sessions")
                    .header("authorization", format!("Bearer {admin}"))
                    .body(format!("{{\"username\":\"{}\"}}", "a".repeat(60_000)).into_bytes())
                    .unwrap(),
            ),
            (
                "60 KB history cursor",
                Request::get(format!("/auth/api/v1/history/token-changes?cursor={long}"))
                    .header("authorization", format!("Bearer {admin}"))
                    .body(vec![])
                    .unwrap(),
            ),
        ];
        for (what, request) in requests {
            let response = api.handle(request, Some("198.51.100.7")).await;
            let status = response.status();
            // Many small headers or one large unrelated header do not make a request invalid
            // (the host's HTTP server bounds them), nor does an admin reading a long, unknown
            // username's (empty) token list; they must only not fail.
            let may_succeed = what.contains("headers") || what.contains("other header") || what.contains("path");
            assert!(
                status.is_client_error() || (may_succeed && status.is_success()),
                "{what}: {status} {}",
                String::from_utf8_lossy(&response.body()[..response.body().len().min(300)])
            );
        }
    });
}
