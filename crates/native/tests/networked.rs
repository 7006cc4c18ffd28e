//! The storage contract and the core's flows on real PostgreSQL and Redis, started by
//! `scripts/services.sh` (which exports TEST_POSTGRES_URL and TEST_REDIS_URL).
#![cfg(feature = "networked-tests")]

use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis::jwt::{Algorithm, JwtKeys, SigningKey};
use portcullis::{
    migrate, Clock, Dialect, EncryptionKey, Env, JwtSessionManager, JwtSettings, KeyRing, Kv, LocalBoxFuture, Mutex,
    Sql, TokenConfig, TokenPair, TokenService, UserInfo, Value,
};
use portcullis_native::testing::MockClock;
use portcullis_native::{system_millis, OsRandom, PostgresSql, RedisKv};

const NOW: i64 = 1_750_000_000;

fn url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run these tests through scripts/test.sh (it starts the servers with scripts/services.sh)"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A database schema of its own for one test, so tests run in parallel.
async fn postgres(schema: &str) -> PostgresSql {
    let admin = PostgresSql::connect(&url("TEST_POSTGRES_URL"), 1).unwrap();
    admin.execute_send(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"), &[]).await.unwrap();
    admin.execute_send(&format!("CREATE SCHEMA {schema}"), &[]).await.unwrap();
    in_schema(schema, 8)
}

/// Another pool on an existing schema: what another process would open.
fn in_schema(schema: &str, max_connections: usize) -> PostgresSql {
    let base = url("TEST_POSTGRES_URL");
    let sep = if base.contains('?') { '&' } else { '?' };
    PostgresSql::connect(&format!("{base}{sep}options=-csearch_path%3D{schema}"), max_connections).unwrap()
}

async fn redis() -> RedisKv {
    RedisKv::connect(&url("TEST_REDIS_URL")).await.unwrap()
}

fn env(kv: RedisKv, sql: PostgresSql, clock: &MockClock) -> Env {
    Env { kv: Rc::new(kv), sql: Rc::new(sql), clock: Rc::new(clock.clone()), rng: Rc::new(OsRandom) }
}

fn ring() -> KeyRing {
    KeyRing::new(EncryptionKey::new("k1", [3; 32]).unwrap(), vec![]).unwrap()
}

#[test]
fn redis_follows_the_kv_contract() {
    runtime().block_on(async {
        let kv = redis().await;
        let prefix = format!("contract-{}:", std::process::id());
        assert_eq!(kv.get(&format!("{prefix}a")).await.unwrap(), None);
        kv.set(&format!("{prefix}a"), b"1").await.unwrap();
        assert_eq!(kv.get(&format!("{prefix}a")).await.unwrap().as_deref(), Some(&b"1"[..]));
        assert!(kv.exists(&format!("{prefix}a")).await.unwrap());
        kv.delete(&format!("{prefix}a")).await.unwrap();
        assert!(!kv.exists(&format!("{prefix}a")).await.unwrap());
        kv.set_with_ttl(&format!("{prefix}ttl"), b"x", 120).await.unwrap();
        let client = redis::Client::open(url("TEST_REDIS_URL")).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let ttl: i64 = redis::cmd("TTL").arg(format!("{prefix}ttl")).query_async(&mut conn).await.unwrap();
        assert!((100..=120).contains(&ttl), "{ttl}");
        // Listing follows cursors and matches the prefix literally.
        for i in 0..2500 {
            kv.set(&format!("{prefix}k{i}"), b"v").await.unwrap();
        }
        kv.set(&format!("{prefix}*glob"), b"v").await.unwrap();
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10_000 {
            let page = kv.list_keys(&format!("{prefix}k"), cursor.as_deref()).await.unwrap();
            all.extend(page.keys);
            cursor = page.cursor;
            if cursor.is_none() {
                break;
            }
        }
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 2500);
        let star = kv.list_keys(&format!("{prefix}*"), None).await.unwrap();
        assert!(star.keys.iter().all(|k| k.starts_with(&format!("{prefix}*"))));
    })
}

#[test]
fn postgres_runs_migrations_batches_and_values() {
    runtime().block_on(async {
        let sql = postgres("t_values").await;
        assert_eq!(sql.dialect(), Dialect::Postgres);
        let applied = migrate(&sql, NOW).await.unwrap();
        assert_eq!(applied, portcullis::MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>());
        assert!(migrate(&sql, NOW).await.unwrap().is_empty());
        sql.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT NOT NULL, b BYTEA, f DOUBLE PRECISION)", &[])
            .await
            .unwrap();
        let insert = |id: i64| {
            portcullis::Statement::new(
                "INSERT INTO t (id, v, b, f) VALUES (?, ?, ?, ?)",
                vec![id.into(), "x?".into(), Value::Blob(vec![0, 255]), Value::Real(1.5)],
            )
        };
        assert_eq!(sql.batch(&[insert(1), insert(2)]).await.unwrap(), vec![1, 1]);
        let err = sql.batch(&[insert(3), insert(1)]).await.unwrap_err();
        assert!(err.is_constraint(), "{err:?}");
        let rows = sql
            .execute("SELECT id, v, b, f FROM t WHERE id >= ? ORDER BY id", &[Value::Integer(1 << 53)])
            .await
            .unwrap();
        assert!(rows.rows.is_empty());
        let rows = sql.execute("SELECT id, v, b, f, COUNT(*) OVER () FROM t ORDER BY id", &[]).await.unwrap();
        assert_eq!(rows.rows.len(), 2);
        assert_eq!(
            rows.rows[0].values[..4],
            [Value::Integer(1), Value::Text("x?".into()), Value::Blob(vec![0, 255]), Value::Real(1.5)]
        );
        let updated = sql
            .execute("UPDATE t SET v = ? WHERE id = ? RETURNING id", &["y".into(), Value::Integer(2)])
            .await
            .unwrap();
        assert_eq!(updated.rows.len(), 1);
    })
}

#[test]
fn token_flows_on_postgres_and_redis() {
    runtime().block_on(async {
        let clock = MockClock::at(NOW);
        let sql = postgres("t_tokens").await;
        migrate(&sql, NOW).await.unwrap();
        let kv = redis().await;
        let config = TokenConfig { known_scopes: vec!["read:all".into()], ..TokenConfig::default() };
        let a = TokenService::new(env(kv.clone(), sql.clone(), &clock), ring(), config.clone()).unwrap();
        let b = TokenService::new(env(kv.clone(), sql.clone(), &clock), ring(), config).unwrap();
        let scopes = vec!["read:all".to_owned(), "user:token".to_owned()];
        let session = a.create_session_token("alice", UserInfo::default(), &scopes, None).await.unwrap();
        let data = b.validate_strict(&b.encode(&session)).await.unwrap();
        let user = b.create_user_token(&data, "alice", "laptop", &["read:all".into()], None, None).await.unwrap();
        assert_eq!(
            a.create_user_token(&data, "alice", "laptop", &[], None, None).await.unwrap_err().kind(),
            "duplicate_token_name"
        );
        // Two processes racing for one child mint one.
        let (x, y) = futures::join!(a.get_notebook_token(&data, None, None), b.get_notebook_token(&data, None, None));
        assert_eq!(x.unwrap(), y.unwrap());
        let notebook = a.validate(&a.encode(&a.get_notebook_token(&data, None, None).await.unwrap())).await.unwrap();
        let internal = b.get_internal_token(&notebook, "tap", &["read:all".into()], None, None).await.unwrap();
        // Revoking on one is seen on the other at once, for the whole tree.
        a.delete_token(&data, "alice", &data.key, None).await.unwrap();
        assert!(b.validate_strict(&b.encode(&session)).await.is_err());
        assert!(b.validate(&b.encode(&internal)).await.is_err());
        assert!(b.validate_strict(&b.encode(&user)).await.is_ok());
        assert!(a.audit(false).await.unwrap().is_clean());
        clock.advance(40 * 86_400);
        assert!(a.delete_expired().await.unwrap().is_empty()); // the user token never expires
        assert_eq!(b.count_user_tokens().await.unwrap(), 1);
    })
}

#[test]
fn fifty_concurrent_refreshes_on_postgres_make_one_successor() {
    runtime().block_on(async {
        let clock = MockClock::at(NOW);
        let sql = postgres("t_refresh").await;
        migrate(&sql, NOW).await.unwrap();
        let kv = redis().await;
        let keys = || JwtKeys::new(SigningKey::from_bytes(Algorithm::Hs512, &[9; 64]).unwrap());
        let managers: Vec<JwtSessionManager> = (0..2)
            .map(|_| {
                JwtSessionManager::new(env(kv.clone(), sql.clone(), &clock), ring(), keys(), JwtSettings::default())
            })
            .collect();
        let first = managers[0].create_session("alice", &[]).await.unwrap();
        let results =
            futures::future::join_all((0..50).map(|i| managers[i % 2].refresh_session(&first.refresh_token))).await;
        let pairs: Vec<TokenPair> = results.into_iter().map(|r| r.unwrap()).collect();
        assert!(pairs.iter().all(|p| p.refresh_token == pairs[0].refresh_token));
        let count = sql.execute("SELECT COUNT(*) FROM refresh_token", &[]).await.unwrap();
        assert_eq!(count.rows[0].values[0], Value::Integer(2));
        assert!(managers[1].validate_session(&pairs[0].access_token).await.is_ok());
        assert!(managers[1].validate_session(&first.access_token).await.is_err());
    })
}

/// The system clock, `skew_ms` off (another machine's clock), with real sleeps.
struct WallClock {
    skew_ms: i64,
}

impl Clock for WallClock {
    fn now_millis(&self) -> i64 {
        system_millis() + self.skew_ms
    }

    fn sleep(&self, millis: u64) -> LocalBoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(Duration::from_millis(millis)))
    }
}

const WALL: WallClock = WallClock { skew_ms: 0 };

fn lock<'a>(sql: &'a PostgresSql, clock: &'a WallClock, name: &str, max_wait_ms: u64, ttl_ms: u64) -> Mutex<'a> {
    Mutex { sql, clock, rng: &OsRandom, name: name.to_owned(), max_wait_ms, ttl_ms }
}

fn lock_kind(result: Result<impl std::fmt::Debug, portcullis::Error>) -> &'static str {
    match result {
        Err(e) => e.kind(),
        Ok(v) => panic!("expected a lock error, got {v:?}"),
    }
}

/// apicrud's Mutex on PostgreSQL, contended by four "processes" (OS threads, each with its own
/// runtime and connection pool) of four tasks each: never two holders at once, every release by
/// the holder succeeds, and nobody waits out `max_wait`.
#[test]
fn the_sql_lock_excludes_across_processes() {
    const PROCESSES: usize = 4;
    const TASKS: usize = 4;
    const ROUNDS: u32 = 10;
    runtime().block_on(async { migrate(&postgres("t_lock_contention").await, NOW).await.unwrap() });
    let holders = Arc::new(AtomicU32::new(0));
    let taken = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..PROCESSES)
        .map(|_| {
            let (holders, taken) = (holders.clone(), taken.clone());
            std::thread::spawn(move || {
                runtime().block_on(async {
                    let sql = in_schema("t_lock_contention", 2);
                    futures::future::join_all((0..TASKS).map(|_| async {
                        for _ in 0..ROUNDS {
                            let mutex = lock(&sql, &WALL, "contended", 30_000, 10_000);
                            let guard = mutex.acquire().await.unwrap();
                            assert_eq!(holders.fetch_add(1, Ordering::SeqCst), 0, "two holders at once");
                            // Hold it across I/O and a sleep, so the others poll meanwhile.
                            sql.execute("SELECT 1", &[]).await.unwrap();
                            tokio::time::sleep(Duration::from_millis(2)).await;
                            assert_eq!(holders.fetch_sub(1, Ordering::SeqCst), 1, "two holders at once");
                            mutex.release(guard).await.unwrap();
                            taken.fetch_add(1, Ordering::SeqCst);
                        }
                    }))
                    .await;
                })
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a process failed");
    }
    assert_eq!(taken.load(Ordering::SeqCst), (PROCESSES * TASKS) as u32 * ROUNDS);
    eprintln!(
        "lock contention: {} acquisitions by {} tasks in {:?}",
        taken.load(Ordering::SeqCst),
        PROCESSES * TASKS,
        started.elapsed()
    );
}

/// A lock whose holder's time ran out is taken over by a waiter; the late release reports it
/// and leaves the new holder's lock alone. A holder whose clock is behind cannot release a lock
/// someone else took. A waiter that runs out of `max_wait` gets a timeout error.
#[test]
fn sql_locks_expire_release_only_by_their_holder_and_time_out() {
    runtime().block_on(async {
        migrate(&postgres("t_lock_rules").await, NOW).await.unwrap();
        let (a, b) = (in_schema("t_lock_rules", 1), in_schema("t_lock_rules", 1));

        // Expiry takeover.
        let first = lock(&a, &WALL, "expiring", 1_000, 300);
        let held = first.acquire().await.unwrap();
        let start = Instant::now();
        let second = lock(&b, &WALL, "expiring", 5_000, 10_000);
        let taken = second.acquire().await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(200), "taken over after {:?}", start.elapsed());
        assert_eq!(lock_kind(first.release(held).await), "lock_expired");
        assert!(
            lock(&a, &WALL, "expiring", 0, 10_000).try_acquire_once().await.unwrap().is_none(),
            "the late release freed the new holder's lock"
        );
        second.release(taken).await.unwrap();

        // A holder an hour behind: its lock looks expired to everyone else.
        let behind = WallClock { skew_ms: -3_600_000 };
        let slow = lock(&a, &behind, "skewed", 1_000, 60_000);
        let stale = slow.acquire().await.unwrap();
        let other = lock(&b, &WALL, "skewed", 1_000, 60_000);
        let current = other.acquire().await.unwrap();
        assert_eq!(lock_kind(slow.release(stale).await), "lock_not_held");
        assert!(
            lock(&a, &WALL, "skewed", 0, 60_000).try_acquire_once().await.unwrap().is_none(),
            "a non-holder released the lock"
        );
        other.release(current).await.unwrap();

        // Timeout, then the lock is free again once released.
        let busy = lock(&a, &WALL, "busy", 1_000, 60_000);
        let guard = busy.acquire().await.unwrap();
        let start = Instant::now();
        assert_eq!(lock_kind(lock(&b, &WALL, "busy", 300, 60_000).acquire().await), "lock_timeout");
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(5), "waited {waited:?}");
        busy.release(guard).await.unwrap();
        let again = lock(&b, &WALL, "busy", 300, 60_000);
        let guard = again.acquire().await.unwrap();
        again.release(guard).await.unwrap();
    })
}

/// Found by the races (tests/races/races.mjs, reuse after the grace window): a reuse detection
/// revoking a family while the successor rotates deadlocked on PostgreSQL (the revocation locked
/// the session row, then the access tokens; the rotation the refresh token, the access tokens,
/// then the session row). PostgreSQL aborted one of them: a reuse answered with a storage error
/// and a revocation that did not happen. Every trial here: three replays of the old refresh token
/// and one rotation of its successor at once, from two processes.
#[test]
fn a_reuse_detection_racing_a_rotation_on_postgres_revokes_without_deadlock() {
    runtime().block_on(async {
        let clock = MockClock::at(NOW);
        let sql = postgres("t_reuse_race").await;
        migrate(&sql, NOW).await.unwrap();
        let kv = redis().await;
        let keys = || JwtKeys::new(SigningKey::from_bytes(Algorithm::Hs512, &[9; 64]).unwrap());
        let managers: Vec<JwtSessionManager> = (0..2)
            .map(|_| {
                JwtSessionManager::new(
                    env(kv.clone(), in_schema("t_reuse_race", 4), &clock),
                    ring(),
                    keys(),
                    JwtSettings::default(),
                )
            })
            .collect();
        for trial in 0..20 {
            let user = format!("trial{trial}");
            let first = managers[0].create_session(&user, &[]).await.unwrap();
            let second = managers[1].refresh_session(&first.refresh_token).await.unwrap();
            clock.advance(11); // past the grace window
            let replays = (0..3).map(|i| managers[i % 2].refresh_session(&first.refresh_token));
            let (replayed, rotated) =
                futures::join!(futures::future::join_all(replays), managers[1].refresh_session(&second.refresh_token));
            let kinds: Vec<&str> = replayed.iter().map(|r| r.as_ref().map_or_else(|e| e.kind(), |_| "ok")).collect();
            assert!(
                kinds.iter().all(|k| ["refresh_token_reused", "refresh_token_not_found"].contains(k)),
                "trial {trial}: {kinds:?}"
            );
            assert!(kinds.contains(&"refresh_token_reused"), "trial {trial}: {kinds:?}");
            assert!(managers[0].validate_session(&second.access_token).await.is_err(), "trial {trial}");
            if let Ok(pair) = rotated {
                assert!(
                    managers[0].validate_session(&pair.access_token).await.is_err(),
                    "trial {trial}: a revoked family's token is valid"
                );
            } else if let Err(e) = rotated {
                assert_ne!(e.kind(), "storage_error", "trial {trial}");
            }
            let left = sql
                .execute("SELECT COUNT(*) FROM refresh_token WHERE username = ?", &[user.as_str().into()])
                .await
                .unwrap();
            assert_eq!(left.rows[0].values[0], Value::Integer(0), "trial {trial}");
        }
    })
}
