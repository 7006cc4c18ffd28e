//! The error type of the core: one enum per area under a top-level [`Error`].
//!
//! Variants carry what is needed to diagnose a failure, never a secret or a token. Each error
//! has a stable machine-readable [`Error::kind`], which the HTTP layer maps to a status.

pub use crate::store::StoreError;
pub use crate::token::TokenParseError;

/// Every failure the core reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Parse(#[from] TokenParseError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Lock(#[from] LockError),
}

impl Error {
    /// A stable, machine-readable name of the failure, as the HTTP API reports it.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Parse(_) => "invalid_token",
            Error::Request(e) => e.kind(),
            Error::Store(_) => "storage_error",
            Error::Config(_) => "config_error",
            Error::Lock(e) => e.kind(),
        }
    }
}

/// A request the caller may correct: the token, the scopes, the permissions, the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The token is unknown, expired, revoked or its secret does not match.
    #[error("token is not valid")]
    InvalidToken,
    /// The caller may not do this.
    #[error("permission denied: {0}")]
    PermissionDenied(&'static str),
    /// The token or user named does not exist (or is not visible to the caller).
    #[error("not found")]
    NotFound,
    /// The user already has a token with this name.
    #[error("user {username} already has a token named {name:?}")]
    DuplicateTokenName { username: String, name: String },
    /// Scopes that are malformed, unknown, or not held by the creator.
    #[error("invalid scopes: {0}")]
    InvalidScopes(String),
    /// An expiry in the past, too soon, or later than allowed.
    #[error("invalid expiration: {0}")]
    InvalidExpires(&'static str),
    /// A minimum lifetime that no token could satisfy.
    #[error("invalid minimum lifetime: {0}")]
    InvalidMinimumLifetime(&'static str),
    /// A malformed username.
    #[error("invalid username {0:?}")]
    InvalidUsername(String),
    /// Any other malformed input.
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl RequestError {
    pub fn kind(&self) -> &'static str {
        match self {
            RequestError::InvalidToken => "invalid_token",
            RequestError::PermissionDenied(_) => "permission_denied",
            RequestError::NotFound => "not_found",
            RequestError::DuplicateTokenName { .. } => "duplicate_token_name",
            RequestError::InvalidScopes(_) => "invalid_scopes",
            RequestError::InvalidExpires(_) => "invalid_expires",
            RequestError::InvalidMinimumLifetime(_) => "invalid_minimum_lifetime",
            RequestError::InvalidUsername(_) | RequestError::Invalid(_) => "invalid_request",
        }
    }
}

/// Configuration the core cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Failures of the SQL lock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// The lock stayed held by someone else for the whole wait.
    #[error("timed out after {waited_ms} ms waiting for lock {name:?}")]
    Timeout { name: String, waited_ms: u64 },
    /// Release by a caller that does not hold the lock (any more).
    #[error("lock {name:?} is not held by this holder")]
    NotHolder { name: String },
    /// The lock expired while its holder still had it; another party may have taken it.
    #[error("lock {name:?} expired while held")]
    Expired { name: String },
}

impl LockError {
    pub fn kind(&self) -> &'static str {
        match self {
            LockError::Timeout { .. } => "lock_timeout",
            LockError::NotHolder { .. } => "lock_not_held",
            LockError::Expired { .. } => "lock_expired",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
