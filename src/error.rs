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
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Jwt(#[from] crate::jwt::JwtError),
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
            Error::Session(e) => e.kind(),
            Error::Jwt(e) => e.kind(),
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

/// Which session limit was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    User,
    Global,
}

impl std::fmt::Display for LimitScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LimitScope::User => "this user",
            LimitScope::Global => "the service",
        })
    }
}

/// Failures of the session managers (plantdb's SessionValidationError and its kinds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Too many active sessions and the policy is to refuse.
    #[error("session limit of {limit} reached for {scope}")]
    LimitReached { scope: LimitScope, limit: u32 },
    /// The session id is unknown, revoked or malformed.
    #[error("session not found")]
    SessionNotFound,
    /// The session existed but has expired (it is removed).
    #[error("session expired at {expires} (now {now})")]
    Expired { now: i64, expires: i64 },
    /// A well-signed access token whose session is gone (revoked, evicted or expired).
    #[error("access token is not an active session")]
    AccessTokenNotFound,
    /// A well-signed refresh token that is not active (revoked, expired or never issued here).
    #[error("refresh token is not active")]
    RefreshTokenNotFound,
    /// A refresh token presented again after its grace window: its whole family is revoked.
    #[error("refresh token was already used; every token of its family is revoked")]
    RefreshTokenReused,
    /// A well-signed API token that was revoked or never recorded.
    #[error("API token is not active")]
    ApiTokenNotFound,
    /// The token could not be decoded or verified.
    #[error("token could not be processed: {0}")]
    InvalidTokenProcessing(&'static str),
    /// A token of another kind than the operation takes (an access token passed to refresh).
    #[error("expected a {expected} token, got {found}")]
    WrongTokenType { expected: &'static str, found: String },
    /// The no-auth manager was asked for without being explicitly enabled.
    #[error("the no-auth session manager is disabled; enable it explicitly for tests and demos")]
    NoAuthDisabled,
}

impl SessionError {
    pub fn kind(&self) -> &'static str {
        match self {
            SessionError::LimitReached { .. } => "session_limit_reached",
            SessionError::SessionNotFound => "session_not_found",
            SessionError::Expired { .. } => "session_expired",
            SessionError::AccessTokenNotFound => "access_token_not_found",
            SessionError::RefreshTokenNotFound => "refresh_token_not_found",
            SessionError::RefreshTokenReused => "refresh_token_reused",
            SessionError::ApiTokenNotFound => "api_token_not_found",
            SessionError::InvalidTokenProcessing(_) => "invalid_token_processing",
            SessionError::WrongTokenType { .. } => "wrong_token_type",
            SessionError::NoAuthDisabled => "no_auth_disabled",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
