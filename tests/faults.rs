//! Fault injection: random operation sequences on a token service whose storage fails on a plan
//! (tests/faults/chaos.rs), checked against a model (tests/faults/world.rs) after every step.
//! Here on SQLite in memory + MemoryKv; crates/native/tests/faults.rs runs the same sequences on
//! PostgreSQL + Redis.
//!
//! Invariants, checked with storage healthy after each step:
//! - a token acknowledged as created is valid (fast and strict) until it expires or is revoked;
//! - a token acknowledged as revoked, and all its descendants, is invalid, strict and fast;
//! - an expired token is invalid;
//! - after `audit(true)`, no token is valid in KV without its SQL row, no acknowledged token was
//!   lost, and `audit(false)` is clean.
//!
//! Deterministic: a fixed list of seeds drives a small PRNG. `FAULT_SEEDS=n` runs n seeds (the
//! long form, docs/RELIABILITY.md); the default is the bounded CI form.

#[path = "faults/chaos.rs"]
mod chaos;
mod common;
#[path = "faults/world.rs"]
mod world;

use common::{run, NOW};
use portcullis::migrate;
use portcullis_native::{MemoryKv, SqliteSql};
use world::{seeds, sequence, Figures, World, WorldClock};

async fn on_sqlite(seed: u64) -> World {
    let clock = WorldClock::mock();
    let kv = MemoryKv::with_clock(clock.mock_part().now_fn());
    let sql = SqliteSql::in_memory().unwrap();
    migrate(&sql, NOW).await.unwrap();
    World::on(seed, kv, sql, clock)
}

#[test]
fn random_operations_with_random_storage_failures_keep_the_invariants() {
    let (seeds, steps) = seeds(40, 60);
    let mut figures = Figures::default();
    run(async {
        for seed in seeds {
            sequence(on_sqlite(seed).await, steps, &mut figures).await;
        }
    });
    println!("fault injection: {figures:?}");
    assert!(figures.faults_injected > 0 && figures.tokens_acknowledged > 0 && figures.revocations_acknowledged > 0);
}
