//! Portcullis: a token and session authority that runs unchanged on every WebAssembly host.
//!
//! The core is pure logic. Storage comes in through the [`Kv`] and [`Sql`] traits (the Rust
//! mirror of `wit/`), time and randomness through [`Clock`] and [`Random`]; each host adapts its
//! platform to them and serves the same API.

pub mod api;
mod codec;
mod config;
mod crypto;
mod env;
mod error;
pub mod jwt;
mod lock;
mod session;
mod settings;
mod store;
mod token;

pub use config::{
    TokenConfig, ADMIN_SCOPES, DEFAULT_SESSION_LIFETIME, MAX_EXPIRES, MINIMUM_LIFETIME, SCOPE_ADMIN_SESSION,
    SCOPE_ADMIN_TOKEN, SCOPE_ADMIN_USERINFO, SCOPE_USER_TOKEN,
};
pub use crypto::{hash_secret, EncryptionKey, KeyRing, SecretBytes, SecretHash};
pub use env::{Clock, Env, LocalBoxFuture, Random, UnixTime};
pub use error::{ConfigError, Error, LimitScope, LockError, RequestError, Result, SessionError};
pub use lock::{LockGuard, Mutex};
pub use session::{
    ApicrudSessions, Datasets, JwtSessionManager, JwtSettings, JwtUser, NoAuth, NoAuthSessionManager, Permission,
    SessionInfo, SessionLimits, SessionManager, SessionRef, SingleSessionManager, TokenPair, WhenFull, NO_AUTH_ADMIN,
};
pub use settings::Settings;
pub use store::{
    migrate, Dialect, KeyPage, Kv, Migration, QueryResult, Row, Sql, Statement, StoreError, Value, MIGRATIONS,
};
pub use token::{
    is_admin, is_bot_username, valid_prefix, valid_scope, valid_username, AdminTokenRequest, AuditIssue, AuditKind,
    AuditReport, Group, HistoryEntry, HistoryPage, HistoryQuery, Token, TokenChange, TokenChanges, TokenData,
    TokenInfo, TokenKey, TokenParseError, TokenService, TokenType, UserInfo, BOOTSTRAP_USERNAME, DEFAULT_PREFIX,
    INTERNAL_ACTOR, MAX_TOKEN_LEN,
};
