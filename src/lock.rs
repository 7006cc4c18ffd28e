//! A named lock on SQL conditional writes, safe across processes and hosts (apicrud's Mutex,
//! fixed: release is holder-only and atomic, and a lock that expired under its holder is
//! reported).

use crate::codec::b64url;
use crate::env::{random_array, Clock, Random};
use crate::error::LockError;
use crate::store::{Sql, StoreError, Value};
use crate::Error;

const FIRST_BACKOFF_MS: u64 = 5;
const MAX_BACKOFF_MS: u64 = 200;

/// A held lock. Release it with [`Mutex::release`]; if dropped instead, it expires after its TTL.
#[derive(Debug)]
#[must_use = "a lock is held until released or expired"]
pub struct LockGuard {
    name: String,
    holder: String,
    expires_ms: i64,
}

impl LockGuard {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When the lock expires unless released, in milliseconds since the epoch.
    pub fn expires_ms(&self) -> i64 {
        self.expires_ms
    }
}

/// A lock named `name`, waited for at most `max_wait_ms`, held for at most `ttl_ms`.
pub struct Mutex<'a> {
    pub sql: &'a dyn Sql,
    pub clock: &'a dyn Clock,
    pub rng: &'a dyn Random,
    pub name: String,
    pub max_wait_ms: u64,
    pub ttl_ms: u64,
}

impl Mutex<'_> {
    /// Takes the lock, polling with backoff; fails with [`LockError::Timeout`] after `max_wait_ms`.
    pub async fn acquire(&self) -> Result<LockGuard, Error> {
        let holder = b64url(&random_array::<16>(self.rng));
        let start = self.clock.now_millis();
        let mut backoff = FIRST_BACKOFF_MS;
        loop {
            if let Some(guard) = self.try_acquire(&holder).await? {
                return Ok(guard);
            }
            let waited = self.clock.now_millis().saturating_sub(start).max(0) as u64;
            if waited >= self.max_wait_ms {
                return Err(LockError::Timeout { name: self.name.clone(), waited_ms: waited }.into());
            }
            self.clock.sleep(backoff.min(self.max_wait_ms - waited)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF_MS);
        }
    }

    /// One attempt: takes the lock if it is free or its holder's time ran out.
    pub async fn try_acquire_once(&self) -> Result<Option<LockGuard>, Error> {
        let holder = b64url(&random_array::<16>(self.rng));
        Ok(self.try_acquire(&holder).await?)
    }

    async fn try_acquire(&self, holder: &str) -> Result<Option<LockGuard>, StoreError> {
        let now = self.clock.now_millis();
        let expires_ms = now.saturating_add(i64::try_from(self.ttl_ms).unwrap_or(i64::MAX / 2));
        let result = self
            .sql
            .execute(
                "INSERT INTO lock (name, holder, expires_ms) VALUES (?, ?, ?) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms \
                 WHERE lock.expires_ms <= ? RETURNING holder",
                &[self.name.as_str().into(), holder.into(), expires_ms.into(), now.into()],
            )
            .await?;
        let won = result.scalar().and_then(Value::as_str) == Some(holder);
        Ok(won.then(|| LockGuard { name: self.name.clone(), holder: holder.to_owned(), expires_ms }))
    }

    /// Releases a lock this holder took. Fails with [`LockError::Expired`] if the lock ran out
    /// while held (released anyway, unless someone else has taken it since), and with
    /// [`LockError::NotHolder`] if someone else holds it.
    pub async fn release(&self, guard: LockGuard) -> Result<(), Error> {
        let deleted = self
            .sql
            .execute(
                "DELETE FROM lock WHERE name = ? AND holder = ? RETURNING expires_ms",
                &[guard.name.as_str().into(), guard.holder.as_str().into()],
            )
            .await?;
        let now = self.clock.now_millis();
        match deleted.scalar().and_then(Value::as_i64) {
            Some(expires_ms) if expires_ms > now => Ok(()),
            _ if guard.expires_ms <= now => Err(LockError::Expired { name: guard.name }.into()),
            _ => Err(LockError::NotHolder { name: guard.name }.into()),
        }
    }
}
