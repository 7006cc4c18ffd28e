//! The fault-injection property test of tests/faults.rs (its model, tests/faults/world.rs, and
//! failing stores, tests/faults/chaos.rs) on real PostgreSQL and Redis, started by
//! `scripts/services.sh` (which exports TEST_POSTGRES_URL and TEST_REDIS_URL).
//!
//! Each sequence gets a fresh schema and an empty Redis database (number 1, so other tests'
//! keys in database 0 are never flushed). Redis expires keys in real time, so the sequences run
//! on a clock that moves with real time besides the model's jumps: a TTL written from the
//! clock never runs out before the expiry it was computed from.
#![cfg(feature = "networked-tests")]

#[path = "../../../tests/faults/chaos.rs"]
mod chaos;
#[path = "../../../tests/common/mod.rs"]
mod common;
#[path = "../../../tests/faults/world.rs"]
mod world;

use common::NOW;
use portcullis::migrate;
use portcullis_native::{PostgresSql, RedisKv};
use world::{seeds, sequence, Figures, World, WorldClock};

const SCHEMA: &str = "faults";

fn url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: start the servers with scripts/services.sh (scripts/test.sh does)")
    })
}

/// TEST_REDIS_URL with database 1 instead of the one it names.
fn redis_url() -> String {
    let base = url("TEST_REDIS_URL");
    match base.rsplit_once('/') {
        Some((server, db)) if db.parse::<u32>().is_ok() => format!("{server}/1"),
        _ => format!("{}/1", base.trim_end_matches('/')),
    }
}

/// A fresh, migrated schema and an empty Redis database for one sequence.
async fn on_postgres_and_redis(seed: u64, admin: &PostgresSql, kv: &RedisKv) -> World {
    admin.execute_send(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"), &[]).await.unwrap();
    admin.execute_send(&format!("CREATE SCHEMA {SCHEMA}"), &[]).await.unwrap();
    let base = url("TEST_POSTGRES_URL");
    let sep = if base.contains('?') { '&' } else { '?' };
    let sql = PostgresSql::connect(&format!("{base}{sep}options=-csearch_path%3D{SCHEMA}"), 2).unwrap();
    migrate(&sql, NOW).await.unwrap();
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("FLUSHDB").query_async(&mut conn).await.unwrap();
    World::on(seed, kv.clone(), sql, WorldClock::running())
}

#[test]
fn random_operations_with_random_storage_failures_keep_the_invariants_on_postgres_and_redis() {
    let (seeds, steps) = seeds(20, 60);
    let mut figures = Figures::default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let admin = PostgresSql::connect(&url("TEST_POSTGRES_URL"), 1).unwrap();
        let kv = RedisKv::connect(&redis_url()).await.unwrap();
        for seed in seeds {
            sequence(on_postgres_and_redis(seed, &admin, &kv).await, steps, &mut figures).await;
        }
    });
    println!("fault injection on PostgreSQL + Redis: {figures:?}");
    assert!(figures.faults_injected > 0 && figures.tokens_acknowledged > 0 && figures.revocations_acknowledged > 0);
}
