//! Child tokens (Gafaelfawr's TokenCacheService): notebook and internal tokens, reused while
//! fresh enough, never minted twice for one request by two racing callers.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use super::db_store::ChildQuery;
use super::rules::{check_service, is_subset, normalize_scopes};
use super::service::{NewToken, TokenService};
use super::{Token, TokenData, TokenKey, TokenType};
use crate::config::MINIMUM_LIFETIME;
use crate::env::UnixTime;
use crate::error::{LockError, RequestError, Result};
use crate::lock::Mutex as SqlMutex;
use crate::store::keys;

/// Entries kept before the cache starts over.
const MAX_CACHED: usize = 10_000;
/// Longest pause between two looks at a busy in-process lock.
const LOCAL_POLL_MAX_MS: u64 = 50;
/// How long a caller waits for another's child-token creation, and how long a crashed holder
/// keeps the SQL lock: the wait outlasts the lock, so after a crash (a process killed while
/// holding it) the next caller waits it out instead of failing.
const LOCK_WAIT_MS: u64 = 12_000;
const LOCK_TTL_MS: u64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ChildKey {
    parent: TokenKey,
    parent_expires: Option<UnixTime>,
    token_type: TokenType,
    service: Option<String>,
    scopes: Vec<String>,
}

/// The process-local cache of child tokens and the per-user locks around their creation.
#[derive(Default)]
pub(crate) struct ChildCache {
    tokens: RefCell<HashMap<ChildKey, Token>>,
    user_locks: RefCell<HashMap<String, Arc<async_lock::Mutex<()>>>>,
}

impl ChildCache {
    fn get(&self, key: &ChildKey) -> Option<Token> {
        self.tokens.borrow().get(key).cloned()
    }

    fn put(&self, key: ChildKey, token: Token) {
        let mut tokens = self.tokens.borrow_mut();
        if tokens.len() >= MAX_CACHED {
            tokens.clear();
        }
        tokens.insert(key, token);
    }

    fn user_lock(&self, username: &str) -> Arc<async_lock::Mutex<()>> {
        let mut locks = self.user_locks.borrow_mut();
        if locks.len() >= MAX_CACHED {
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        locks.entry(username.to_owned()).or_default().clone()
    }

    /// Forgets every cached token.
    pub(crate) fn clear(&self) {
        self.tokens.borrow_mut().clear();
    }
}

/// Whether a child may be handed out again: it lives at least `minimum_lifetime` more, or
/// (without one) less than half its lifetime has passed.
fn reusable(data: &TokenData, minimum_lifetime: Option<i64>, now: UnixTime) -> bool {
    match (data.expires, minimum_lifetime) {
        (None, _) => true,
        (Some(exp), Some(min)) => exp - now >= min,
        (Some(exp), None) => 2 * (exp - now) > exp - data.created,
    }
}

impl TokenService {
    /// A notebook token for `parent`: its scopes, capped expiry.
    pub async fn get_notebook_token(
        &self,
        parent: &TokenData,
        ip_address: Option<&str>,
        minimum_lifetime: Option<i64>,
    ) -> Result<Token> {
        let key = ChildKey {
            parent: parent.key.clone(),
            parent_expires: parent.expires,
            token_type: TokenType::Notebook,
            service: None,
            scopes: parent.scopes.clone(),
        };
        self.get_child(parent, key, ip_address, minimum_lifetime).await
    }

    /// An internal token delegated to `service` with `scopes`, which must be a subset of the
    /// parent's.
    pub async fn get_internal_token(
        &self,
        parent: &TokenData,
        service: &str,
        scopes: &[String],
        ip_address: Option<&str>,
        minimum_lifetime: Option<i64>,
    ) -> Result<Token> {
        check_service(service)?;
        let scopes = normalize_scopes(scopes, &self.config.known_scopes)?;
        if !is_subset(&scopes, &parent.scopes) {
            return Err(RequestError::InvalidScopes("requested scopes are broader than the parent's".into()).into());
        }
        let key = ChildKey {
            parent: parent.key.clone(),
            parent_expires: parent.expires,
            token_type: TokenType::Internal,
            service: Some(service.to_owned()),
            scopes,
        };
        self.get_child(parent, key, ip_address, minimum_lifetime).await
    }

    /// Forgets cached child tokens (they stay valid and are found again in the database).
    pub fn clear_child_cache(&self) {
        self.children.clear();
    }

    async fn get_child(
        &self,
        parent: &TokenData,
        key: ChildKey,
        ip_address: Option<&str>,
        minimum_lifetime: Option<i64>,
    ) -> Result<Token> {
        if parent.token_type.is_jwt() || parent.username == super::BOOTSTRAP_USERNAME {
            return Err(RequestError::Invalid(
                "delegated tokens are made from opaque session or user tokens only".into(),
            )
            .into());
        }
        self.check_minimum_lifetime(parent, minimum_lifetime)?;
        // One creation per user at a time: in this process, then across processes.
        let local = self.children.user_lock(&parent.username);
        let _local = self.lock_local(&local, &parent.username).await?;
        let mutex = SqlMutex {
            sql: &*self.env.sql,
            clock: &*self.env.clock,
            rng: &*self.env.rng,
            name: keys::child_lock(&parent.username),
            max_wait_ms: LOCK_WAIT_MS,
            ttl_ms: LOCK_TTL_MS,
        };
        let guard = mutex.acquire().await?;
        let result = self.find_or_create_child(parent, key, ip_address, minimum_lifetime).await;
        // An expired or stolen lock does not undo a token already made: report the creation.
        let _ = mutex.release(guard).await;
        result
    }

    /// Takes this process's lock for `username`, looking again on the clock's timer rather than
    /// awaiting the holder: on Workers, a request waiting on a promise that another request
    /// resolves is cancelled by the runtime as hung (found by the races on workerd).
    async fn lock_local<'a>(
        &self,
        lock: &'a async_lock::Mutex<()>,
        username: &str,
    ) -> Result<async_lock::MutexGuard<'a, ()>> {
        let clock = &*self.env.clock;
        let start = clock.now_millis();
        let mut backoff = 1;
        loop {
            if let Some(guard) = lock.try_lock() {
                return Ok(guard);
            }
            let waited = clock.now_millis().saturating_sub(start).max(0) as u64;
            if waited >= LOCK_WAIT_MS {
                return Err(LockError::Timeout { name: keys::child_lock(username), waited_ms: waited }.into());
            }
            clock.sleep(backoff).await;
            backoff = (backoff * 2).min(LOCAL_POLL_MAX_MS);
        }
    }

    fn check_minimum_lifetime(&self, parent: &TokenData, minimum_lifetime: Option<i64>) -> Result<()> {
        let Some(min) = minimum_lifetime else { return Ok(()) };
        if min <= 0 {
            return Err(RequestError::InvalidMinimumLifetime("must be positive").into());
        }
        if min > self.config.session_lifetime - MINIMUM_LIFETIME {
            return Err(RequestError::InvalidMinimumLifetime("longer than a token may live").into());
        }
        if parent.expires.is_some_and(|exp| exp - self.now() < min) {
            return Err(RequestError::InvalidMinimumLifetime("the parent token expires too soon").into());
        }
        Ok(())
    }

    async fn find_or_create_child(
        &self,
        parent: &TokenData,
        key: ChildKey,
        ip_address: Option<&str>,
        minimum_lifetime: Option<i64>,
    ) -> Result<Token> {
        let now = self.now();
        let kv = self.kv_store();
        if let Some(token) = self.children.get(&key) {
            if let Some(data) = kv.get_data(&token, now).await? {
                if reusable(&data, minimum_lifetime, now) {
                    return Ok(token);
                }
            }
        }
        let query = ChildQuery {
            parent: &parent.key,
            token_type: key.token_type,
            service: key.service.as_deref(),
            scopes: &key.scopes,
            min_expires: minimum_lifetime.map(|min| now + min),
            now,
        };
        if let Some(child) = self.db().find_child(&query).await? {
            if let Some((token, data)) = kv.child_token(&child, now).await? {
                if reusable(&data, minimum_lifetime, now) {
                    self.children.put(key, token.clone());
                    return Ok(token);
                }
            }
        }
        let cap = now + self.config.session_lifetime;
        let new = NewToken {
            username: &parent.username,
            token_type: key.token_type,
            scopes: key.scopes.clone(),
            service: key.service.as_deref(),
            expires: Some(parent.expires.map_or(cap, |exp| exp.min(cap))),
            user: parent.user.clone(),
            name: None,
            parent: Some(&parent.key),
        };
        let token = self.write_new(new, &parent.username, ip_address).await?;
        self.children.put(key, token.clone());
        Ok(token)
    }
}
