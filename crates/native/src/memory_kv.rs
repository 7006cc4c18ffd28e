use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use portcullis::{KeyPage, Kv, StoreError};

use crate::{page, system_millis, NowFn, PAGE_SIZE};

/// Each key's value and its expiry (milliseconds since the epoch), if any.
type Entries = BTreeMap<String, (Vec<u8>, Option<i64>)>;

/// An in-memory KV with TTLs, for tests and single-process demos.
#[derive(Clone)]
pub struct MemoryKv {
    entries: Arc<Mutex<Entries>>,
    now: NowFn,
}

impl Default for MemoryKv {
    fn default() -> Self {
        MemoryKv::with_clock(Arc::new(system_millis))
    }
}

impl MemoryKv {
    /// A store whose TTLs follow `now` (milliseconds since the epoch).
    pub fn with_clock(now: NowFn) -> Self {
        MemoryKv { entries: Arc::default(), now }
    }

    /// Writes raw bytes, bypassing the core (tests use it to plant corrupt records).
    pub fn put_raw(&self, key: &str, value: &[u8]) {
        self.lock().insert(key.to_owned(), (value.to_vec(), None));
    }

    /// Every live key, for tests.
    pub fn keys(&self) -> Vec<String> {
        let now = (self.now)();
        self.lock().iter().filter(|(_, (_, exp))| exp.is_none_or(|e| e > now)).map(|(k, _)| k.clone()).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait(?Send)]
impl Kv for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = (self.now)();
        Ok(self.lock().get(key).filter(|(_, exp)| exp.is_none_or(|e| e > now)).map(|(v, _)| v.clone()))
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.lock().insert(key.to_owned(), (value.to_vec(), None));
        Ok(())
    }

    async fn set_with_ttl(&self, key: &str, value: &[u8], ttl_seconds: u64) -> Result<(), StoreError> {
        let ttl_ms = i64::try_from(ttl_seconds.max(1)).unwrap_or(i64::MAX).saturating_mul(1000);
        let expires = (self.now)().saturating_add(ttl_ms);
        self.lock().insert(key.to_owned(), (value.to_vec(), Some(expires)));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.get(key).await?.is_some())
    }

    async fn list_keys(&self, prefix: &str, cursor: Option<&str>) -> Result<KeyPage, StoreError> {
        let now = (self.now)();
        let entries = self.lock();
        let start = cursor.unwrap_or(prefix).to_owned();
        let keys: Vec<String> = entries
            .range(start..)
            .filter(|(k, _)| cursor != Some(k.as_str()))
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, (_, exp))| exp.is_none_or(|e| e > now))
            .map(|(k, _)| k.clone())
            .take(PAGE_SIZE + 1)
            .collect();
        Ok(page(keys))
    }
}
