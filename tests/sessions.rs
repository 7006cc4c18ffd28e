//! plantdb's session managers and apicrud's encrypted sessions, with state in SQL/KV.

mod common;

use common::*;
use portcullis::{
    ApicrudSessions, Error, LimitScope, NoAuth, NoAuthSessionManager, SessionError, SessionLimits, SessionManager,
    SingleSessionManager, WhenFull,
};
use serde_json::json;

fn manager(h: &Harness, timeout: i64, max: u32) -> SessionManager {
    SessionManager::new(h.env.clone(), key_ring(), timeout, max)
}

fn session_error(err: Error) -> SessionError {
    match err {
        Error::Session(e) => e,
        other => panic!("expected a session error, got {other:?}"),
    }
}

#[test]
fn create_validate_and_session_username() {
    run(async {
        let h = Harness::new().await;
        let m = manager(&h, 3600, 10);
        let id = m.create_session("alice").await.unwrap();
        assert_eq!(id.len(), 43);
        h.clock.advance(10);
        let info = m.validate_session(&id).await.unwrap();
        assert_eq!(
            (info.username.as_str(), info.created, info.last_access, info.expires),
            ("alice", NOW, NOW + 10, NOW + 3600)
        );
        assert_eq!(m.session_username(&id).await.unwrap(), "alice");
        assert_eq!(m.session_token("alice").await.unwrap().as_deref(), Some(id.as_str()));
        assert_eq!(m.session_token("bob").await.unwrap(), None);
        assert!(m.has_logged_user().await.unwrap());
        // The database holds a hash, not the id.
        assert_eq!(h.count(&format!("SELECT COUNT(*) FROM session WHERE id = '{id}'")).await, 0);
        for bad in ["", "short", "x'; DROP TABLE session; --", &"a".repeat(1000)] {
            assert_eq!(session_error(m.validate_session(bad).await.unwrap_err()), SessionError::SessionNotFound);
        }
    })
}

#[test]
fn expired_sessions_are_invalid_and_removed() {
    run(async {
        let h = Harness::new().await;
        let m = manager(&h, 60, 10);
        let id = m.create_session("alice").await.unwrap();
        let other = m.create_session("bob").await.unwrap();
        h.clock.advance(60);
        assert_eq!(
            session_error(m.validate_session(&id).await.unwrap_err()),
            SessionError::Expired { now: NOW + 60, expires: NOW + 60 }
        );
        assert_eq!(session_error(m.validate_session(&id).await.unwrap_err()), SessionError::SessionNotFound);
        assert_eq!(m.n_active_sessions().await.unwrap(), 0);
        assert!(!m.has_logged_user().await.unwrap());
        assert_eq!(m.cleanup_expired_sessions().await.unwrap(), 1);
        assert!(m.validate_session(&other).await.is_err());
    })
}

#[test]
fn the_limit_refuses_by_default() {
    run(async {
        let h = Harness::new().await;
        let m = manager(&h, 3600, 2);
        m.create_session("alice").await.unwrap();
        m.create_session("bob").await.unwrap();
        let err = session_error(m.create_session("carol").await.unwrap_err());
        assert_eq!(err, SessionError::LimitReached { scope: LimitScope::Global, limit: 2 });
        // Expired sessions do not count.
        h.clock.advance(3600);
        m.create_session("carol").await.unwrap();
    })
}

#[test]
fn per_user_limit_evicts_the_oldest() {
    run(async {
        let h = Harness::new().await;
        let limits = SessionLimits { per_user: Some(2), global: None, when_full: WhenFull::EvictOldest };
        let m = manager(&h, 3600, 0).with_limits(limits);
        let first = m.create_session("alice").await.unwrap();
        h.clock.advance(1);
        let second = m.create_session("alice").await.unwrap();
        h.clock.advance(1);
        let third = m.create_session("alice").await.unwrap();
        let bob = m.create_session("bob").await.unwrap();
        assert!(m.validate_session(&first).await.is_err());
        for id in [&second, &third, &bob] {
            m.validate_session(id).await.unwrap();
        }
        assert_eq!(m.n_active_sessions().await.unwrap(), 3);
    })
}

#[test]
fn racing_creates_cannot_exceed_the_limit() {
    run(async {
        let h = Harness::new().await;
        h.faults.set_yielding(true);
        let m = manager(&h, 3600, 3);
        let results = futures::future::join_all((0..8).map(|i| {
            let m = &m;
            async move { m.create_session(&format!("user{i}")).await }
        }))
        .await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3);
        assert_eq!(m.n_active_sessions().await.unwrap(), 3);
        // The same across two "processes" sharing the database.
        let sibling = h.sibling().await;
        sibling.faults.set_yielding(true);
        let m1 = SessionManager::new(h.env.clone(), key_ring(), 3600, 4).with_name("shared");
        let m2 = SessionManager::new(sibling.env.clone(), key_ring(), 3600, 4).with_name("shared");
        let results = futures::future::join_all((0..10).map(|i| {
            let m = if i % 2 == 0 { &m1 } else { &m2 };
            async move { m.create_session(&format!("user{i}")).await }
        }))
        .await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4);
    })
}

#[test]
fn refresh_gives_a_new_id_and_ends_the_old_one() {
    run(async {
        let h = Harness::new().await;
        let m = manager(&h, 3600, 10);
        let id = m.create_session("alice").await.unwrap();
        h.clock.advance(1800);
        let new = m.refresh_session(&id).await.unwrap();
        assert_ne!(new, id);
        assert!(m.validate_session(&id).await.is_err());
        assert_eq!(m.validate_session(&new).await.unwrap().expires, NOW + 1800 + 3600);
        assert!(m.refresh_session(&id).await.is_err());
    })
}

#[test]
fn invalidate_returns_the_username() {
    run(async {
        let h = Harness::new().await;
        let m = manager(&h, 3600, 10);
        let id = m.create_session("alice").await.unwrap();
        assert_eq!(m.invalidate_session(&id).await.unwrap().as_deref(), Some("alice"));
        assert_eq!(m.invalidate_session(&id).await.unwrap(), None);
        assert!(m.validate_session(&id).await.is_err());
    })
}

#[test]
fn single_session_manager_allows_one() {
    run(async {
        let h = Harness::new().await;
        let m = SingleSessionManager::new(h.env.clone(), key_ring(), 3600);
        let id = m.create_session("alice").await.unwrap();
        let err = session_error(m.create_session("bob").await.unwrap_err());
        assert_eq!(err, SessionError::LimitReached { scope: LimitScope::Global, limit: 1 });
        m.invalidate_session(&id).await.unwrap();
        m.create_session("bob").await.unwrap();
    })
}

#[test]
fn no_auth_only_when_enabled() {
    run(async {
        let h = Harness::new().await;
        let err = NoAuthSessionManager::new(h.env.clone(), 3600, NoAuth::Disabled).err().unwrap();
        assert_eq!(err.kind(), "no_auth_disabled");
        let m = NoAuthSessionManager::new(h.env.clone(), 3600, NoAuth::EnabledForTestsAndDemos).unwrap();
        let token = m.admin_token().to_owned();
        assert_eq!(m.create_session("anyone"), token);
        assert_eq!(m.validate_session("whatever").username, "admin");
        assert_eq!(m.session_username("x"), "admin");
        h.clock.advance(3601);
        let info = m.validate_session(&token);
        assert!(info.expires > NOW + 3601, "renewed: {info:?}");
    })
}

#[test]
fn apicrud_sessions_check_the_full_id() {
    run(async {
        let h = Harness::new().await;
        let s = ApicrudSessions::new(h.env.clone(), key_ring(), 600, "portcullis");
        let mut claims = serde_json::Map::new();
        claims.insert("name".into(), json!("Alice"));
        let session = s.create("u1", vec!["admin".into()], None, claims).await.unwrap();
        let jti = session["jti"].as_str().unwrap().to_owned();
        assert_eq!(session["sub"], json!("u1"));
        assert_eq!(session["exp"], json!(NOW + 600));
        assert_eq!(session["auth"], json!(["admin"]));
        assert_eq!(s.get("u1", &jti, Some("name")).await.unwrap(), json!("Alice"));
        assert_eq!(s.get("u1", &jti, None).await.unwrap()["iss"], json!("portcullis"));

        // Same first 8 characters, different rest: a wrong token.
        let wrong = format!("{}{}", &jti[..8], "A".repeat(14));
        assert_eq!(s.get("u1", &wrong, None).await.unwrap_err().kind(), "session_not_found");
        assert_eq!(s.get("u2", &jti, None).await.unwrap_err().kind(), "session_not_found");
        assert_eq!(s.delete("u1", &wrong).await.unwrap_err().kind(), "session_not_found");
        assert!(s.get("u1", &jti, None).await.is_ok(), "a refused delete deletes nothing");

        // Update keeps the session's expiry.
        h.clock.advance(500);
        s.update("u1", &jti, "name", json!("Alicia")).await.unwrap();
        assert_eq!(s.get("u1", &jti, Some("name")).await.unwrap(), json!("Alicia"));
        assert_eq!(s.update("u1", &jti, "exp", json!(NOW + 99_999)).await.unwrap_err().kind(), "invalid_request");
        h.clock.advance(100);
        assert!(s.get("u1", &jti, None).await.is_err(), "expired at its own expiry");

        let again = s.create("u1", vec![], Some(60), Default::default()).await.unwrap();
        let jti = again["jti"].as_str().unwrap();
        s.delete("u1", jti).await.unwrap();
        assert!(s.get("u1", jti, None).await.is_err());
        let mut reserved = serde_json::Map::new();
        reserved.insert("exp".into(), json!(1));
        assert!(s.create("u1", vec![], None, reserved).await.is_err());
    })
}
