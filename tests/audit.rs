//! The audit finds each kind of inconsistency and `fix` repairs it.

mod common;

use common::*;
use portcullis::{AuditKind, EncryptionKey, KeyRing, Kv, Sql, TokenService};

fn issue_kinds(report: &portcullis::AuditReport) -> Vec<AuditKind> {
    report.issues.iter().map(|i| i.kind).collect()
}

/// Audits, expects exactly `kind` once, fixes, and expects a clean second audit.
async fn finds_and_fixes(h: &Harness, kind: AuditKind) {
    let report = h.service.audit(false).await.unwrap();
    assert_eq!(issue_kinds(&report), vec![kind], "{report:?}");
    assert!(!report.issues[0].fixed);
    let fixed = h.service.audit(true).await.unwrap();
    assert_eq!(issue_kinds(&fixed), vec![kind]);
    assert!(fixed.issues[0].fixed, "{fixed:?}");
    let after = h.service.audit(false).await.unwrap();
    assert!(after.is_clean(), "{after:?}");
}

#[test]
fn a_consistent_store_audits_clean() {
    run(async {
        let h = Harness::new().await;
        let (_, session) = h.login("alice", &["read:all", "user:token"]).await;
        h.service.get_notebook_token(&session, None, None).await.unwrap();
        h.service.create_user_token(&session, "alice", "t", &[], None, None).await.unwrap();
        assert!(h.service.audit(false).await.unwrap().is_clean());
    })
}

#[test]
fn missing_from_kv() {
    run(async {
        let h = Harness::new().await;
        let (token, data) = h.login("alice", &["read:all"]).await;
        h.kv.delete(&format!("token:{}", data.key)).await.unwrap();
        finds_and_fixes(&h, AuditKind::MissingFromKv).await;
        assert_eq!(h.count("SELECT COUNT(*) FROM token").await, 0);
        assert!(h.service.validate(&token).await.is_err());
    })
}

#[test]
fn missing_from_sql() {
    run(async {
        let h = Harness::new().await;
        let (token, data) = h.login("alice", &["read:all"]).await;
        h.sql.execute("DELETE FROM token WHERE key = ?", &[data.key.as_str().into()]).await.unwrap();
        finds_and_fixes(&h, AuditKind::MissingFromSql).await;
        assert!(h.service.validate(&token).await.is_err());
    })
}

#[test]
fn field_mismatch() {
    run(async {
        let h = Harness::new().await;
        let (token, data) = h.login("alice", &["read:all", "exec:notebook"]).await;
        h.sql.execute("UPDATE token SET scopes = 'read:all' WHERE key = ?", &[data.key.as_str().into()]).await.unwrap();
        finds_and_fixes(&h, AuditKind::Mismatch).await;
        assert_eq!(h.service.validate(&token).await.unwrap().scopes, scopes(&["read:all"]));
    })
}

#[test]
fn child_outliving_its_parent() {
    run(async {
        let h = Harness::new().await;
        let (_, session) = h.login("alice", &["read:all"]).await;
        let child = h.service.get_notebook_token(&session, None, None).await.unwrap();
        // The child's row is made to outlive the parent (so its KV record disagrees too).
        let longer = NOW + 40 * DAY;
        h.sql
            .execute("UPDATE token SET expires = ? WHERE key = ?", &[longer.into(), child.key().as_str().into()])
            .await
            .unwrap();
        let report = h.service.audit(false).await.unwrap();
        assert_eq!(issue_kinds(&report), vec![AuditKind::Mismatch, AuditKind::OutlivesParent], "{report:?}");
        let fixed = h.service.audit(true).await.unwrap();
        assert!(fixed.issues.iter().all(|i| i.fixed), "{fixed:?}");
        assert!(h.service.audit(false).await.unwrap().is_clean());
        // Capped to the parent's expiry in both stores.
        assert_eq!(h.service.validate(&h.service.encode(&child)).await.unwrap().expires, Some(NOW + 30 * DAY));
        assert_eq!(
            h.service.get_token_info(&session, "alice", child.key()).await.unwrap().expires,
            Some(NOW + 30 * DAY)
        );
    })
}

#[test]
fn orphaned_child() {
    run(async {
        let h = Harness::new().await;
        let (_, session) = h.login("alice", &["read:all"]).await;
        let child = h.service.get_notebook_token(&session, None, None).await.unwrap();
        // The parent row vanishes without the service (ON DELETE SET NULL orphans the child).
        h.sql.execute("DELETE FROM token WHERE key = ?", &[session.key.as_str().into()]).await.unwrap();
        h.kv.delete(&format!("token:{}", session.key)).await.unwrap();
        finds_and_fixes(&h, AuditKind::Orphaned).await;
        assert!(h.service.validate(&h.service.encode(&child)).await.is_err());
    })
}

#[test]
fn unknown_scopes() {
    run(async {
        let h = Harness::new().await;
        let (token, _) = h.login("alice", &["read:all", "write:files"]).await;
        // The configuration drops write:files.
        let mut config = config();
        config.known_scopes.retain(|s| s != "write:files");
        let h2 = Harness { service: TokenService::new(h.env.clone(), key_ring(), config).unwrap(), ..h };
        finds_and_fixes(&h2, AuditKind::UnknownScopes).await;
        assert_eq!(h2.service.validate(&token).await.unwrap().scopes, scopes(&["read:all"]));
    })
}

#[test]
fn malformed_record() {
    run(async {
        let h = Harness::new().await;
        h.kv.put_raw("token:AAAAAAAAAAAAAAAAAAAAAA", b"garbage");
        finds_and_fixes(&h, AuditKind::Malformed).await;
        assert!(h.kv.keys().is_empty());
    })
}

#[test]
fn records_sealed_with_a_retired_key_are_resealed() {
    run(async {
        let h = Harness::new().await;
        let (token, _) = h.login("alice", &["read:all"]).await;
        let rotated =
            KeyRing::new(EncryptionKey::new("k2", [8; 32]).unwrap(), vec![EncryptionKey::new("k1", [7; 32]).unwrap()])
                .unwrap();
        let service = TokenService::new(h.env.clone(), rotated, config()).unwrap();
        // Rotation logs no one out.
        assert!(service.validate(&token).await.is_ok());
        let h2 = Harness { service, ..h };
        finds_and_fixes(&h2, AuditKind::OldEncryptionKey).await;
        // Now the old key can be retired.
        let retired = KeyRing::new(EncryptionKey::new("k2", [8; 32]).unwrap(), vec![]).unwrap();
        let service = TokenService::new(h2.env.clone(), retired, config()).unwrap();
        assert!(service.validate(&token).await.is_ok());
    })
}

#[test]
fn a_record_stored_under_another_key_is_malformed() {
    run(async {
        let h = Harness::new().await;
        let (_, data) = h.login("alice", &["read:all"]).await;
        // A valid record copied under another token's key (only a key holder or a bug can).
        let theirs = h.kv.get(&format!("token:{}", data.key)).await.unwrap().unwrap();
        let elsewhere = "token:QUJDREVGR0hJSktMTU5PUA";
        let resealed = key_ring().seal(
            elsewhere.as_bytes(),
            &key_ring().open(format!("token:{}", data.key).as_bytes(), &theirs).unwrap(),
            &portcullis_native::OsRandom,
        );
        h.kv.set(elsewhere, &resealed).await.unwrap();
        finds_and_fixes(&h, AuditKind::Malformed).await;
        assert!(h.kv.get(elsewhere).await.unwrap().is_none());
        assert!(h.kv.get(&format!("token:{}", data.key)).await.unwrap().is_some(), "the real record stays");
    })
}

/// A KV whose key listing takes `seconds` of the harness's clock: a slow scan.
struct SlowScan {
    inner: portcullis_native::MemoryKv,
    clock: portcullis_native::testing::MockClock,
    seconds: i64,
}

#[async_trait::async_trait(?Send)]
impl Kv for SlowScan {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, portcullis::StoreError> {
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), portcullis::StoreError> {
        self.inner.set(key, value).await
    }
    async fn set_with_ttl(&self, key: &str, value: &[u8], ttl: u64) -> Result<(), portcullis::StoreError> {
        self.inner.set_with_ttl(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), portcullis::StoreError> {
        self.inner.delete(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool, portcullis::StoreError> {
        self.inner.exists(key).await
    }
    async fn list_keys(
        &self,
        prefix: &str,
        cursor: Option<&str>,
    ) -> Result<portcullis::KeyPage, portcullis::StoreError> {
        self.clock.advance(self.seconds);
        self.inner.list_keys(prefix, cursor).await
    }
}

/// A token that expires while the audit scans KV (its record's TTL runs out, as on Redis) is
/// expired, not missing: no issue, and a fixing audit records no revocation.
#[test]
fn a_token_expiring_during_the_scan_is_not_missing_from_kv() {
    run(async {
        let h = Harness::new().await;
        let (_, session) = h.login("alice", &["read:all", "user:token"]).await;
        let expires = portcullis::Clock::now(&h.clock) + 400;
        h.service.create_user_token(&session, "alice", "short", &[], Some(expires), None).await.unwrap();
        h.clock.advance(395);
        let env = portcullis::Env {
            kv: std::rc::Rc::new(SlowScan { inner: h.kv.clone(), clock: h.clock.clone(), seconds: 10 }),
            ..h.env.clone()
        };
        let service = TokenService::new(env, key_ring(), config()).unwrap();
        let report = service.audit(true).await.unwrap();
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(h.count("SELECT COUNT(*) FROM token_change_history WHERE action = 'revoke'").await, 0);
    });
}
