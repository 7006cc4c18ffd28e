//! Native storage backends for Portcullis, used by the core's tests and by the `portcullis`
//! host: SQLite for `sql`, and for `kv` an in-memory store and a persistent one on SQLite.

mod memory_kv;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis_kv;
mod sqlite;
mod sqlite_kv;
mod system;
pub mod testing;

pub use memory_kv::MemoryKv;
#[cfg(feature = "postgres")]
pub use postgres::{number_placeholders, PostgresSql};
#[cfg(feature = "redis")]
pub use redis_kv::RedisKv;
pub use sqlite::{SqliteSql, SNAPSHOT_REUSE};
pub use sqlite_kv::SqliteKv;
pub use system::{system_millis, OsRandom};

/// The most keys one `list_keys` page holds, on every native backend.
pub const PAGE_SIZE: usize = 1000;

/// A page of at most [`PAGE_SIZE`] keys from up to one more, fetched in key order: when there
/// is more, the cursor is the last key of the page.
pub(crate) fn page(mut keys: Vec<String>) -> portcullis::KeyPage {
    let cursor = if keys.len() > PAGE_SIZE {
        keys.truncate(PAGE_SIZE);
        keys.last().cloned()
    } else {
        None
    };
    portcullis::KeyPage { keys, cursor }
}

/// A clock function: milliseconds since the Unix epoch.
pub type NowFn = std::sync::Arc<dyn Fn() -> i64 + Send + Sync>;
