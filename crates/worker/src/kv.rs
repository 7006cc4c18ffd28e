//! Workers KV behind the core's [`Kv`] trait.
//!
//! Workers KV refuses an `expirationTtl` under 60 s, so shorter TTLs are rounded up to 60. That
//! is safe because the core writes each record's expiry inside it and reads an expired record as
//! absent; KV's TTL only reclaims the space. KV is eventually consistent (~60 s between
//! locations), which is why revocation-critical checks go to D1 (SPEC 1).

use async_trait::async_trait;
use portcullis::{KeyPage, Kv, StoreError};
use worker::kv::{KvError, KvStore};

/// The shortest `expirationTtl` Workers KV accepts.
pub const MIN_KV_TTL_SECONDS: u64 = 60;

/// The TTL to ask Workers KV for when the core asks for `ttl_seconds`.
pub fn clamp_ttl(ttl_seconds: u64) -> u64 {
    ttl_seconds.max(MIN_KV_TTL_SECONDS)
}

pub struct WorkersKv {
    store: KvStore,
}

impl WorkersKv {
    pub fn new(store: KvStore) -> Self {
        WorkersKv { store }
    }
}

fn store_error(e: KvError) -> StoreError {
    StoreError::Other(format!("workers kv: {e}"))
}

#[async_trait(?Send)]
impl Kv for WorkersKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get(key).bytes().await.map_err(store_error)
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.store.put_bytes(key, value).map_err(store_error)?.execute().await.map_err(store_error)
    }

    async fn set_with_ttl(&self, key: &str, value: &[u8], ttl_seconds: u64) -> Result<(), StoreError> {
        let put = self.store.put_bytes(key, value).map_err(store_error)?;
        put.expiration_ttl(clamp_ttl(ttl_seconds)).execute().await.map_err(store_error)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store.delete(key).await.map_err(store_error)
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.get(key).await?.is_some())
    }

    async fn list_keys(&self, prefix: &str, cursor: Option<&str>) -> Result<KeyPage, StoreError> {
        let mut list = self.store.list().prefix(prefix.to_owned());
        if let Some(cursor) = cursor {
            list = list.cursor(cursor.to_owned());
        }
        let page = list.execute().await.map_err(store_error)?;
        let cursor = if page.list_complete { None } else { page.cursor.filter(|c| !c.is_empty()) };
        Ok(KeyPage { keys: page.keys.into_iter().map(|k| k.name).collect(), cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ttls_are_rounded_up_to_the_kv_minimum() {
        assert_eq!(clamp_ttl(1), 60);
        assert_eq!(clamp_ttl(59), 60);
        assert_eq!(clamp_ttl(60), 60);
        assert_eq!(clamp_ttl(61), 61);
        assert_eq!(clamp_ttl(30 * 86_400), 30 * 86_400);
    }
}
