//! The plugin use case end to end: a token minted by the core natively validates inside the
//! component, called directly by another wasmtime application on the same storage.

use std::path::PathBuf;
use std::process::Command;
use std::rc::Rc;

use portcullis::{migrate, EncryptionKey, Env, KeyRing, TokenConfig, TokenService, UserInfo};
use portcullis_embed_example::Plugin;
use portcullis_host::Storage;
use portcullis_native::testing::MockClock;
use portcullis_native::{system_millis, MemoryKv, OsRandom, SqliteSql};

/// Builds the component of this tree (release, wasm32-wasip2) and returns its path.
fn component() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .args([
            "build",
            "--locked",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "portcullis-component",
            "--target-dir",
        ])
        .arg(&target)
        .status()
        .expect("running cargo");
    assert!(status.success(), "building the component failed");
    target.join("wasm32-wasip2/release/portcullis_component.wasm")
}

#[tokio::test(flavor = "current_thread")]
async fn the_component_validates_what_the_core_minted() {
    let key = EncryptionKey::new("k1", [7; 32]).unwrap();
    let kv = MemoryKv::default();
    let sql = SqliteSql::in_memory().unwrap();
    let now = system_millis() / 1000;
    migrate(&sql, now).await.unwrap();
    let env = Env {
        kv: Rc::new(kv.clone()),
        sql: Rc::new(sql.clone()),
        clock: Rc::new(MockClock::at(now)),
        rng: Rc::new(OsRandom),
    };
    let service = TokenService::new(env, KeyRing::new(key.clone(), vec![]).unwrap(), TokenConfig::default()).unwrap();
    let user = UserInfo { email: Some("alice@example.com".into()), ..UserInfo::default() };
    let token = service.create_session_token("alice", user, &["user:token".to_owned()], None).await.unwrap();
    let token = service.encode(&token);

    let settings = [("PORTCULLIS_ENCRYPTION_KEYS".to_owned(), key.to_spec())];
    let storage = Storage::local(kv, sql);
    let component = component();
    let cache = component.parent().unwrap().join("../../tmp/portcullis-embed-example-cache");
    let mut plugin = Plugin::load(&component, Some(&cache), storage, &settings).await.unwrap();

    let data = plugin.validate(&token).await.unwrap().expect("the token is valid");
    assert_eq!((data.username.as_str(), data.token_type.as_str()), ("alice", "session"));
    assert_eq!(data.email.as_deref(), Some("alice@example.com"));
    assert_eq!(data.scopes, ["user:token"]);

    // The same instance answers again, and refuses a forged token with a typed failure.
    let forged = format!("{}x", &token[..token.len() - 1]);
    let failure = plugin.validate(&forged).await.unwrap().expect_err("a forged token is refused");
    assert_eq!(failure.kind, "invalid_token");
    assert!(!failure.message.contains(&token[25..]), "failures never carry the secret");
}
