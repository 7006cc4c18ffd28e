use async_trait::async_trait;

use super::StoreError;

/// One page of `list_keys`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPage {
    pub keys: Vec<String>,
    /// Pass back to `list_keys` for the next page; `None` on the last page.
    pub cursor: Option<String>,
}

/// A key-value store shaped like `wasi:keyvalue/store`, plus TTLs and prefix listing.
///
/// Values are opaque bytes. A backend may keep a record past its TTL (or round the TTL up): the
/// core writes the expiry inside every record and treats an expired record as absent.
#[async_trait(?Send)]
pub trait Kv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Stores `value`, to be dropped by the backend after `ttl_seconds` (at least 1).
    async fn set_with_ttl(&self, key: &str, value: &[u8], ttl_seconds: u64) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    async fn exists(&self, key: &str) -> Result<bool, StoreError>;
    /// Keys starting with `prefix`, in pages. The order within a page is unspecified.
    async fn list_keys(&self, prefix: &str, cursor: Option<&str>) -> Result<KeyPage, StoreError>;
}

/// Lists every key under `prefix`, following cursors (bounded by `max_pages`).
pub(crate) async fn list_all(kv: &dyn Kv, prefix: &str, max_pages: usize) -> Result<Vec<String>, StoreError> {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..max_pages {
        let page = kv.list_keys(prefix, cursor.as_deref()).await?;
        keys.extend(page.keys);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(keys),
        }
    }
    Err(StoreError::Other(format!("more than {max_pages} pages of keys under {prefix:?}")))
}
