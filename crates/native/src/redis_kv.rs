//! Redis behind the core's [`Kv`] trait, shared by several host processes.

use async_trait::async_trait;
use portcullis::{KeyPage, Kv, StoreError};
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use crate::PAGE_SIZE;

/// A Redis connection (reconnecting on failure), cheap to clone.
#[derive(Clone)]
pub struct RedisKv {
    conn: ConnectionManager,
}

impl RedisKv {
    /// Connects to `url` (`redis://host:port/db`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        let conn = ConnectionManager::new(client).await.map_err(redis_error)?;
        Ok(RedisKv { conn })
    }

    pub async fn get_send(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn.clone().get(key).await.map_err(redis_error)
    }

    pub async fn set_send(&self, key: &str, value: &[u8], ttl_seconds: Option<u64>) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        match ttl_seconds {
            Some(ttl) => conn.set_ex::<_, _, ()>(key, value, ttl.max(1)).await,
            None => conn.set::<_, _, ()>(key, value).await,
        }
        .map_err(redis_error)
    }

    pub async fn delete_send(&self, key: &str) -> Result<(), StoreError> {
        self.conn.clone().del::<_, ()>(key).await.map_err(redis_error)
    }

    pub async fn exists_send(&self, key: &str) -> Result<bool, StoreError> {
        self.conn.clone().exists(key).await.map_err(redis_error)
    }

    /// One `SCAN` step over keys starting with `prefix`.
    pub async fn list_keys_send(&self, prefix: &str, cursor: Option<&str>) -> Result<KeyPage, StoreError> {
        let start: u64 = match cursor {
            Some(c) => c.parse().map_err(|_| StoreError::Other("invalid cursor".into()))?,
            None => 0,
        };
        let pattern = format!("{}*", escape_glob(prefix));
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(start)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(PAGE_SIZE)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(redis_error)?;
        Ok(KeyPage { keys, cursor: (next != 0).then(|| next.to_string()) })
    }
}

#[async_trait(?Send)]
impl Kv for RedisKv {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_send(key).await
    }

    async fn set(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.set_send(key, value, None).await
    }

    async fn set_with_ttl(&self, key: &str, value: &[u8], ttl_seconds: u64) -> Result<(), StoreError> {
        self.set_send(key, value, Some(ttl_seconds)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.delete_send(key).await
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        self.exists_send(key).await
    }

    async fn list_keys(&self, prefix: &str, cursor: Option<&str>) -> Result<KeyPage, StoreError> {
        self.list_keys_send(prefix, cursor).await
    }
}

/// Escapes Redis glob characters so a prefix matches literally.
fn escape_glob(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn redis_error(e: redis::RedisError) -> StoreError {
    StoreError::Other(format!("redis: {:?}", e.kind()))
}
