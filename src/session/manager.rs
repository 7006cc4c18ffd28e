//! plantdb's opaque-id session managers, with their state in SQL so every instance of a host
//! shares it: [`SessionManager`], [`SingleSessionManager`] and [`NoAuthSessionManager`].

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::store::{SessionLimits, SessionRow, SessionTable, WhenFull};
use crate::codec::b64url;
use crate::crypto::KeyRing;
use crate::env::{random_array, Env, UnixTime};
use crate::error::{Result, SessionError};

/// What a valid session is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    pub username: String,
    pub created: UnixTime,
    pub last_access: UnixTime,
    pub expires: UnixTime,
}

/// Longest session id accepted as input (ids are 43 characters).
const MAX_ID_LEN: usize = 64;

/// Opaque session ids (256 random bits) with an expiry and concurrency limits.
///
/// Ids are stored hashed; the id itself is also kept sealed with the key ring so that
/// [`SessionManager::session_token`] can hand it back, while a copy of the database alone
/// reveals nothing usable.
pub struct SessionManager {
    env: Env,
    keys: KeyRing,
    name: String,
    session_timeout: i64,
    limits: SessionLimits,
}

impl SessionManager {
    /// plantdb's defaults are `session_timeout = 3600`, `max_concurrent_sessions = 10`: a
    /// global limit, refusing new sessions when full.
    pub fn new(env: Env, keys: KeyRing, session_timeout: i64, max_concurrent_sessions: u32) -> Self {
        let limits =
            SessionLimits { per_user: None, global: Some(max_concurrent_sessions), when_full: WhenFull::Refuse };
        SessionManager { env, keys, name: "session".into(), session_timeout, limits }
    }

    /// Replaces the limits (per user, global, refuse or evict the oldest).
    pub fn with_limits(mut self, limits: SessionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Keeps this manager's sessions apart from other managers' in the same database.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    pub fn limits(&self) -> &SessionLimits {
        &self.limits
    }

    fn table(&self) -> SessionTable<'_> {
        SessionTable { env: &self.env, manager: &self.name }
    }

    fn now(&self) -> UnixTime {
        self.env.clock.now()
    }

    /// A new session for `username`; fails with [`SessionError::LimitReached`] when full and
    /// the policy refuses.
    pub async fn create_session(&self, username: &str) -> Result<String> {
        crate::token::rules::check_username(username)?;
        let id = b64url(&random_array::<32>(&*self.env.rng));
        let now = self.now();
        let row = SessionRow {
            id: hash_id(&id),
            username: username.to_owned(),
            created: now,
            last_access: now,
            expires: now + self.session_timeout,
        };
        let sealed = self.keys.seal(row.id.as_bytes(), id.as_bytes(), &*self.env.rng);
        self.table().insert_limited(&row, Some(sealed), vec![], &self.limits, &|_| vec![], None).await?;
        Ok(id)
    }

    /// The session behind `id`, recording the access. An expired session is removed and
    /// reported as [`SessionError::Expired`].
    pub async fn validate_session(&self, id: &str) -> Result<SessionInfo> {
        let hashed = checked_hash(id)?;
        let table = self.table();
        let row = table.get(&hashed).await?.ok_or(SessionError::SessionNotFound)?;
        let now = self.now();
        if row.expires <= now {
            table.delete(&hashed).await?;
            return Err(SessionError::Expired { now, expires: row.expires }.into());
        }
        if !table.touch(&hashed, now).await? {
            return Err(SessionError::SessionNotFound.into());
        }
        Ok(SessionInfo { username: row.username, created: row.created, last_access: now, expires: row.expires })
    }

    /// Ends a session; returns its username if it existed.
    pub async fn invalidate_session(&self, id: &str) -> Result<Option<String>> {
        let Ok(hashed) = checked_hash(id) else { return Ok(None) };
        Ok(self.table().delete(&hashed).await?)
    }

    /// Replaces a live session with a new id and a fresh expiry; the old id stops working.
    pub async fn refresh_session(&self, id: &str) -> Result<String> {
        let info = self.validate_session(id).await?;
        let hashed = checked_hash(id)?;
        // Deleting first makes a concurrent refresh of the same id fail instead of forking it.
        if self.table().delete(&hashed).await?.is_none() {
            return Err(SessionError::SessionNotFound.into());
        }
        self.create_session(&info.username).await
    }

    pub async fn session_username(&self, id: &str) -> Result<String> {
        Ok(self.validate_session(id).await?.username)
    }

    /// The id of `username`'s newest live session, if any.
    pub async fn session_token(&self, username: &str) -> Result<Option<String>> {
        let Some((hashed, Some(sealed))) = self.table().newest_for(username, self.now()).await? else {
            return Ok(None);
        };
        Ok(self.keys.open(hashed.as_bytes(), &sealed).and_then(|id| String::from_utf8(id.to_vec()).ok()))
    }

    pub async fn n_active_sessions(&self) -> Result<u64> {
        Ok(self.table().count_active(self.now()).await?)
    }

    pub async fn has_logged_user(&self) -> Result<bool> {
        Ok(self.n_active_sessions().await? > 0)
    }

    /// Removes expired sessions; returns how many.
    pub async fn cleanup_expired_sessions(&self) -> Result<usize> {
        Ok(self.table().delete_expired(self.now()).await?.len())
    }
}

/// A session manager that allows one session at a time (a second create is refused).
pub struct SingleSessionManager(SessionManager);

impl SingleSessionManager {
    pub fn new(env: Env, keys: KeyRing, session_timeout: i64) -> Self {
        SingleSessionManager(SessionManager::new(env, keys, session_timeout, 1).with_name("single-session"))
    }
}

impl std::ops::Deref for SingleSessionManager {
    type Target = SessionManager;
    fn deref(&self) -> &SessionManager {
        &self.0
    }
}

/// The username every request has under [`NoAuthSessionManager`].
pub const NO_AUTH_ADMIN: &str = "admin";

/// Explicit consent to run without authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAuth {
    Disabled,
    /// Every request is the built-in admin. For tests and demos only.
    EnabledForTestsAndDemos,
}

/// For tests and demos: every request is the built-in admin. Refuses to exist unless enabled.
pub struct NoAuthSessionManager {
    token: String,
    created: UnixTime,
    session_timeout: i64,
    env: Env,
}

impl NoAuthSessionManager {
    pub fn new(env: Env, session_timeout: i64, consent: NoAuth) -> Result<Self> {
        if consent != NoAuth::EnabledForTestsAndDemos {
            return Err(SessionError::NoAuthDisabled.into());
        }
        let token = b64url(&random_array::<32>(&*env.rng));
        let created = env.clock.now();
        Ok(NoAuthSessionManager { token, created, session_timeout, env })
    }

    /// The admin token (the same for every caller).
    pub fn admin_token(&self) -> &str {
        &self.token
    }

    /// Ignores `username` and returns the admin token.
    pub fn create_session(&self, _username: &str) -> &str {
        &self.token
    }

    /// Every session is the admin's, renewed when its timeout has passed.
    pub fn validate_session(&self, _id: &str) -> SessionInfo {
        let now = self.env.clock.now();
        let elapsed = (now - self.created).max(0);
        let created = self.created + elapsed - elapsed % self.session_timeout.max(1);
        SessionInfo {
            username: NO_AUTH_ADMIN.into(),
            created,
            last_access: now,
            expires: created + self.session_timeout,
        }
    }

    pub fn session_username(&self, _id: &str) -> &'static str {
        NO_AUTH_ADMIN
    }
}

/// The stored form of a session id.
fn hash_id(id: &str) -> String {
    b64url(&Sha256::digest(id.as_bytes()))
}

fn checked_hash(id: &str) -> Result<String> {
    let well_formed = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if well_formed {
        Ok(hash_id(id))
    } else {
        Err(SessionError::SessionNotFound.into())
    }
}
