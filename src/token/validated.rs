//! Tokens validated recently, kept in this instance's memory for at most
//! `validation_cache_seconds` (SPEC 1): a token presented again within that time is checked
//! against its secret's hash here instead of reading KV. The fast path's revocation lag becomes
//! KV propagation plus that figure; a token this instance revokes or changes is forgotten at
//! once, and strict validation never looks here.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use super::{Token, TokenData, TokenKey};
use crate::crypto::SecretHash;

/// Bound on the entries; when full the cache starts over.
const CAPACITY: usize = 10_000;

pub(crate) struct ValidatedTokens {
    /// How long an entry is kept, in milliseconds (0: the cache is off).
    keep_millis: i64,
    entries: RefCell<HashMap<TokenKey, Validated>>,
    /// Moves on at every `forget` and `clear`, so that a validation that read KV before a
    /// revocation here cannot put the revoked token back when it finishes.
    epoch: Cell<u64>,
}

struct Validated {
    hash: SecretHash,
    data: TokenData,
    /// Unix time in milliseconds from which the entry is no longer used.
    until_millis: i64,
}

impl ValidatedTokens {
    pub(crate) fn new(seconds: u64) -> Self {
        let keep_millis = i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
        ValidatedTokens { keep_millis, entries: RefCell::default(), epoch: Cell::new(0) }
    }

    /// The data `token` was validated with less than the cache's time ago, if its secret
    /// matches (compared in constant time) and it has not expired since.
    pub(crate) fn get(&self, token: &Token, now_millis: i64) -> Option<TokenData> {
        if self.keep_millis == 0 {
            return None;
        }
        let entries = self.entries.borrow();
        let entry = entries.get(token.key()).filter(|entry| now_millis < entry.until_millis)?;
        entry.hash.matches(token.secret()).then(|| entry.data.clone())
    }

    /// Taken before reading a record, handed to [`ValidatedTokens::insert`] after.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.get()
    }

    /// Keeps `data`, validated from a record whose secret hash is `hash` and read when the cache
    /// was at `epoch`, until the cache's time has passed or the token expires, whichever comes
    /// first. Nothing is kept if anything was forgotten since `epoch`.
    pub(crate) fn insert(&self, hash: SecretHash, data: &TokenData, now_millis: i64, epoch: u64) {
        if self.keep_millis == 0 || epoch != self.epoch.get() {
            return;
        }
        let expires_millis = data.expires.map_or(i64::MAX, |exp| exp.saturating_mul(1000));
        let until_millis = now_millis.saturating_add(self.keep_millis).min(expires_millis);
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= CAPACITY && !entries.contains_key(&data.key) {
            entries.clear();
        }
        entries.insert(data.key.clone(), Validated { hash, data: data.clone(), until_millis });
    }

    /// Drops what is kept for `key` (its record was rewritten or deleted here).
    pub(crate) fn forget(&self, key: &TokenKey) {
        if self.keep_millis != 0 {
            self.epoch.set(self.epoch.get().wrapping_add(1));
            self.entries.borrow_mut().remove(key);
        }
    }

    /// Drops everything (records were changed in bulk).
    pub(crate) fn clear(&self) {
        self.epoch.set(self.epoch.get().wrapping_add(1));
        self.entries.borrow_mut().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hash_secret;
    use crate::token::{TokenType, UserInfo};

    fn token(byte: u8) -> Token {
        let key = format!("{}{}", char::from(b'A' + byte), "A".repeat(21));
        Token::from_parts(TokenKey::parse(&key).unwrap(), &[byte; 16])
    }

    fn data(token: &Token, expires: Option<i64>) -> TokenData {
        TokenData {
            key: token.key().clone(),
            username: "alice".into(),
            token_type: TokenType::User,
            scopes: vec!["read:all".into()],
            service: None,
            created: 0,
            expires,
            user: UserInfo::default(),
        }
    }

    #[test]
    fn keeps_a_token_for_its_time_and_no_longer() {
        let cache = ValidatedTokens::new(5);
        let t = token(1);
        cache.insert(hash_secret(t.secret()), &data(&t, None), 1_000_000, cache.epoch());
        assert_eq!(cache.get(&t, 1_000_000).map(|d| d.username), Some("alice".into()));
        assert!(cache.get(&t, 1_004_999).is_some());
        assert!(cache.get(&t, 1_005_000).is_none());
    }

    #[test]
    fn never_outlives_the_token() {
        let cache = ValidatedTokens::new(60);
        let t = token(2);
        cache.insert(hash_secret(t.secret()), &data(&t, Some(1_002)), 1_000_000, cache.epoch());
        assert!(cache.get(&t, 1_001_999).is_some());
        assert!(cache.get(&t, 1_002_000).is_none());
    }

    #[test]
    fn wants_the_secret_that_was_validated() {
        let cache = ValidatedTokens::new(5);
        let t = token(3);
        cache.insert(hash_secret(t.secret()), &data(&t, None), 0, cache.epoch());
        let same_key_other_secret = Token::from_parts(t.key().clone(), &[9; 16]);
        assert!(cache.get(&same_key_other_secret, 1).is_none());
        assert!(cache.get(&t, 1).is_some());
    }

    #[test]
    fn a_read_from_before_a_forget_is_not_kept() {
        let cache = ValidatedTokens::new(5);
        let (t, other) = (token(5), token(6));
        let before = cache.epoch();
        cache.forget(other.key());
        cache.insert(hash_secret(t.secret()), &data(&t, None), 0, before);
        assert!(cache.get(&t, 1).is_none());
        cache.insert(hash_secret(t.secret()), &data(&t, None), 0, cache.epoch());
        assert!(cache.get(&t, 1).is_some());
    }

    #[test]
    fn forgets_and_can_be_off() {
        let cache = ValidatedTokens::new(5);
        let t = token(4);
        cache.insert(hash_secret(t.secret()), &data(&t, None), 0, cache.epoch());
        cache.forget(t.key());
        assert!(cache.get(&t, 1).is_none());
        cache.insert(hash_secret(t.secret()), &data(&t, None), 0, cache.epoch());
        cache.clear();
        assert!(cache.get(&t, 1).is_none());

        let off = ValidatedTokens::new(0);
        off.insert(hash_secret(t.secret()), &data(&t, None), 0, off.epoch());
        assert!(off.get(&t, 0).is_none());
    }
}
