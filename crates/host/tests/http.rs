//! The real component under the real host, over HTTP: the README's curl session, error
//! statuses, oversize bodies, traps, and what the log may say.

mod common;

use std::time::{Duration, Instant};

use common::Server;
use serde_json::json;

const SCOPES: (&str, &str) = ("PORTCULLIS_KNOWN_SCOPES", "read:all,write:files");

/// Makes a user token for alice with the bootstrap token; returns (token, key).
fn alice_token(server: &Server, bootstrap: &str) -> (String, String) {
    alice_token_named(server, bootstrap, "laptop")
}

/// [`alice_token`] with another token name (one per token of a user).
fn alice_token_named(server: &Server, bootstrap: &str, name: &str) -> (String, String) {
    let created = server.request(
        "POST",
        "/auth/api/v1/tokens",
        Some(bootstrap),
        Some(&json!({"username": "alice", "token_type": "user", "token_name": name, "scopes": ["read:all"], "email": "alice@example.com"})),
    );
    assert_eq!(created.status, 201, "{:?}", created.json());
    let token = created.json()["token"].as_str().unwrap().to_owned();
    let key = token["pc-".len()..].split('.').next().unwrap().to_owned();
    assert_eq!(created.header("location"), Some(format!("/auth/api/v1/users/alice/tokens/{key}").as_str()));
    (token, key)
}

#[test]
fn curl_session_on_a_fresh_data_directory() {
    let server = Server::start(&[SCOPES]);
    let health = server.request("GET", "/health", None, None);
    assert_eq!((health.status, health.json()), (200, json!({"status": "ok"})));

    // First run: the data directory holds a bootstrap token and an encryption key, owner-only.
    let bootstrap = server.bootstrap_token();
    for file in ["bootstrap-token", "encryption-keys", "portcullis.sqlite", "kv.sqlite"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(server.data_dir().join(file)).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{file} is mode {mode:o}");
    }

    let (token, key) = alice_token(&server, &bootstrap);
    let ok = server.request("GET", "/auth?scope=read:all", Some(&token), None);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("x-auth-request-user"), Some("alice"));
    assert_eq!(ok.header("x-auth-request-email"), Some("alice@example.com"));

    let list = server.request("GET", "/auth/api/v1/users/alice/tokens", Some(&token), None);
    assert_eq!(list.status, 200);
    assert_eq!(list.json()[0]["token"], json!(key));
    assert_eq!(list.json()[0]["token_name"], json!("laptop"));

    let deleted = server.request("DELETE", &format!("/auth/api/v1/users/alice/tokens/{key}"), Some(&bootstrap), None);
    assert_eq!(deleted.status, 204);
    let gone = server.request("GET", "/auth?scope=read:all", Some(&token), None);
    assert_eq!(gone.status, 401);
    assert_eq!(gone.header("www-authenticate"), Some("Bearer realm=\"portcullis\", error=\"invalid_token\""));
    assert_eq!(gone.error_type(), "invalid_token");

    // The session endpoints work with no settings at all (the core keeps a generated JWT key).
    let session =
        server.request("POST", "/auth/api/v1/sessions", Some(&bootstrap), Some(&json!({"username": "carol"})));
    assert_eq!(session.status, 200, "{:?}", session.json());
    let access = session.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(server.request("GET", "/auth/api/v1/token-info", Some(&access), None).status, 200);
    assert_eq!(
        server.request("GET", "/.well-known/jwks.json", None, None).json()["keys"].as_array().map(Vec::len),
        Some(1)
    );

    // One line per request with method, path, status and latency; no token in any of them
    // (the bootstrap token is printed once, on the run that creates it).
    assert!(server.wait_for_log("GET /auth 401 "), "{:#?}", server.log_lines());
    let lines = server.log_lines();
    assert!(lines
        .iter()
        .any(|l| l.starts_with("DELETE /auth/api/v1/users/alice/tokens/") && l.contains(" 204 ") && l.ends_with("ms")));
    let secret = token.split('.').nth(1).unwrap();
    assert!(lines.iter().all(|l| !l.contains(secret)), "{lines:#?}");
    let bootstrap_secret = bootstrap.split('.').nth(1).unwrap();
    assert_eq!(lines.iter().filter(|l| l.contains(bootstrap_secret)).count(), 1, "{lines:#?}");
}

/// A repeated `/auth` is answered again by the host (the log says "reused") until anything
/// writes to KV: a revocation in this process, or another process's write to the same file.
#[test]
fn repeated_auth_is_answered_again_until_kv_changes() {
    let server = Server::start(&[SCOPES]);
    let bootstrap = server.bootstrap_token();
    let (token, key) = alice_token(&server, &bootstrap);
    let auth = |token: &str| server.request("GET", "/auth?scope=read:all", Some(token), None);
    for _ in 0..3 {
        let ok = auth(&token);
        assert_eq!((ok.status, ok.header("x-auth-request-user")), (200, Some("alice")));
        assert_eq!(ok.header("x-auth-request-email"), Some("alice@example.com"));
    }
    assert!(server.wait_for_log("GET /auth 200 "), "{:#?}", server.log_lines());
    assert!(server.wait_for_log(" reused"), "{:#?}", server.log_lines());

    // The answer depends on the browser marks: the bootstrap token is refused from a browser,
    // however recently it passed without them.
    let admin = |headers: &[(&str, &str)]| {
        let auth = format!("Bearer {bootstrap}");
        let mut all = vec![("authorization", auth.as_str())];
        all.extend_from_slice(headers);
        server.raw("GET", "/auth?scope=admin:token", &all, b"").status
    };
    assert_eq!((admin(&[]), admin(&[])), (200, 200));
    assert_eq!(admin(&[("origin", "https://evil.example")]), 403);
    assert_eq!(admin(&[("sec-fetch-site", "cross-site")]), 403);

    // A revocation through the API ends it at once.
    let deleted = server.request("DELETE", &format!("/auth/api/v1/users/alice/tokens/{key}"), Some(&bootstrap), None);
    assert_eq!(deleted.status, 204);
    assert_eq!(auth(&token).status, 401);

    // So does another process's write to the KV file, within SQLite's snapshot window (1 ms):
    // here a second connection deletes the record behind the server's back.
    let (token, key) = alice_token_named(&server, &bootstrap, "desktop");
    assert_eq!((auth(&token).status, auth(&token).status), (200, 200));
    let other = portcullis_native::SqliteKv::open(&server.data_dir().join("kv.sqlite")).unwrap();
    futures::executor::block_on(portcullis::Kv::delete(&other, &format!("token:{key}"))).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(auth(&token).status, 401);
}

/// A kept answer depends on the KV keys its call read: writes to other keys (another token
/// created, used and revoked) leave it be; a write to its token's record ends it at once.
#[test]
fn kept_auth_answers_outlive_writes_to_other_keys() {
    let server = Server::start(&[SCOPES]);
    let bootstrap = server.bootstrap_token();
    let (token, key) = alice_token(&server, &bootstrap);
    let checks = std::cell::Cell::new(0);
    let auth = |token: &str| {
        checks.set(checks.get() + 1);
        server.request("GET", "/auth?scope=read:all", Some(token), None).status
    };
    // The last /auth line in the log, once every check has been logged.
    let last_check = || {
        assert!(server.wait_for_logs("GET /auth ", checks.get()), "{:#?}", server.log_lines());
        server.log_lines().into_iter().rfind(|l| l.contains("GET /auth ")).unwrap()
    };
    // The answer is kept for a second; should this machine take longer than that for the
    // requests in between, the attempt is made again (at most 3 times).
    let mut attempts = 0;
    loop {
        attempts += 1;
        let started = Instant::now();
        // The first check records the token's use (a write), so the second is the one kept.
        assert_eq!([auth(&token), auth(&token), auth(&token)], [200; 3]);
        assert!(last_check().contains(" reused"));
        let (other, other_key) = alice_token_named(&server, &bootstrap, &format!("phone {attempts}"));
        assert_eq!(auth(&other), 200);
        let revoked =
            server.request("DELETE", &format!("/auth/api/v1/users/alice/tokens/{other_key}"), Some(&bootstrap), None);
        assert_eq!(revoked.status, 204);
        assert_eq!(auth(&other), 401);
        assert_eq!(auth(&token), 200);
        if started.elapsed() < Duration::from_millis(800) {
            let line = last_check();
            assert!(line.contains(" reused"), "{line}");
            break;
        }
        assert!(attempts < 3, "three attempts took longer than the answer is kept");
    }

    let deleted = server.request("DELETE", &format!("/auth/api/v1/users/alice/tokens/{key}"), Some(&bootstrap), None);
    assert_eq!(deleted.status, 204);
    assert_eq!(auth(&token), 401);
}

/// With `--no-reuse` every request goes to the component.
#[test]
fn no_reuse_calls_the_component_every_time() {
    let server = Server::start_with(&["--no-reuse"], &[SCOPES]);
    let bootstrap = server.bootstrap_token();
    let (token, _) = alice_token(&server, &bootstrap);
    for _ in 0..3 {
        assert_eq!(server.request("GET", "/auth?scope=read:all", Some(&token), None).status, 200);
    }
    assert!(server.wait_for_log("GET /auth 200 "), "{:#?}", server.log_lines());
    server.request("GET", "/health", None, None);
    assert!(server.wait_for_log("GET /health 200 "), "{:#?}", server.log_lines());
    assert!(server.log_lines().iter().all(|l| !l.contains("reused")), "{:#?}", server.log_lines());
}

#[test]
fn error_statuses() {
    let server = Server::start(&[SCOPES]);
    let bootstrap = server.bootstrap_token();
    let (token, _) = alice_token(&server, &bootstrap);

    let malformed =
        server.raw("POST", "/auth/api/v1/tokens", &[("authorization", &format!("Bearer {bootstrap}"))], b"{not json");
    assert_eq!((malformed.status, malformed.error_type().as_str()), (400, "invalid_request"));

    let anonymous = server.request("GET", "/auth/api/v1/token-info", None, None);
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer realm=\"portcullis\""));
    let forged = server.request(
        "GET",
        "/auth/api/v1/token-info",
        Some("pc-AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"),
        None,
    );
    assert_eq!((forged.status, forged.error_type().as_str()), (401, "invalid_token"));

    let forbidden = server.request("GET", "/auth?scope=write:files", Some(&token), None);
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        forbidden.header("www-authenticate"),
        Some("Bearer realm=\"portcullis\", error=\"insufficient_scope\", scope=\"write:files\"")
    );

    let no_route = server.request("GET", "/no/such/route", None, None);
    assert_eq!((no_route.status, no_route.error_type().as_str()), (404, "not_found"));
    let no_token =
        server.request("GET", "/auth/api/v1/users/alice/tokens/AAAAAAAAAAAAAAAAAAAAAA", Some(&bootstrap), None);
    assert_eq!(no_token.status, 404);

    let wrong_method = server.request("DELETE", "/health", None, None);
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("GET"));

    let unknown_scope = server.request(
        "POST",
        "/auth/api/v1/users/alice/tokens",
        Some(&bootstrap),
        Some(&json!({"token_name": "x", "scopes": ["no:such-scope"]})),
    );
    assert_eq!(unknown_scope.status, 422, "{:?}", unknown_scope.json());
    let wrong_type =
        server.request("POST", "/auth/api/v1/tokens", Some(&bootstrap), Some(&json!({"username": 7, "scopes": "x"})));
    assert_eq!(wrong_type.status, 422, "{:?}", wrong_type.json());
}

#[test]
fn oversize_bodies_get_413() {
    let server = Server::start(&[]);
    let bootstrap = server.bootstrap_token();
    let auth = format!("Bearer {bootstrap}");
    // A declared length over the limit is refused before the body is read: none is sent.
    let started = Instant::now();
    let declared = server.send("POST", "/auth/api/v1/tokens", &[("authorization", &auth)], Some(10 << 20), b"");
    assert_eq!((declared.status, declared.error_type().as_str()), (413, "invalid_request"));
    assert!(started.elapsed() < Duration::from_secs(5));
    // A chunked body is read up to the limit only.
    let chunk = vec![b' '; 8192];
    let mut chunked = Vec::new();
    for _ in 0..10 {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let streamed = server.send(
        "POST",
        "/auth/api/v1/tokens",
        &[("authorization", &auth), ("transfer-encoding", "chunked")],
        None,
        &chunked,
    );
    assert_eq!(streamed.status, 413);
    // The server is still fine.
    assert_eq!(server.request("GET", "/health", None, None).status, 200);
}

/// Requests without a body take `bodyless-http` (one call); the same requests sent with an
/// empty chunked body go through `wasi:http`. Both must answer alike.
#[test]
fn bodyless_and_wasi_http_requests_get_the_same_answers() {
    let server = Server::start(&[SCOPES]);
    let bootstrap = server.bootstrap_token();
    let (token, _) = alice_token(&server, &bootstrap);
    let bearer = format!("Bearer {token}");
    let admin = format!("Bearer {bootstrap}");
    // Method, path and headers of each request.
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
    let cases: [Case; 10] = [
        ("GET", "/auth?scope=read:all", &[("authorization", &bearer)]),
        ("GET", "/auth?scope=write:files", &[("authorization", &bearer)]),
        ("GET", "/auth?scope=read:all", &[("authorization", "Bearer pc-nope.nope")]),
        ("GET", "/auth?scope=read:all", &[]),
        ("GET", "/auth/api/v1/users/alice/tokens", &[("authorization", &admin)]),
        ("HEAD", "/health", &[]),
        ("OPTIONS", "/auth", &[]),
        ("DELETE", "/auth/api/v1/users/alice/tokens/AAAAAAAAAAAAAAAAAAAAAA", &[("authorization", &admin)]),
        ("PUT", "/auth", &[("authorization", &bearer)]),
        ("GET", "/no/such/path", &[]),
    ];
    for (method, path, headers) in cases {
        let bodyless = server.send(method, path, headers, Some(0), b"");
        let mut chunked = headers.to_vec();
        chunked.push(("transfer-encoding", "chunked"));
        let streamed = server.send(method, path, &chunked, None, b"0\r\n\r\n");
        let comparable = |headers: &[(String, String)]| {
            let mut kept: Vec<_> = headers.iter().filter(|(name, _)| name != "date").cloned().collect();
            kept.sort();
            kept
        };
        assert_eq!(
            (bodyless.status, comparable(&bodyless.headers), &bodyless.body),
            (streamed.status, comparable(&streamed.headers), &streamed.body),
            "{method} {path}"
        );
    }
}

/// The history records the address the request came from, never one a client claims in the
/// header the host uses to tell the guest (on both paths into the guest).
#[test]
fn the_client_address_is_the_peers_and_cannot_be_claimed() {
    let server = Server::start(&[SCOPES]);
    let bootstrap = server.bootstrap_token();
    let admin = format!("Bearer {bootstrap}");
    let spoofed = ("x-portcullis-client-ip", "203.0.113.9");
    let body = json!({"username": "alice", "token_type": "user", "token_name": "spoofed", "scopes": ["read:all"]});
    let body = serde_json::to_vec(&body).unwrap();
    let headers = [("authorization", admin.as_str()), ("content-type", "application/json"), spoofed];
    // A request with a body: through `wasi:http`.
    let created = server.raw("POST", "/auth/api/v1/tokens", &headers, &body);
    assert_eq!(created.status, 201, "{:?}", created.json());
    let key = created.json()["token"].as_str().unwrap()["pc-".len()..].split('.').next().unwrap().to_owned();
    // Without one: through `bodyless-http`.
    let path = format!("/auth/api/v1/users/alice/tokens/{key}");
    assert_eq!(server.send("DELETE", &path, &[("authorization", &admin), spoofed], Some(0), b"").status, 204);

    let history = server.request("GET", "/auth/api/v1/users/alice/token-change-history", Some(&bootstrap), None);
    assert_eq!(history.status, 200);
    let entries = history.json();
    let seen: Vec<_> =
        entries.as_array().unwrap().iter().map(|e| (e["action"].clone(), e["ip_address"].clone())).collect();
    assert_eq!(seen, [(json!("revoke"), json!("127.0.0.1")), (json!("create"), json!("127.0.0.1"))]);
}

#[test]
fn a_trap_fails_one_request_only() {
    let server = Server::start(&[("PORTCULLIS_HOST_TEST_TRAP_PATH", "/__trap")]);
    for _ in 0..3 {
        let trapped = server.request("GET", "/__trap", None, None);
        assert_eq!((trapped.status, trapped.error_type().as_str()), (500, "internal_error"));
        assert_eq!(server.request("GET", "/health", None, None).status, 200);
    }
    assert!(server.wait_for_log("GET /__trap 500 "), "{:#?}", server.log_lines());
    assert!(server.log_lines().iter().any(|l| l.contains("trap")));
}

#[test]
fn latency_of_auth_checks() {
    let server = Server::start(&[SCOPES]);
    let (token, _) = alice_token(&server, &server.bootstrap_token());
    let mut times = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        assert_eq!(server.request("GET", "/auth?scope=read:all", Some(&token), None).status, 200);
        times.push(started.elapsed());
    }
    times.sort();
    eprintln!(
        "GET /auth over loopback, one connection per request, 200 requests: p50 {:?}, p95 {:?}, max {:?}",
        times[times.len() / 2],
        times[times.len() * 95 / 100],
        times[times.len() - 1]
    );
}
