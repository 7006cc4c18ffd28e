//! Two `portcullis serve` processes sharing PostgreSQL and Redis (started by
//! `scripts/services.sh`, which exports TEST_POSTGRES_URL and TEST_REDIS_URL): a
//! token made on one validates on the other, and a revocation on one is seen by the other at once.

mod common;

use common::Server;
use portcullis_native::PostgresSql;
use serde_json::json;

const KEYS: &str = "k1:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
const BOOTSTRAP: &str = "pc-AAAAAAAAAAAAAAAAAAAAAA.c2VjcmV0LXNlY3JldC1zZQ";

fn url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run this through scripts/host-test.sh"))
}

/// A schema of its own, so reruns start empty.
fn fresh_schema(name: &str) -> String {
    let base = url("TEST_POSTGRES_URL");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let admin = PostgresSql::connect(&base, 1).unwrap();
        admin.execute_send(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"), &[]).await.unwrap();
        admin.execute_send(&format!("CREATE SCHEMA {name}"), &[]).await.unwrap();
    });
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{name}")
}

#[test]
fn two_processes_share_tokens_and_revocations() {
    let sql = fresh_schema("host_shared");
    let kv = url("TEST_REDIS_URL");
    let env = [
        ("PORTCULLIS_HOST_SQL", sql.as_str()),
        ("PORTCULLIS_HOST_KV", kv.as_str()),
        ("PORTCULLIS_ENCRYPTION_KEYS", KEYS),
        ("PORTCULLIS_BOOTSTRAP_TOKEN", BOOTSTRAP),
        ("PORTCULLIS_KNOWN_SCOPES", "read:all"),
    ];
    let a = Server::start(&env);
    let b = Server::start(&env);

    let created = a.request(
        "POST",
        "/auth/api/v1/tokens",
        Some(BOOTSTRAP),
        Some(&json!({"username": "alice", "token_type": "user", "token_name": "shared", "scopes": ["read:all"]})),
    );
    assert_eq!(created.status, 201, "{:?}", created.json());
    let token = created.json()["token"].as_str().unwrap().to_owned();
    let key = token["pc-".len()..].split('.').next().unwrap().to_owned();

    let on_b = b.request("GET", "/auth?scope=read:all", Some(&token), None);
    assert_eq!((on_b.status, on_b.header("x-auth-request-user")), (200, Some("alice")));
    let listed = b.request("GET", "/auth/api/v1/users/alice/tokens", Some(BOOTSTRAP), None);
    assert_eq!(listed.json()[0]["token"], json!(key));

    let deleted = b.request("DELETE", &format!("/auth/api/v1/users/alice/tokens/{key}"), Some(BOOTSTRAP), None);
    assert_eq!(deleted.status, 204);
    let on_a = a.request("GET", "/auth?scope=read:all", Some(&token), None);
    assert_eq!(on_a.status, 401, "a revocation on one process is seen by the other at once");
    assert!(on_a.header("www-authenticate").is_some());
}
