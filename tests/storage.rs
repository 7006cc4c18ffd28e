//! The storage contract on the native backends: KV semantics (shared by both KVs), SQL batch
//! atomicity, migrations, and the SQL lock.

mod common;

use common::{run, NOW};
use portcullis::{migrate, Kv, LockError, Mutex, Sql, Statement, StoreError, Value, MIGRATIONS};
use portcullis_native::testing::MockClock;
use portcullis_native::{MemoryKv, OsRandom, SqliteKv, SqliteSql, PAGE_SIZE};

async fn kv_contract(kv: &dyn Kv, clock: &MockClock) {
    assert_eq!(kv.get("a").await.unwrap(), None);
    assert!(!kv.exists("a").await.unwrap());
    kv.set("a", b"1").await.unwrap();
    kv.set("a", b"2").await.unwrap();
    assert_eq!(kv.get("a").await.unwrap().as_deref(), Some(&b"2"[..]));
    assert!(kv.exists("a").await.unwrap());
    kv.delete("a").await.unwrap();
    kv.delete("a").await.unwrap(); // deleting nothing is fine
    assert_eq!(kv.get("a").await.unwrap(), None);

    kv.set_with_ttl("t", b"x", 60).await.unwrap();
    clock.advance(59);
    assert!(kv.exists("t").await.unwrap());
    clock.advance(1);
    assert!(!kv.exists("t").await.unwrap());
    // A TTL past any clock's range lives on; its arithmetic saturates (it overflowed in the
    // memory and SQLite stores, found by the schemathesis work: a 500 on `portcullis serve`).
    for ttl in [u64::MAX, i64::MAX as u64, i64::MAX as u64 / 1000 + 1] {
        kv.set_with_ttl("huge", b"x", ttl).await.unwrap();
        clock.advance(1);
        assert!(kv.exists("huge").await.unwrap(), "{ttl}");
    }
    kv.delete("huge").await.unwrap();

    let n = PAGE_SIZE + 7;
    for i in 0..n {
        kv.set(&format!("p:{i:05}"), b"v").await.unwrap();
    }
    kv.set("q:other", b"v").await.unwrap();
    kv.set_with_ttl("p:expired", b"v", 1).await.unwrap();
    clock.advance(1);
    let first = kv.list_keys("p:", None).await.unwrap();
    assert_eq!(first.keys.len(), PAGE_SIZE);
    let second = kv.list_keys("p:", first.cursor.as_deref()).await.unwrap();
    assert_eq!(second.cursor, None);
    let mut all: Vec<String> = first.keys.into_iter().chain(second.keys).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n);
    assert!(all.iter().all(|k| k.starts_with("p:0")));
}

#[test]
fn memory_kv_follows_the_contract() {
    run(async {
        let clock = MockClock::at(NOW);
        kv_contract(&MemoryKv::with_clock(clock.now_fn()), &clock).await;
    })
}

#[test]
fn sqlite_kv_follows_the_contract_and_persists() {
    run(async {
        let clock = MockClock::at(NOW);
        let dir = std::env::temp_dir().join(format!("portcullis-kv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kv.sqlite");
        let _ = std::fs::remove_file(&path);
        let kv = SqliteKv::new(SqliteSql::open(&path).unwrap(), clock.now_fn()).unwrap();
        kv_contract(&kv, &clock).await;
        kv.set("durable", b"yes").await.unwrap();
        drop(kv);
        let reopened = SqliteKv::new(SqliteSql::open(&path).unwrap(), clock.now_fn()).unwrap();
        assert_eq!(reopened.get("durable").await.unwrap().as_deref(), Some(&b"yes"[..]));
        assert!(reopened.purge_expired().unwrap() >= 1);
        std::fs::remove_dir_all(&dir).unwrap();
    })
}

#[test]
fn sql_batch_is_all_or_nothing() {
    run(async {
        let sql = SqliteSql::in_memory().unwrap();
        sql.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)", &[]).await.unwrap();
        let insert = |id: i64| Statement::new("INSERT INTO t (id, v) VALUES (?, ?)", vec![id.into(), "x".into()]);
        assert_eq!(sql.batch(&[insert(1), insert(2)]).await.unwrap(), vec![1, 1]);
        let err = sql.batch(&[insert(3), insert(1)]).await.unwrap_err();
        assert!(err.is_constraint(), "{err:?}");
        let count = sql.execute("SELECT COUNT(*) FROM t", &[]).await.unwrap();
        assert_eq!(count.rows[0].values[0], Value::Integer(2));
        let rows = sql.execute("SELECT id, v FROM t WHERE id = ?", &[Value::Integer(2)]).await.unwrap();
        assert_eq!(rows.columns, vec!["id", "v"]);
        assert_eq!(rows.rows[0].values, vec![Value::Integer(2), Value::Text("x".into())]);
        // Values round-trip, including 2^53 and blobs.
        let big = 1i64 << 53;
        let echoed = sql
            .execute("SELECT ?, ?, ?, ?", &[big.into(), Value::Real(1.5), Value::Blob(vec![0, 255]), Value::Null])
            .await
            .unwrap();
        assert_eq!(
            echoed.rows[0].values,
            vec![Value::Integer(big), Value::Real(1.5), Value::Blob(vec![0, 255]), Value::Null]
        );
        assert!(matches!(sql.execute("NOT SQL", &[]).await, Err(StoreError::Other(_))));
    })
}

#[test]
fn migrations_run_once_from_empty() {
    run(async {
        let sql = SqliteSql::in_memory().unwrap();
        let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(migrate(&sql, NOW).await.unwrap(), all);
        assert!(migrate(&sql, NOW).await.unwrap().is_empty());
        // Two "processes" migrating the same fresh database at once.
        let dir = std::env::temp_dir().join(format!("portcullis-mig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        let _ = std::fs::remove_file(&path);
        let (a, b) = (SqliteSql::open(&path).unwrap(), SqliteSql::open(&path).unwrap());
        let (ra, rb) = futures::join!(migrate(&a, NOW), migrate(&b, NOW));
        let mut applied = ra.unwrap();
        applied.extend(rb.unwrap());
        assert_eq!(applied, all);
        std::fs::remove_dir_all(&dir).unwrap();
    })
}

async fn locked_db() -> SqliteSql {
    let sql = SqliteSql::in_memory().unwrap();
    migrate(&sql, NOW).await.unwrap();
    sql
}

fn mutex<'a>(sql: &'a SqliteSql, clock: &'a MockClock, max_wait_ms: u64, ttl_ms: u64) -> Mutex<'a> {
    Mutex { sql, clock, rng: &OsRandom, name: "job".into(), max_wait_ms, ttl_ms }
}

#[test]
fn mutex_times_out_while_held() {
    run(async {
        let (sql, clock) = (locked_db().await, MockClock::at(NOW));
        let holder = mutex(&sql, &clock, 1000, 60_000);
        let guard = holder.acquire().await.unwrap();
        let start = portcullis::Clock::now_millis(&clock);
        let err = mutex(&sql, &clock, 2000, 60_000).acquire().await.unwrap_err();
        assert_eq!(err.kind(), "lock_timeout");
        assert!(matches!(err, portcullis::Error::Lock(LockError::Timeout { waited_ms, .. }) if waited_ms >= 2000));
        assert!(portcullis::Clock::now_millis(&clock) - start >= 2000);
        holder.release(guard).await.unwrap();
        let _guard = mutex(&sql, &clock, 0, 60_000).acquire().await.unwrap();
    })
}

#[test]
fn mutex_release_is_for_the_holder_only() {
    run(async {
        let (sql, clock) = (locked_db().await, MockClock::at(NOW));
        let m = mutex(&sql, &clock, 0, 1000);
        let first = m.acquire().await.unwrap();
        // The lock expires under its holder; a second party takes it.
        clock.advance(2);
        let second = m.acquire().await.unwrap();
        let err = m.release(first).await.unwrap_err();
        assert_eq!(err.kind(), "lock_expired");
        // The second holder's lock was not released by the first.
        assert!(m.try_acquire_once().await.unwrap().is_none());
        m.release(second).await.unwrap();
        assert!(m.try_acquire_once().await.unwrap().is_some());
    })
}

#[test]
fn mutex_under_contention_admits_one_at_a_time() {
    run(async {
        let (sql, clock) = (locked_db().await, MockClock::at(NOW));
        let inside = std::cell::Cell::new(0);
        let max_inside = std::cell::Cell::new(0);
        let worker = || async {
            let m = mutex(&sql, &clock, 60_000, 60_000);
            let guard = m.acquire().await.unwrap();
            inside.set(inside.get() + 1);
            max_inside.set(max_inside.get().max(inside.get()));
            for _ in 0..3 {
                portcullis_native::testing::yield_now().await;
            }
            inside.set(inside.get() - 1);
            m.release(guard).await.unwrap();
        };
        futures::join!(worker(), worker(), worker(), worker(), worker());
        assert_eq!(max_inside.get(), 1);
    })
}
