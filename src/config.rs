//! Configuration of the token service, shared by every host.

use crate::error::ConfigError;
use crate::token::{rules, valid_prefix, Token, DEFAULT_PREFIX};

/// Scope that lets a user create and manage their own tokens.
pub const SCOPE_USER_TOKEN: &str = "user:token";
/// Scope of token administrators.
pub const SCOPE_ADMIN_TOKEN: &str = "admin:token";
/// Scope of callers that create sessions for users after their own login step.
pub const SCOPE_ADMIN_SESSION: &str = "admin:session";
/// Scope of callers that may read any user's identity data.
pub const SCOPE_ADMIN_USERINFO: &str = "admin:userinfo";
/// The scopes of the bootstrap token.
pub const ADMIN_SCOPES: [&str; 3] = [SCOPE_ADMIN_TOKEN, SCOPE_ADMIN_SESSION, SCOPE_ADMIN_USERINFO];

/// Default lifetime of a session token: 30 days.
pub const DEFAULT_SESSION_LIFETIME: i64 = 30 * 24 * 3600;
/// User tokens and minimum lifetimes leave at least this much: 5 minutes.
pub const MINIMUM_LIFETIME: i64 = 5 * 60;
/// The latest expiry a token may have: 9999-12-31T23:59:59Z. Later ones are refused, so that
/// time-to-expiry arithmetic (KV TTLs in milliseconds, child lifetimes) never overflows.
pub const MAX_EXPIRES: i64 = 253_402_300_799;

/// The longest `validation_cache_seconds` accepted: a revoked token is accepted for at most
/// this long by an instance that validated it before (on top of KV propagation).
pub const MAX_VALIDATION_CACHE_SECONDS: u64 = 300;

/// Settings of the token service.
#[derive(Clone, Debug)]
pub struct TokenConfig {
    /// Token prefix, `pc` by default.
    pub prefix: String,
    /// Lifetime of session tokens, and the cap of child tokens, in seconds.
    pub session_lifetime: i64,
    /// Every scope a token may carry (the admin scopes and `user:token` are always known).
    pub known_scopes: Vec<String>,
    /// A token that authenticates as the built-in administrator.
    pub bootstrap_token: Option<Token>,
    /// How long a validated token may be kept in memory and accepted again without reading KV
    /// (0: never). The fast path's revocation lag is KV propagation plus this.
    pub validation_cache_seconds: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            prefix: DEFAULT_PREFIX.to_owned(),
            session_lifetime: DEFAULT_SESSION_LIFETIME,
            known_scopes: Vec::new(),
            bootstrap_token: None,
            validation_cache_seconds: 0,
        }
    }
}

impl TokenConfig {
    /// Checks the settings and adds the built-in scopes to the known ones.
    pub fn validated(mut self) -> Result<Self, ConfigError> {
        if !valid_prefix(&self.prefix) {
            return Err(ConfigError::Invalid("token prefix must be 1-16 characters of [a-z0-9]".into()));
        }
        if self.session_lifetime < 2 * MINIMUM_LIFETIME {
            return Err(ConfigError::Invalid(format!("session lifetime must be at least {} s", 2 * MINIMUM_LIFETIME)));
        }
        if self.validation_cache_seconds > MAX_VALIDATION_CACHE_SECONDS {
            return Err(ConfigError::Invalid(format!(
                "validation cache must be at most {MAX_VALIDATION_CACHE_SECONDS} s"
            )));
        }
        if let Some(bad) = self.known_scopes.iter().find(|s| !rules::valid_scope(s)) {
            return Err(ConfigError::Invalid(format!("malformed scope {bad:?}")));
        }
        self.known_scopes.extend(ADMIN_SCOPES.iter().chain([&SCOPE_USER_TOKEN]).map(|s| s.to_string()));
        self.known_scopes = rules::sorted(&self.known_scopes);
        Ok(self)
    }

    /// Parses a bootstrap token given as text.
    pub fn with_bootstrap_token(mut self, text: &str) -> Result<Self, ConfigError> {
        let token = Token::parse(text.trim(), &self.prefix)
            .map_err(|e| ConfigError::Invalid(format!("bootstrap token: {e}")))?;
        self.bootstrap_token = Some(token);
        Ok(self)
    }
}
