//! The JWT session manager: sessions, rotation with grace and reuse detection, API tokens.

mod common;

use common::*;
use portcullis::jwt::{Algorithm, JwtKeys, SigningKey};
use portcullis::{Datasets, Error, JwtSessionManager, JwtSettings, Permission, SessionError, SessionRef, TokenPair};

const PASSPHRASE: &str = "correct horse battery staple";

/// A fixed HS512 key (the passphrase derivation is slow in debug builds; one test uses it).
fn keys() -> JwtKeys {
    JwtKeys::new(SigningKey::from_bytes(Algorithm::Hs512, &[42; 64]).unwrap())
}

fn manager(h: &Harness) -> JwtSessionManager {
    JwtSessionManager::new(h.env.clone(), key_ring(), keys(), JwtSettings::default())
}

fn kind(result: Result<impl std::fmt::Debug, Error>) -> &'static str {
    match result {
        Err(e) => e.kind(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

async fn login(m: &JwtSessionManager, user: &str) -> TokenPair {
    m.create_session(user, &scopes(&["read:all"])).await.unwrap()
}

#[test]
fn create_validate_and_expire() {
    run(async {
        let h = Harness::new().await;
        let m = manager(&h);
        let pair = login(&m, "alice").await;
        assert_eq!((pair.token_type, pair.expires_in), ("Bearer", 900));
        let user = m.validate_session(&pair.access_token).await.unwrap();
        assert_eq!((user.username.as_str(), user.issuer.as_str(), user.expires_at), ("alice", "portcullis", NOW + 900));
        assert_eq!(user.scopes, scopes(&["read:all"]));
        assert_eq!(m.session_username(&pair.access_token).await.unwrap(), "alice");
        assert_eq!(m.session_token("alice").await.unwrap().as_deref(), Some(user.jti.as_str()));
        assert!(m.has_logged_user().await.unwrap());
        // Leeway of 2 seconds, then expired.
        h.clock.advance(902);
        m.validate_session(&pair.access_token).await.unwrap();
        h.clock.advance(1);
        assert_eq!(kind(m.validate_session(&pair.access_token).await), "session_expired");
    })
}

#[test]
fn a_passphrase_derives_the_same_key_on_every_start() {
    run(async {
        let h = Harness::new().await;
        let start = |h: &Harness| {
            let key = SigningKey::hmac_from_passphrase(Algorithm::Hs512, PASSPHRASE).unwrap();
            JwtSessionManager::new(h.env.clone(), key_ring(), JwtKeys::new(key), JwtSettings::default())
        };
        let pair = login(&start(&h), "alice").await;
        assert!(start(&h).validate_session(&pair.access_token).await.is_ok());
    })
}

#[test]
fn token_types_are_not_interchangeable() {
    run(async {
        let h = Harness::new().await;
        let m = manager(&h);
        let pair = login(&m, "alice").await;
        let err = m.refresh_session(&pair.access_token).await.unwrap_err();
        assert!(matches!(err, Error::Session(SessionError::WrongTokenType { expected: "refresh", .. })), "{err:?}");
        assert_eq!(kind(m.validate_session(&pair.refresh_token).await), "wrong_token_type");
        assert_eq!(kind(m.authenticate(&pair.refresh_token).await), "wrong_token_type");
        assert_eq!(kind(m.validate_session("not.a.jwt").await), "invalid_token_processing");
    })
}

#[test]
fn unknown_or_missing_type_is_rejected() {
    use base64::Engine;
    use hmac::{Hmac, KeyInit, Mac};
    run(async {
        let h = Harness::new().await;
        let m = manager(&h);
        let key = SigningKey::from_bytes(Algorithm::Hs512, &[42; 64]).unwrap();
        let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let header = serde_json::json!({"alg": "HS512", "kid": key.kid(), "typ": "JWT"});
        for claims in [
            serde_json::json!({"iss": "portcullis", "aud": "portcullis", "sub": "alice", "jti": "x", "iat": NOW, "exp": NOW + 60, "type": "superuser"}),
            serde_json::json!({"iss": "portcullis", "aud": "portcullis", "sub": "alice", "jti": "x", "iat": NOW, "exp": NOW + 60}),
        ] {
            let signing_input = format!("{}.{}", b64(&header), b64(&claims));
            let mut mac = <Hmac<sha2::Sha512> as KeyInit>::new_from_slice(&key.to_bytes()).unwrap();
            mac.update(signing_input.as_bytes());
            let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
            let token = format!("{signing_input}.{sig}");
            let err = m.authenticate(&token).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::Session(SessionError::InvalidTokenProcessing(_) | SessionError::WrongTokenType { .. })
                ),
                "{err:?}"
            );
        }
    })
}

#[test]
fn rotation_kills_the_old_pair() {
    run(async {
        let h = Harness::new().await;
        let m = manager(&h);
        let first = login(&m, "alice").await;
        h.clock.advance(60);
        let second = m.refresh_session(&first.refresh_token).await.unwrap();
        assert_ne!(second.access_token, first.access_token);
        assert_eq!(kind(m.validate_session(&first.access_token).await), "access_token_not_found");
        assert_eq!(m.validate_session(&second.access_token).await.unwrap().expires_at, NOW + 60 + 900);
        let third = m.refresh_session(&second.refresh_token).await.unwrap();
        assert!(m.validate_session(&third.access_token).await.is_ok());
        assert_eq!(m.n_active_sessions().await.unwrap(), 1);
    })
}

#[test]
fn a_retry_within_grace_gets_the_same_pair_and_a_reuse_after_it_kills_the_family() {
    run(async {
        let h = Harness::new().await;
        let m = manager(&h);
        let first = login(&m, "alice").await;
        let second = m.refresh_session(&first.refresh_token).await.unwrap();
        h.clock.advance(10);
        let retried = m.refresh_session(&first.refresh_token).await.unwrap();
        assert_eq!(retried.access_token, second.access_token);
        assert_eq!(retried.refresh_token, second.refresh_token);
        h.clock.advance(1);
        assert_eq!(kind(m.refresh_session(&first.refresh_token).await), "refresh_token_reused");
        // The whole family is dead: the successor pair too.
        assert_eq!(kind(m.validate_session(&second.access_token).await), "access_token_not_found");
        assert!(m.refresh_session(&second.refresh_token).await.is_err());
        assert_eq!(m.n_active_sessions().await.unwrap(), 0);
    })
}

#[test]
fn fifty_concurrent_refreshes_make_one_successor() {
    run(async {
        let h = Harness::new().await;
        let m = manager(&h);
        let first = login(&m, "alice").await;
        h.faults.set_yielding(true);
        let results = futures::future::join_all((0..50).map(|_| m.refresh_session(&first.refresh_token))).await;
        let pairs: Vec<TokenPair> = results.into_iter().map(|r| r.unwrap()).collect();
        assert!(pairs.iter().all(|p| p == &pairs[0]));
        assert_eq!(h.count("SELECT COUNT(*) FROM refresh_token").await, 2);
        assert_eq!(h.count("SELECT COUNT(*) FROM access_token").await, 1);
        assert!(m.validate_session(&pairs[0].access_token).await.is_ok());
    })
}

#[test]
fn invalidate_by_token_and_by_jti() {
    run(async {
        let h = Harness::new().await;
        let m = manager(&h);
        let a = login(&m, "alice").await;
        let b = login(&m, "bob").await;
        assert_eq!(m.invalidate_session(SessionRef::Token(&a.access_token)).await.unwrap().as_deref(), Some("alice"));
        assert!(m.validate_session(&a.access_token).await.is_err());
        assert!(m.refresh_session(&a.refresh_token).await.is_err());
        let jti = m.validate_session(&b.access_token).await.unwrap().jti;
        assert_eq!(m.invalidate_session(SessionRef::Jti(&jti)).await.unwrap().as_deref(), Some("bob"));
        assert!(m.validate_session(&b.access_token).await.is_err());
        assert_eq!(m.invalidate_session(SessionRef::Jti(&jti)).await.unwrap(), None);
    })
}

#[test]
fn the_limit_is_typed_and_cleanup_frees_it() {
    run(async {
        let h = Harness::new().await;
        let m = manager(&h);
        for i in 0..10 {
            login(&m, &format!("user{i}")).await;
        }
        let err = m.create_session("late", &[]).await.unwrap_err();
        assert!(matches!(err, Error::Session(SessionError::LimitReached { limit: 10, .. })), "{err:?}");
        h.clock.advance(86_400);
        assert_eq!(m.cleanup_expired_sessions().await.unwrap(), 10);
        login(&m, "late").await;
    })
}

#[test]
fn api_tokens_carry_datasets_and_can_be_revoked() {
    run(async {
        let h = Harness::new().await;
        let m = manager(&h);
        let mut datasets = Datasets::new();
        datasets.insert("plants/*".into(), vec![Permission::Read, Permission::Write]);
        datasets.insert("admin".into(), vec![Permission::ManageUsers]);
        let token = m.create_api_token("alice", None, datasets.clone()).await.unwrap();
        let user = m.authenticate(&token).await.unwrap();
        assert_eq!(user.datasets.as_ref(), Some(&datasets));
        assert_eq!(user.expires_at, NOW + 3600);
        assert_eq!(kind(m.validate_session(&token).await), "wrong_token_type");
        let stored =
            h.count("SELECT COUNT(*) FROM api_token WHERE username = 'alice' AND datasets LIKE '%manage_users%'").await;
        assert_eq!(stored, 1);
        assert!(m.invalidate_api_token(SessionRef::Token(&token)).await.unwrap());
        assert_eq!(kind(m.authenticate(&token).await), "api_token_not_found");
        assert!(!m.invalidate_api_token(SessionRef::Jti(&user.jti)).await.unwrap());
    })
}

#[test]
fn stored_keys_are_made_once_shared_and_rotated() {
    run(async {
        let h = Harness::new().await;
        let a = JwtSessionManager::with_stored_keys(h.env.clone(), key_ring(), JwtSettings::default());
        let first = login(&a, "alice").await;
        let jwks = a.jwks().await.unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
        // Another instance reads the same key from SQL (sealed there, never in clear).
        let b = JwtSessionManager::with_stored_keys(h.env.clone(), key_ring(), JwtSettings::default());
        assert!(b.validate_session(&first.access_token).await.is_ok());
        assert_eq!(h.count("SELECT COUNT(*) FROM jwt_key").await, 1);
        // Rotation on one: new tokens carry the new kid; the other picks it up; old tokens verify.
        let kid = a.rotate_stored_key(Algorithm::Es256).await.unwrap();
        let second = login(&a, "bob").await;
        let header = portcullis::jwt::inspect(&second.access_token, &Default::default()).unwrap();
        assert_eq!(header.header().kid.as_deref(), Some(kid.as_str()));
        assert!(b.validate_session(&second.access_token).await.is_ok());
        assert!(b.validate_session(&first.access_token).await.is_ok());
        assert_eq!(b.jwks().await.unwrap()["keys"].as_array().unwrap().len(), 2);
    })
}
