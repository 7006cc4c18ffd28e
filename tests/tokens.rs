//! Opaque tokens end to end: validation, creation rules, deletion, modification, expiry and
//! failure atomicity, on SQLite and the in-memory KV.

mod common;

use common::*;
use portcullis::{
    ConfigError, Error, HistoryQuery, Kv, RequestError, TokenChange, TokenChanges, TokenConfig, TokenParseError,
    TokenService, TokenType,
};

#[test]
fn validate_accepts_a_token_and_reports_parse_errors() {
    run(async {
        let h = Harness::new().await;
        let (token, data) = h.login("alice", &["read:all", "user:token"]).await;
        assert_eq!(data.username, "alice");
        assert_eq!(data.token_type, TokenType::Session);
        assert_eq!(data.scopes, scopes(&["read:all", "user:token"]));
        assert_eq!(data.expires, Some(NOW + 30 * DAY));
        assert_eq!(data.user.email.as_deref(), Some("alice@example.com"));
        assert_eq!(h.service.validate_strict(&token).await.unwrap(), data);

        for (text, expected) in [
            ("", TokenParseError::Empty),
            ("pc-abc", TokenParseError::MissingSeparator),
            ("gt-AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA", TokenParseError::WrongPrefix),
            ("pc-AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.x", TokenParseError::ExtraParts),
        ] {
            match h.service.validate(text).await {
                Err(Error::Parse(e)) => assert_eq!(e, expected, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        let err = h.service.validate("").await.unwrap_err();
        assert_eq!(err.kind(), "invalid_token");
    })
}

#[test]
fn wrong_secret_reads_as_absent() {
    run(async {
        let h = Harness::new().await;
        let (token, _) = h.login("alice", &["read:all"]).await;
        let (prefix_key, secret) = token.split_once('.').unwrap();
        let other = if secret.starts_with('A') { "B" } else { "A" };
        let forged = format!("{prefix_key}.{other}{}", &secret[1..]);
        let err = h.service.validate(&forged).await.unwrap_err();
        assert!(matches!(err, Error::Request(RequestError::InvalidToken)), "{err:?}");
        assert!(!format!("{err}").contains(secret));
    })
}

#[test]
fn undecryptable_record_reads_as_absent() {
    run(async {
        let h = Harness::new().await;
        let (token, data) = h.login("alice", &["read:all"]).await;
        let kv_key = format!("token:{}", data.key);
        // Garbage bytes.
        h.kv.put_raw(&kv_key, b"not a sealed record");
        assert!(matches!(h.service.validate(&token).await, Err(Error::Request(RequestError::InvalidToken))));
        // A record sealed with a key that is not in the ring.
        let stranger = Harness::on(
            h.clock.clone(),
            portcullis_native::MemoryKv::with_clock(h.clock.now_fn()),
            portcullis_native::SqliteSql::in_memory().unwrap(),
            portcullis::KeyRing::new(portcullis::EncryptionKey::new("k9", [9; 32]).unwrap(), vec![]).unwrap(),
        )
        .await;
        let (_, other) = stranger.login("alice", &["read:all"]).await;
        let foreign = stranger.kv.get(&format!("token:{}", other.key)).await.unwrap().unwrap();
        h.kv.put_raw(&kv_key, &foreign);
        assert!(matches!(h.service.validate(&token).await, Err(Error::Request(RequestError::InvalidToken))));
    })
}

#[test]
fn expired_token_is_invalid_without_waiting() {
    run(async {
        let h = Harness::new().await;
        let (token, _) = h.login("alice", &["read:all"]).await;
        h.clock.advance(30 * DAY - 1);
        assert!(h.service.validate(&token).await.is_ok());
        h.clock.advance(1);
        assert!(matches!(h.service.validate(&token).await, Err(Error::Request(RequestError::InvalidToken))));
    })
}

#[test]
fn duplicate_token_name_is_rejected() {
    run(async {
        let h = Harness::new().await;
        let (_, session) = h.login("alice", &["read:all", "user:token"]).await;
        h.service.create_user_token(&session, "alice", "laptop", &scopes(&["read:all"]), None, None).await.unwrap();
        let err = h.service.create_user_token(&session, "alice", "laptop", &[], None, None).await.unwrap_err();
        assert!(matches!(err, Error::Request(RequestError::DuplicateTokenName { .. })), "{err:?}");
        assert_eq!(err.kind(), "duplicate_token_name");
        // The loser left nothing behind.
        assert_eq!(h.count("SELECT COUNT(*) FROM token WHERE token_type = 'user'").await, 1);
        assert_eq!(h.kv.keys().len(), 2);
        // Another user may use the same name.
        let (_, bob) = h.login("bob", &["user:token"]).await;
        h.service.create_user_token(&bob, "bob", "laptop", &[], None, None).await.unwrap();
    })
}

#[test]
fn user_token_expiry_under_five_minutes_is_rejected() {
    run(async {
        let h = Harness::new().await;
        let (_, session) = h.login("alice", &["user:token"]).await;
        for expires in [NOW - 1, NOW, NOW + 299] {
            let err = h.service.create_user_token(&session, "alice", "t", &[], Some(expires), None).await.unwrap_err();
            assert_eq!(err.kind(), "invalid_expires", "{expires}");
        }
        h.service.create_user_token(&session, "alice", "t", &[], Some(NOW + 300), None).await.unwrap();
        h.service.create_user_token(&session, "alice", "forever", &[], None, None).await.unwrap();
    })
}

#[test]
fn scopes_outside_the_creators_are_rejected() {
    run(async {
        let h = Harness::new().await;
        let (_, session) = h.login("alice", &["read:all", "user:token"]).await;
        let err = h
            .service
            .create_user_token(&session, "alice", "t", &scopes(&["write:files"]), None, None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Request(RequestError::InvalidScopes(_))), "{err:?}");
        let err =
            h.service.create_user_token(&session, "alice", "t", &scopes(&["no:such"]), None, None).await.unwrap_err();
        assert_eq!(err.kind(), "invalid_scopes");
        // An admin may grant any known scope.
        let admin = h.admin().await;
        h.service.create_user_token(&admin, "alice", "t", &scopes(&["write:files"]), None, None).await.unwrap();
        // Without user:token a user cannot make tokens; nor for someone else.
        let (_, plain) = h.login("carol", &["read:all"]).await;
        assert_eq!(
            h.service.create_user_token(&plain, "carol", "t", &[], None, None).await.unwrap_err().kind(),
            "permission_denied"
        );
        assert_eq!(
            h.service.create_user_token(&session, "carol", "t", &[], None, None).await.unwrap_err().kind(),
            "permission_denied"
        );
    })
}

#[test]
fn user_token_survives_the_session_that_made_it_and_grandchildren_do_not() {
    run(async {
        let h = Harness::new().await;
        let (_, session) = h.login("alice", &["read:all", "user:token", "exec:notebook"]).await;
        let user_token =
            h.service.create_user_token(&session, "alice", "cli", &scopes(&["read:all"]), None, None).await.unwrap();
        let notebook = h.service.get_notebook_token(&session, None, None).await.unwrap();
        let notebook_data = h.service.validate(&h.service.encode(&notebook)).await.unwrap();
        let internal =
            h.service.get_internal_token(&notebook_data, "tap", &scopes(&["read:all"]), None, None).await.unwrap();

        h.service.delete_token(&session, "alice", &session.key, Some("192.0.2.9")).await.unwrap();

        for gone in [&notebook, &internal] {
            assert!(h.service.validate(&h.service.encode(gone)).await.is_err());
        }
        assert!(h.service.validate(&h.service.encode(&user_token)).await.is_ok());
        assert_eq!(h.count("SELECT COUNT(*) FROM token").await, 1);
        // Revoke history for each, deepest first.
        let page = h
            .service
            .history(&h.admin().await, &HistoryQuery { username: Some("alice".into()), ..Default::default() })
            .await
            .unwrap();
        let revoked: Vec<_> =
            page.entries.iter().filter(|e| e.action == TokenChange::Revoke).map(|e| e.token_type).collect();
        assert_eq!(revoked, vec![TokenType::Session, TokenType::Notebook, TokenType::Internal]); // newest first
        assert!(page
            .entries
            .iter()
            .filter(|e| e.action == TokenChange::Revoke)
            .all(|e| e.ip_address.as_deref() == Some("192.0.2.9")));
    })
}

#[test]
fn users_may_delete_only_their_own_tokens() {
    run(async {
        let h = Harness::new().await;
        let (_, alice) = h.login("alice", &["user:token"]).await;
        let (_, bob) = h.login("bob", &["user:token"]).await;
        let err = h.service.delete_token(&bob, "alice", &alice.key, None).await.unwrap_err();
        assert_eq!(err.kind(), "permission_denied");
        // Naming your own username with someone else's key finds nothing.
        let err = h.service.delete_token(&bob, "bob", &alice.key, None).await.unwrap_err();
        assert_eq!(err.kind(), "not_found");
        h.service.delete_token(&h.admin().await, "alice", &alice.key, None).await.unwrap();
    })
}

#[test]
fn lowering_a_user_tokens_expiry_lowers_its_descendants() {
    run(async {
        let h = Harness::new().await;
        let admin = h.admin().await;
        let user_token = h
            .service
            .create_user_token(&admin, "alice", "long", &scopes(&["read:all", "exec:notebook"]), None, None)
            .await
            .unwrap();
        let parent = h.service.validate(&h.service.encode(&user_token)).await.unwrap();
        let notebook = h.service.get_notebook_token(&parent, None, None).await.unwrap();
        let child = h.service.validate(&h.service.encode(&notebook)).await.unwrap();
        let internal = h.service.get_internal_token(&child, "svc", &scopes(&["read:all"]), None, None).await.unwrap();
        assert_eq!(child.expires, Some(NOW + 30 * DAY));

        let new_expiry = NOW + DAY;
        let changes = TokenChanges { expires: Some(Some(new_expiry)), ..Default::default() };
        let info = h.service.modify_token(&admin, "alice", &parent.key, changes, None).await.unwrap();
        assert_eq!(info.expires, Some(new_expiry));

        for token in [&user_token, &notebook, &internal] {
            let data = h.service.validate(&h.service.encode(token)).await.unwrap();
            assert_eq!(data.expires, Some(new_expiry), "KV of {:?}", data.token_type);
            let row = h.service.get_token_info(&admin, "alice", &data.key).await.unwrap();
            assert_eq!(row.expires, Some(new_expiry), "SQL of {:?}", data.token_type);
        }
        h.clock.advance(DAY);
        assert!(h.service.validate(&h.service.encode(&internal)).await.is_err());
        let edits = h
            .count("SELECT COUNT(*) FROM token_change_history WHERE action = 'edit' AND old_expires IS NOT NULL")
            .await;
        assert_eq!(edits, 2); // the two children had an expiry; the parent had none
    })
}

#[test]
fn modify_is_admin_only_and_for_user_tokens_only() {
    run(async {
        let h = Harness::new().await;
        let admin = h.admin().await;
        let (_, session) = h.login("alice", &["user:token", "read:all"]).await;
        let token = h.service.create_user_token(&session, "alice", "a", &[], None, None).await.unwrap();
        h.service.create_user_token(&session, "alice", "b", &[], None, None).await.unwrap();
        let changes = TokenChanges { token_name: Some("renamed".into()), ..Default::default() };
        assert_eq!(
            h.service.modify_token(&session, "alice", token.key(), changes.clone(), None).await.unwrap_err().kind(),
            "permission_denied"
        );
        assert_eq!(
            h.service.modify_token(&admin, "alice", &session.key, changes.clone(), None).await.unwrap_err().kind(),
            "permission_denied"
        );
        let taken = TokenChanges { token_name: Some("b".into()), ..Default::default() };
        assert_eq!(
            h.service.modify_token(&admin, "alice", token.key(), taken, None).await.unwrap_err().kind(),
            "duplicate_token_name"
        );
        let info = h.service.modify_token(&admin, "alice", token.key(), changes, None).await.unwrap();
        assert_eq!(info.token_name.as_deref(), Some("renamed"));
        let rescope = TokenChanges { scopes: Some(scopes(&["read:all", "write:files"])), ..Default::default() };
        h.service.modify_token(&admin, "alice", token.key(), rescope, None).await.unwrap();
        let data = h.service.validate(&h.service.encode(&token)).await.unwrap();
        assert_eq!(data.scopes, scopes(&["read:all", "write:files"]));
    })
}

#[test]
fn delete_expired_removes_tokens_and_writes_history() {
    run(async {
        let h = Harness::new().await;
        let (_, session) = h.login("alice", &["user:token"]).await;
        h.service.create_user_token(&session, "alice", "short", &[], Some(NOW + HOUR), None).await.unwrap();
        h.service.create_user_token(&session, "alice", "forever", &[], None, None).await.unwrap();
        assert!(h.service.delete_expired().await.unwrap().is_empty());
        h.clock.advance(HOUR);
        let deleted = h.service.delete_expired().await.unwrap();
        assert_eq!(deleted.iter().map(|t| t.token_name.as_deref()).collect::<Vec<_>>(), vec![Some("short")]);
        assert_eq!(h.count("SELECT COUNT(*) FROM token").await, 2);
        let history = h.count("SELECT COUNT(*) FROM token_change_history WHERE action = 'expire' AND actor = '<internal>' AND token_name = 'short'").await;
        assert_eq!(history, 1);
        assert_eq!(h.service.count_user_tokens().await.unwrap(), 1);
        assert_eq!(h.service.count_unique_sessions().await.unwrap(), 1);
    })
}

#[test]
fn a_failure_in_the_sql_step_leaves_nothing_in_kv() {
    run(async {
        let h = Harness::new().await;
        let (_, session) = h.login("alice", &["user:token", "exec:notebook"]).await;
        let keys_before = h.kv.keys();
        h.faults.fail("sql.batch");
        let err = h.service.create_user_token(&session, "alice", "t", &[], None, None).await.unwrap_err();
        assert_eq!(err.kind(), "storage_error");
        assert!(h.service.get_notebook_token(&session, None, None).await.is_err());
        assert!(h.service.create_session_token("bob", Default::default(), &[], None).await.is_err());
        assert_eq!(h.kv.keys(), keys_before);
        h.faults.heal_all();
        assert_eq!(h.count("SELECT COUNT(*) FROM token").await, 1);
        assert!(h.service.audit(false).await.unwrap().is_clean());
    })
}

#[test]
fn a_failure_in_the_kv_step_writes_nothing_to_sql() {
    run(async {
        let h = Harness::new().await;
        let (_, session) = h.login("alice", &["user:token"]).await;
        h.faults.fail("kv.set");
        assert!(h.service.create_user_token(&session, "alice", "t", &[], None, None).await.is_err());
        h.faults.heal_all();
        assert_eq!(h.count("SELECT COUNT(*) FROM token").await, 1);
        assert_eq!(h.count("SELECT COUNT(*) FROM token_change_history").await, 1);
    })
}

#[test]
fn a_failed_modify_puts_kv_back() {
    run(async {
        let h = Harness::new().await;
        let admin = h.admin().await;
        let token =
            h.service.create_user_token(&admin, "alice", "t", &scopes(&["read:all"]), None, None).await.unwrap();
        h.faults.fail("sql.batch");
        let changes = TokenChanges { expires: Some(Some(NOW + DAY)), scopes: Some(vec![]), ..Default::default() };
        assert!(h.service.modify_token(&admin, "alice", token.key(), changes, None).await.is_err());
        h.faults.heal_all();
        let data = h.service.validate(&h.service.encode(&token)).await.unwrap();
        assert_eq!((data.expires, data.scopes), (None, scopes(&["read:all"])));
        assert!(h.service.audit(false).await.unwrap().is_clean());
    })
}

#[test]
fn strict_validation_sees_a_row_deleted_elsewhere() {
    run(async {
        let h = Harness::new().await;
        let (token, data) = h.login("alice", &["read:all"]).await;
        use portcullis::Sql;
        h.sql.execute("DELETE FROM token WHERE key = ?", &[data.key.as_str().into()]).await.unwrap();
        assert!(h.service.validate(&token).await.is_ok());
        assert!(h.service.validate_strict(&token).await.is_err());
    })
}

#[test]
fn a_service_that_checked_a_token_before_sees_it_revoked_or_rewritten_elsewhere_at_once() {
    run(async {
        let h = Harness::new().await;
        let other = h.sibling().await;
        let admin = other.admin().await;
        let made =
            h.service.create_user_token(&admin, "alice", "cli", &scopes(&["read:all"]), None, None).await.unwrap();
        let token = h.service.encode(&made);
        let (second, second_data) = h.login("alice", &["read:all"]).await;
        // Checked again and again: the later checks reuse the opened record.
        for _ in 0..3 {
            assert_eq!(h.service.validate(&token).await.unwrap().scopes, scopes(&["read:all"]));
        }
        // Scopes changed by another process: the next check reads the new record.
        let changes = TokenChanges { scopes: Some(scopes(&["read:image"])), ..TokenChanges::default() };
        other.service.modify_token(&admin, "alice", made.key(), changes, None).await.unwrap();
        assert_eq!(h.service.validate(&token).await.unwrap().scopes, scopes(&["read:image"]));
        // Another token's record copied under this key does not open: records are bound to their key.
        let copied = h.kv.get(&format!("token:{}", second_data.key)).await.unwrap().unwrap();
        let own = h.kv.get(&format!("token:{}", made.key())).await.unwrap().unwrap();
        h.kv.put_raw(&format!("token:{}", made.key()), &copied);
        assert!(matches!(h.service.validate(&token).await, Err(Error::Request(RequestError::InvalidToken))));
        assert!(h.service.validate(&second).await.is_ok());
        h.kv.put_raw(&format!("token:{}", made.key()), &own);
        assert!(h.service.validate(&token).await.is_ok());
        // Revoked by another process: refused at once.
        other.service.delete_token(&admin, "alice", made.key(), None).await.unwrap();
        assert!(matches!(h.service.validate(&token).await, Err(Error::Request(RequestError::InvalidToken))));
    })
}

#[test]
fn the_validation_cache_accepts_a_token_revoked_elsewhere_for_its_seconds_only() {
    run(async {
        let h = Harness::with_validation_cache(5).await;
        let other = h.sibling().await;
        let admin = other.admin().await;
        let made =
            other.service.create_user_token(&admin, "alice", "cli", &scopes(&["read:all"]), None, None).await.unwrap();
        let token = h.service.encode(&made);
        assert!(h.service.validate(&token).await.is_ok());
        other.service.delete_token(&admin, "alice", made.key(), None).await.unwrap();
        // Revoked by another process: kept in this one's memory for up to 5 s (never strictly) ...
        h.clock.advance(4);
        assert!(h.service.validate(&token).await.is_ok());
        assert!(matches!(h.service.validate_strict(&token).await, Err(Error::Request(RequestError::InvalidToken))));
        // ... and refused from 5 s after it was validated, though it was presented in between.
        h.clock.advance(1);
        assert!(matches!(h.service.validate(&token).await, Err(Error::Request(RequestError::InvalidToken))));
        // Without the cache (the default), the other process's revocation is seen at once.
        let plain = h.sibling().await;
        let made =
            other.service.create_user_token(&admin, "bob", "cli", &scopes(&["read:all"]), None, None).await.unwrap();
        let token = plain.service.encode(&made);
        assert!(plain.service.validate(&token).await.is_ok());
        other.service.delete_token(&admin, "bob", made.key(), None).await.unwrap();
        assert!(plain.service.validate(&token).await.is_err());
    })
}

#[test]
fn the_validation_cache_forgets_at_once_what_its_own_service_changes_or_revokes() {
    run(async {
        let h = Harness::with_validation_cache(60).await;
        let admin = h.admin().await;
        let made =
            h.service.create_user_token(&admin, "alice", "cli", &scopes(&["read:all"]), None, None).await.unwrap();
        let token = h.service.encode(&made);
        assert_eq!(h.service.validate(&token).await.unwrap().scopes, scopes(&["read:all"]));
        // The key of a kept token with another secret is refused.
        let forged = format!("{}.{}", token.rsplit_once('.').unwrap().0, "A".repeat(22));
        assert!(matches!(h.service.validate(&forged).await, Err(Error::Request(RequestError::InvalidToken))));
        let changes = TokenChanges { scopes: Some(scopes(&["read:image"])), ..TokenChanges::default() };
        h.service.modify_token(&admin, "alice", made.key(), changes, None).await.unwrap();
        assert_eq!(h.service.validate(&token).await.unwrap().scopes, scopes(&["read:image"]));
        h.service.delete_token(&admin, "alice", made.key(), None).await.unwrap();
        assert!(matches!(h.service.validate(&token).await, Err(Error::Request(RequestError::InvalidToken))));
        // A token that expires is not kept past its expiry.
        let expiring = h
            .service
            .create_user_token(&admin, "alice", "soon", &scopes(&["read:all"]), Some(NOW + 600), None)
            .await
            .unwrap();
        let expiring = h.service.encode(&expiring);
        h.clock.advance(599);
        assert!(h.service.validate(&expiring).await.is_ok());
        h.clock.advance(1);
        assert!(h.service.validate(&expiring).await.is_err());
    })
}

#[test]
fn a_validation_that_reads_kv_during_a_revocation_here_keeps_nothing() {
    run(async {
        let h = Harness::with_validation_cache(60).await;
        let admin = h.admin().await;
        h.faults.set_yielding(true);
        // Every interleaving of one check with the revocation: the check starts after `delay`
        // turns of the revocation (each storage call yields once).
        for delay in 0..40 {
            let name = format!("t{delay}");
            let made =
                h.service.create_user_token(&admin, "alice", &name, &scopes(&["read:all"]), None, None).await.unwrap();
            let token = h.service.encode(&made);
            let check = async {
                for _ in 0..delay {
                    portcullis_native::testing::yield_now().await;
                }
                h.service.validate(&token).await.is_ok()
            };
            let (_, revoked) = futures::join!(check, h.service.delete_token(&admin, "alice", made.key(), None));
            revoked.unwrap();
            assert!(
                matches!(h.service.validate(&token).await, Err(Error::Request(RequestError::InvalidToken))),
                "a check {delay} turns into the revocation left the token accepted"
            );
        }
    })
}

#[test]
fn a_validation_cache_longer_than_five_minutes_is_refused() {
    let env = run(Harness::new()).env;
    let config = TokenConfig { validation_cache_seconds: 301, ..common::config() };
    assert!(matches!(TokenService::new(env.clone(), common::key_ring(), config), Err(ConfigError::Invalid(_))));
    let config = TokenConfig { validation_cache_seconds: 300, ..common::config() };
    assert!(TokenService::new(env, common::key_ring(), config).is_ok());
}

#[test]
fn a_malformed_username_is_refused_on_every_path_that_names_one() {
    run(async {
        let h = Harness::new().await;
        let admin = h.admin().await;
        let (_, alice) = h.login("alice", &["read:all", "user:token"]).await;
        let key = alice.key.clone();
        let invalid = |r: Result<(), Error>| matches!(r, Err(Error::Request(RequestError::InvalidUsername(_))));
        for bad in ["Alice", "a b", "", "<bootstrap>", "-alice"] {
            for auth in [&admin, &alice] {
                assert!(invalid(h.service.list_tokens(auth, bad).await.map(drop)), "list {bad:?}");
                assert!(invalid(h.service.get_token_info(auth, bad, &key).await.map(drop)), "info {bad:?}");
                assert!(invalid(h.service.delete_token(auth, bad, &key, None).await), "delete {bad:?}");
                let query = HistoryQuery { username: Some(bad.to_owned()), ..HistoryQuery::default() };
                assert!(invalid(h.service.history(auth, &query).await.map(drop)), "history {bad:?}");
            }
            let changes = TokenChanges { token_name: Some("x".into()), ..TokenChanges::default() };
            assert!(
                invalid(h.service.modify_token(&admin, bad, &key, changes, None).await.map(drop)),
                "modify {bad:?}"
            );
        }
        // Well-formed names still get their usual answers.
        assert!(h.service.list_tokens(&admin, "nobody").await.unwrap().is_empty());
        assert!(matches!(
            h.service.list_tokens(&alice, "bob").await,
            Err(Error::Request(RequestError::PermissionDenied(_)))
        ));
    })
}

#[test]
fn last_used_is_written_at_most_once_a_minute() {
    run(async {
        let h = Harness::new().await;
        let (token, data) = h.login("alice", &["read:all"]).await; // login validates once
        let admin = h.admin().await;
        let used = || h.service.get_token_info(&admin, "alice", &data.key);
        assert_eq!(used().await.unwrap().last_used, Some(NOW));
        h.clock.advance(30);
        h.service.validate(&token).await.unwrap();
        assert_eq!(used().await.unwrap().last_used, Some(NOW));
        h.clock.advance(31);
        h.service.validate(&token).await.unwrap();
        assert_eq!(used().await.unwrap().last_used, Some(NOW + 61));
    })
}

#[test]
fn bootstrap_token_administers_a_fresh_deployment() {
    run(async {
        let h = Harness::new().await;
        let bootstrap = "pc-AAAAAAAAAAAAAAAAAAAAAA.c2VjcmV0LXNlY3JldC1zZQ";
        let config = TokenConfig { known_scopes: vec!["read:all".into()], ..TokenConfig::default() }
            .with_bootstrap_token(bootstrap)
            .unwrap();
        let service = portcullis::TokenService::new(h.env.clone(), key_ring(), config).unwrap();
        let admin = service.validate(bootstrap).await.unwrap();
        assert_eq!(admin.scopes, scopes(&["admin:session", "admin:token", "admin:userinfo"]));
        let request = portcullis::AdminTokenRequest {
            username: "bot-mobu".into(),
            token_type: "service".into(),
            scopes: scopes(&["read:all"]),
            ..Default::default()
        };
        let token = service.create_token_from_admin_request(&admin, request, None).await.unwrap();
        let data = service.validate(&service.encode(&token)).await.unwrap();
        assert_eq!((data.username.as_str(), data.token_type), ("bot-mobu", TokenType::Service));
        // A wrong secret with the bootstrap key is not the bootstrap token.
        assert!(service.validate("pc-AAAAAAAAAAAAAAAAAAAAAA.c2VjcmV0LXNlY3JldC1zZA").await.is_err());
        // Service tokens belong to bot users.
        let request = portcullis::AdminTokenRequest {
            username: "alice".into(),
            token_type: "service".into(),
            ..Default::default()
        };
        assert_eq!(
            service.create_token_from_admin_request(&admin, request, None).await.unwrap_err().kind(),
            "invalid_request"
        );
    })
}
