//! Test doubles: a clock tests can move, and storage wrappers that fail on command or yield on
//! every call (so concurrent futures really interleave on a single-threaded executor).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_trait::async_trait;
use portcullis::{Clock, Dialect, KeyPage, Kv, LocalBoxFuture, QueryResult, Sql, Statement, StoreError, Value};

use crate::NowFn;

/// A clock that moves only when told to. `sleep` advances it and yields once.
#[derive(Clone, Debug)]
pub struct MockClock {
    millis: Arc<AtomicI64>,
}

impl MockClock {
    /// A clock at `unix_seconds`.
    pub fn at(unix_seconds: i64) -> Self {
        MockClock { millis: Arc::new(AtomicI64::new(unix_seconds * 1000)) }
    }

    pub fn advance(&self, seconds: i64) {
        self.millis.fetch_add(seconds * 1000, Ordering::SeqCst);
    }

    /// The same clock as a function, for the native stores' TTLs.
    pub fn now_fn(&self) -> NowFn {
        let millis = self.millis.clone();
        Arc::new(move || millis.load(Ordering::SeqCst))
    }
}

impl Clock for MockClock {
    fn now_millis(&self) -> i64 {
        self.millis.load(Ordering::SeqCst)
    }

    fn sleep(&self, millis: u64) -> LocalBoxFuture<'static, ()> {
        self.millis.fetch_add(i64::try_from(millis).unwrap_or(i64::MAX), Ordering::SeqCst);
        Box::pin(YieldNow(false))
    }
}

/// Returns `Pending` once, so other futures run.
pub struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Yields to other futures.
pub fn yield_now() -> YieldNow {
    YieldNow(false)
}

/// Which storage operations fail, shared between a test and its wrapped stores. Operation names:
/// `kv.get`, `kv.set` (also `set_with_ttl`), `kv.delete`, `kv.exists`, `kv.list_keys`,
/// `sql.execute`, `sql.batch`.
#[derive(Clone, Default, Debug)]
pub struct Faults {
    failing: Arc<Mutex<HashSet<&'static str>>>,
    yielding: Arc<std::sync::atomic::AtomicBool>,
}

impl Faults {
    pub fn fail(&self, operation: &'static str) {
        self.lock().insert(operation);
    }

    pub fn heal(&self, operation: &'static str) {
        self.lock().remove(operation);
    }

    pub fn heal_all(&self) {
        self.lock().clear();
    }

    /// Makes every operation yield once before running.
    pub fn set_yielding(&self, on: bool) {
        self.yielding.store(on, Ordering::SeqCst);
    }

    async fn check(&self, operation: &'static str) -> Result<(), StoreError> {
        if self.yielding.load(Ordering::SeqCst) {
            yield_now().await;
        }
        if self.lock().contains(operation) {
            Err(StoreError::Other(format!("injected failure in {operation}")))
        } else {
            Ok(())
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<&'static str>> {
        self.failing.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A store that fails the operations its [`Faults`] name.
#[derive(Clone)]
pub struct Faulty<T> {
    pub inner: T,
    pub faults: Faults,
}

#[async_trait(?Send)]
impl<T: Kv> Kv for Faulty<T> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.faults.check("kv.get").await?;
        self.inner.get(key).await
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.faults.check("kv.set").await?;
        self.inner.set(key, value).await
    }

    async fn set_with_ttl(&self, key: &str, value: &[u8], ttl_seconds: u64) -> Result<(), StoreError> {
        self.faults.check("kv.set").await?;
        self.inner.set_with_ttl(key, value, ttl_seconds).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.faults.check("kv.delete").await?;
        self.inner.delete(key).await
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.faults.check("kv.exists").await?;
        self.inner.exists(key).await
    }

    async fn list_keys(&self, prefix: &str, cursor: Option<&str>) -> Result<KeyPage, StoreError> {
        self.faults.check("kv.list_keys").await?;
        self.inner.list_keys(prefix, cursor).await
    }
}

#[async_trait(?Send)]
impl<T: Sql> Sql for Faulty<T> {
    async fn execute(&self, sql: &str, params: &[Value]) -> Result<QueryResult, StoreError> {
        self.faults.check("sql.execute").await?;
        self.inner.execute(sql, params).await
    }

    async fn batch(&self, statements: &[Statement]) -> Result<Vec<u64>, StoreError> {
        self.faults.check("sql.batch").await?;
        self.inner.batch(statements).await
    }

    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
}
