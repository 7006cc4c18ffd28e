//! Token records in KV (Gafaelfawr's TokenRedisStore), with the secret hashed, never stored.

use serde::{Deserialize, Serialize};

use super::validated::ValidatedTokens;
use super::{Token, TokenData, TokenKey};
use crate::crypto::{hash_secret, SecretHash};
use crate::env::UnixTime;
use crate::store::record::{Read, Records};
use crate::store::{keys, list_all, StoreError};

/// The most pages `list` follows (1,000 keys a page on every backend).
const MAX_LIST_PAGES: usize = 100_000;
const CHILD_SECRET_PURPOSE: &str = "child-token-secret";

/// What KV holds for a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredToken {
    pub hash: SecretHash,
    /// For child tokens, the id of the ring key their secret was derived with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived_with: Option<String>,
    pub data: TokenData,
}

/// Token data in KV, keyed by the token key. Every write and delete here also drops the
/// token from this instance's validated-token cache once it has reached KV (or failed): the
/// drop moves the cache's epoch on, so a validation that read the old record while the write
/// was under way keeps nothing.
pub(crate) struct TokenKvStore<'a> {
    pub records: Records<'a>,
    pub validated: &'a ValidatedTokens,
}

impl TokenKvStore<'_> {
    /// A new token: random, or for child tokens derived from the key ring so that the
    /// service can hand out an existing child again without the secret ever being stored.
    pub(crate) fn mint(&self, derive: bool) -> (Token, Option<String>) {
        let random = Token::generate(self.records.rng);
        if !derive {
            return (random, None);
        }
        let key_id = self.records.keys.primary_id().to_owned();
        let token = self.derive_child(random.key(), &key_id).expect("the primary key is in the ring");
        (token, Some(key_id))
    }

    fn derive_child(&self, key: &TokenKey, key_id: &str) -> Option<Token> {
        let derived = self.records.keys.derive(key_id, CHILD_SECRET_PURPOSE, key.as_str().as_bytes())?;
        let secret: [u8; 16] = derived[..16].try_into().expect("32 >= 16");
        Some(Token::from_parts(key.clone(), &secret))
    }

    pub(crate) async fn store(
        &self,
        token: &Token,
        derived_with: Option<String>,
        data: &TokenData,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let stored = StoredToken { hash: hash_secret(token.secret()), derived_with, data: data.clone() };
        let written = self.records.put(&keys::token(token.key().as_str()), &stored, data.expires, now).await;
        self.validated.forget(token.key());
        written
    }

    /// Rewrites the data of an existing record, keeping its secret hash.
    pub(crate) async fn restore(&self, stored: &StoredToken, now: UnixTime) -> Result<(), StoreError> {
        let written = self.records.put(&keys::token(stored.data.key.as_str()), stored, stored.data.expires, now).await;
        self.validated.forget(&stored.data.key);
        written
    }

    /// The data of `token` if it is valid: present, unexpired, and its secret matches (compared
    /// in constant time).
    pub(crate) async fn get_data(&self, token: &Token, now: UnixTime) -> Result<Option<TokenData>, StoreError> {
        Ok(self.get_valid(token, now).await?.map(|stored| stored.data))
    }

    /// [`TokenKvStore::get_data`] with the record's secret hash.
    pub(crate) async fn get_valid(&self, token: &Token, now: UnixTime) -> Result<Option<StoredToken>, StoreError> {
        Ok(self
            .read(token.key(), now)
            .await?
            .valid()
            .filter(|stored| stored.hash.matches(token.secret()) && stored.data.key == *token.key()))
    }

    /// The record under `key` without checking any secret. Internal use only: never call this
    /// with a key that came from a request.
    pub(crate) async fn read(&self, key: &TokenKey, now: UnixTime) -> Result<Read<StoredToken>, StoreError> {
        self.records.get(&keys::token(key.as_str()), now).await
    }

    /// Rebuilds a child token from its stored record (for reuse), if it was derived.
    pub(crate) async fn child_token(
        &self,
        key: &TokenKey,
        now: UnixTime,
    ) -> Result<Option<(Token, TokenData)>, StoreError> {
        let Some(stored) = self.read(key, now).await?.valid() else {
            return Ok(None);
        };
        let Some(token) = stored.derived_with.as_deref().and_then(|id| self.derive_child(key, id)) else {
            return Ok(None);
        };
        Ok(stored.hash.matches(token.secret()).then_some((token, stored.data)))
    }

    pub(crate) async fn delete(&self, key: &TokenKey) -> Result<bool, StoreError> {
        let kv_key = keys::token(key.as_str());
        let deleted = async {
            let existed = self.records.kv.exists(&kv_key).await?;
            self.records.kv.delete(&kv_key).await?;
            Ok(existed)
        }
        .await;
        self.validated.forget(key);
        deleted
    }

    /// Every token key in KV (malformed keys included, as raw strings, so the audit sees them).
    pub(crate) async fn list(&self) -> Result<Vec<String>, StoreError> {
        let keys = list_all(self.records.kv, keys::TOKEN_PREFIX, MAX_LIST_PAGES).await?;
        Ok(keys.iter().filter_map(|k| keys::token_key_of(k)).map(str::to_owned).collect())
    }

    pub(crate) async fn delete_all(&self) -> Result<(), StoreError> {
        let deleted = async {
            for key in self.list().await? {
                self.records.kv.delete(&keys::token(&key)).await?;
            }
            Ok(())
        }
        .await;
        self.validated.clear();
        deleted
    }
}
