//! Core findings of the reliability work (fault injection, fuzzing), each shown by a test that
//! fails today. They are `#[ignore]`d so the default run stays green; run them with
//! `cargo test --test found_bugs -- --ignored`. See docs/RELIABILITY.md.

mod common;
#[path = "faults/chaos.rs"]
mod chaos;

use std::rc::Rc;

use chaos::{Chaos, Mode};
use common::{config, key_ring, run, NOW};
use portcullis::{migrate, Env, TokenService, UserInfo};
use portcullis_native::testing::MockClock;
use portcullis_native::{MemoryKv, OsRandom, SqliteSql};

/// Found by tests/faults.rs (seed 3237998085 before garbage was kept out of fixing audits):
/// one KV read that returns a corrupted value during `audit(true)` makes the audit classify a
/// valid token's record as malformed and delete it, so a token acknowledged as created (and
/// never revoked) is no longer valid. A fixing audit could re-read a record before destroying
/// it, or leave malformed records it cannot confirm for the next run.
#[test]
#[ignore = "bug: a single garbled KV read during audit(true) deletes a valid token"]
fn a_garbled_read_during_a_fixing_audit_does_not_destroy_a_valid_token() {
    // Whichever storage call of the audit is the KV read of the record, garble it.
    for call in 1..=8 {
        garbled_read_at(call);
    }
}

fn garbled_read_at(call: u64) {
    run(async {
        let clock = MockClock::at(NOW);
        let kv = MemoryKv::with_clock(clock.now_fn());
        let sql = SqliteSql::in_memory().unwrap();
        migrate(&sql, NOW).await.unwrap();
        let plan = chaos::plan();
        let env = Env {
            kv: Rc::new(Chaos { inner: kv, plan: plan.clone() }),
            sql: Rc::new(Chaos { inner: sql, plan: plan.clone() }),
            clock: Rc::new(clock.clone()),
            rng: Rc::new(OsRandom),
        };
        let service = TokenService::new(env, key_ring(), config()).unwrap();
        let scopes = vec!["read:all".to_owned()];
        let token = service.create_session_token("alice", UserInfo::default(), &scopes, None).await.unwrap();
        let text = service.encode(&token);
        service.validate_strict(&text).await.unwrap();

        plan.borrow_mut().mode = Mode::Garbage(call);
        plan.borrow_mut().calls = 0;
        let report = service.audit(true).await;
        plan.borrow_mut().mode = Mode::Off;

        let after = service.validate_strict(&text).await;
        assert!(after.is_ok(), "audit(true) with call {call} garbled reported {report:?} and left the token {after:?}");
    });
}
