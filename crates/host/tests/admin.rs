//! The operator's commands on a data directory.

mod common;

use std::process::Command;

use common::Server;
use serde_json::json;

fn portcullis(data: &std::path::Path, args: &[&str]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PORTCULLIS_")) {
        command.env_remove(k);
    }
    let output = command
        .args(args)
        .arg("--data")
        .arg(data)
        .arg("--component")
        .arg(common::component())
        .env("PORTCULLIS_HOST_CACHE_DIR", common::cache_dir())
        .output()
        .expect("running portcullis");
    assert!(output.status.success(), "portcullis {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn bootstrap_token_expire_audit_and_key_rotation() {
    let temp = tempfile::TempDir::new().unwrap();
    let data = temp.path().join("data");
    let server = Server::start_at(&data, &[]);
    assert_eq!(portcullis(&data, &["bootstrap-token"]).trim(), server.bootstrap_token());
    let bootstrap = server.bootstrap_token();
    let created = server.request(
        "POST",
        "/auth/api/v1/tokens",
        Some(&bootstrap),
        Some(&json!({"username": "bot-ci", "token_type": "service", "scopes": []})),
    );
    assert_eq!(created.status, 201, "{:?}", created.json());
    let token = created.json()["token"].as_str().unwrap().to_owned();

    assert!(portcullis(&data, &["expire"]).contains("expired 0 tokens"));
    assert!(portcullis(&data, &["audit"]).contains("0 issues"));

    // A new primary key; records sealed with the old one still open, and audit --fix reseals them.
    assert!(portcullis(&data, &["rotate-key"]).contains("new primary encryption key k2"));
    let keys = std::fs::read_to_string(data.join("encryption-keys")).unwrap();
    assert_eq!(keys.lines().map(|l| l.split(':').next().unwrap()).collect::<Vec<_>>(), ["k2", "k1"]);
    drop(server);
    let restarted = Server::start_at(&data, &[]);
    assert_eq!(restarted.request("GET", "/auth/api/v1/token-info", Some(&token), None).status, 200);
    let audit = portcullis(&data, &["audit", "--fix"]);
    assert!(audit.contains("fixed old_encryption_key"), "{audit}");
    assert!(portcullis(&data, &["audit"]).contains("0 issues"));
    assert_eq!(restarted.request("GET", "/auth/api/v1/token-info", Some(&token), None).status, 200);
}
