//! The storage contract: the Rust mirror of the `kv` and `sql` interfaces in `wit/`.
//!
//! Every host provides these two traits: Workers KV and D1, the component's WIT imports, SQLite,
//! PostgreSQL and Redis. Platform quirks (Workers KV's 60 s minimum TTL, D1's number binding,
//! PostgreSQL placeholders) live in the host adapters, never here.

pub(crate) mod keys;
mod kv;
mod migrations;
pub(crate) mod record;
mod sql;

pub(crate) use kv::list_all;
pub use kv::{KeyPage, Kv};
pub use migrations::{migrate, Migration, MIGRATIONS};
pub use sql::{Dialect, QueryResult, Row, Sql, Statement, Value};

/// A storage failure, as the WIT `error` variant of `wasi:keyvalue/store` describes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend refused access (credentials, permissions).
    #[error("storage access denied")]
    AccessDenied,
    /// A SQL constraint (unique key, foreign key) rejected the write.
    #[error("storage constraint violated: {0}")]
    Constraint(String),
    /// Any other backend failure; the text is for logs and never holds a secret.
    #[error("storage failure: {0}")]
    Other(String),
}

impl StoreError {
    /// Whether this failure is a unique/foreign-key constraint violation.
    pub fn is_constraint(&self) -> bool {
        matches!(self, StoreError::Constraint(_))
    }
}
