//! Tokens that passed every rule, kept so that the same token presented again costs a lookup
//! instead of a parse and a signature check (a client sends its access token with every request).
//!
//! A hit gives exactly what [`Validator::verify`] would: the token must be the same text, the
//! options the same, the key its `kid` selects the same key material, and the rules that depend
//! on `now` (`exp`, `nbf`, `iat` and the maximum age, the first rules on claims) run again. Only
//! successes are kept, so every failure comes from the full path. Bounded: when full, expired
//! entries go, then all.

use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

use chrono::DateTime;
use jwt_compact::Claims;
use subtle::ConstantTimeEq;

use super::claims::RawClaims;
use super::validate::TIME_RULES;
use crate::env::UnixTime;
use crate::jwt::{CryptoProvider, JwtError, ValidationOptions, Validator, VerifiedJwt, VerifyingKey};

/// Tokens kept by a [`VerifiedCache::default`].
pub const DEFAULT_CACHED_TOKENS: usize = 1024;

struct Entry {
    token: Box<str>,
    options: ValidationOptions,
    key: VerifyingKey,
    /// The token's `exp`, `nbf` and `iat`, for the time rules.
    times: Claims<RawClaims>,
    verified: VerifiedJwt,
}

/// A cache of verified tokens for one verifier (a Worker isolate, a page, a service).
pub struct VerifiedCache {
    capacity: usize,
    hasher: RandomState,
    entries: RefCell<HashMap<u64, Entry>>,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        VerifiedCache::new(DEFAULT_CACHED_TOKENS)
    }
}

impl VerifiedCache {
    /// A cache of at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        VerifiedCache { capacity, hasher: RandomState::new(), entries: RefCell::default() }
    }

    /// [`Validator::verify`], answered from the cache when the token passed before.
    pub fn verify(&self, validator: &Validator<'_>, token: &str, now: UnixTime) -> Result<VerifiedJwt, JwtError> {
        if let Some(hit) = self.lookup(validator, token, now) {
            return hit;
        }
        let verified = validator.verify(token, now)?;
        self.insert(validator, token, &verified, now);
        Ok(verified)
    }

    /// [`Validator::verify_with`], answered from the cache when the token passed before.
    pub async fn verify_with(
        &self,
        validator: &Validator<'_>,
        crypto: &dyn CryptoProvider,
        token: &str,
        now: UnixTime,
    ) -> Result<VerifiedJwt, JwtError> {
        if let Some(hit) = self.lookup(validator, token, now) {
            return hit;
        }
        let verified = validator.verify_with(crypto, token, now).await?;
        self.insert(validator, token, &verified, now);
        Ok(verified)
    }

    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }

    /// `None` when the full path must decide.
    fn lookup(&self, validator: &Validator<'_>, token: &str, now: UnixTime) -> Option<Result<VerifiedJwt, JwtError>> {
        let hash = self.hasher.hash_one(token);
        let mut entries = self.entries.borrow_mut();
        let entry = entries.get(&hash)?;
        let same_token = same_text(&entry.token, token);
        let same_key = validator.keys().get(entry.key.kid()).is_some_and(|key| key.same_material(&entry.key));
        if !same_token || !same_key || entry.options != *validator.options() {
            return None;
        }
        for rule in TIME_RULES {
            if let Err(err) = validator.check_claim(rule, &entry.times, now) {
                if matches!(err, JwtError::Expired { .. }) {
                    entries.remove(&hash);
                }
                return Some(Err(err));
            }
        }
        Some(Ok(entry.verified.clone()))
    }

    fn insert(&self, validator: &Validator<'_>, token: &str, verified: &VerifiedJwt, now: UnixTime) {
        let Some(key) = validator.keys().get(verified.kid()) else { return };
        let claims = verified.claims();
        let mut times = Claims::new(RawClaims::default());
        times.expiration = DateTime::from_timestamp(claims.exp, 0);
        times.issued_at = DateTime::from_timestamp(claims.iat, 0);
        times.not_before = claims.nbf.and_then(|nbf| DateTime::from_timestamp(nbf, 0));
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= self.capacity {
            let leeway = i64::from(validator.options().leeway_seconds());
            entries.retain(|_, entry| entry.verified.claims().exp.saturating_add(leeway) >= now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        if self.capacity == 0 {
            return;
        }
        let entry = Entry {
            token: token.into(),
            options: validator.options().clone(),
            key: key.clone(),
            times,
            verified: verified.clone(),
        };
        entries.insert(self.hasher.hash_one(token), entry);
    }
}

/// Whether two texts are equal, in time that depends only on their lengths: the differences of
/// 8-byte words are folded together and only the result is compared (byte-by-byte `ct_eq` costs
/// as much as the rest of a cache hit in wasm).
fn same_text(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (a_words, b_words) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = a_words.remainder().iter().zip(b_words.remainder()).fold(0u64, |acc, (x, y)| acc | u64::from(x ^ y));
    let word = |chunk: &[u8]| u64::from_le_bytes(chunk.try_into().unwrap_or_default());
    let diff = a_words.zip(b_words).fold(tail, |acc, (x, y)| acc | (word(x) ^ word(y)));
    bool::from(diff.ct_eq(&0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::{Algorithm, JwtClaims, JwtKeys, SigningKey, TokenType};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(Algorithm::Hs256, &[seed; 32]).unwrap()
    }

    fn options() -> ValidationOptions {
        ValidationOptions::new("iss", "aud", TokenType::Access)
    }

    #[test]
    fn hits_answer_as_the_full_path_would() {
        let keys = JwtKeys::new(key(1));
        let claims =
            JwtClaims::new("iss", "alice", "aud", TokenType::Access, 1_000, 600, "j").with_extra("nbf_note", 1.into());
        let mut claims = claims.unwrap();
        claims.nbf = Some(1_050);
        let token = keys.issue(&claims).unwrap();
        let cache = VerifiedCache::default();
        let validator = Validator::new(&keys, options());
        for now in [1_047, 1_049, 1_100, 1_100, 900, 1_601, 1_700, 1_100] {
            assert_eq!(cache.verify(&validator, &token, now), validator.verify(&token, now), "now {now}");
        }
        // Other options, or the key gone or replaced under its kid: the full path answers.
        let strict = Validator::new(&keys, options().max_age(10));
        assert_eq!(cache.verify(&strict, &token, 1_100), strict.verify(&token, 1_100));
        assert!(cache.verify(&strict, &token, 1_100).is_err());
        let other_keys = JwtKeys::new(key(2));
        let other = Validator::new(&other_keys, options());
        assert_eq!(cache.verify(&other, &token, 1_100).unwrap_err().kind(), "unknown_key");
        let mut mixed = JwtKeys::new(key(2));
        mixed.add_signing_key(key(1)).unwrap();
        let mixed_validator = Validator::new(&mixed, options());
        assert!(cache.verify(&mixed_validator, &token, 1_100).is_ok(), "the same key in another set");
        // A token that fails is never kept; a tampered one never hits.
        assert!(cache.verify(&validator, &format!("{token}x"), 1_100).is_err());
        let (head, _) = token.rsplit_once('.').unwrap();
        let forged = format!("{head}.{}", "A".repeat(43));
        assert_eq!(cache.verify(&validator, &forged, 1_100).unwrap_err(), JwtError::BadSignature);
    }

    #[test]
    fn compares_whole_texts() {
        let base = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.signature-part-of-the-token";
        // Another allocation of the same text.
        assert!(same_text(base, &String::from(base)));
        assert!(same_text("", ""));
        for at in 0..base.len() {
            let mut other = base.as_bytes().to_vec();
            other[at] ^= 1;
            assert!(!same_text(base, std::str::from_utf8(&other).unwrap()), "differs at {at}");
        }
        assert!(!same_text(base, &base[..base.len() - 1]));
    }

    #[test]
    fn stays_within_its_capacity() {
        let keys = JwtKeys::new(key(1));
        let validator = Validator::new(&keys, options());
        let cache = VerifiedCache::new(3);
        for i in 0..10 {
            let claims = JwtClaims::new("iss", "alice", "aud", TokenType::Access, 1_000 + i, 60, format!("j{i}"));
            let token = keys.issue(&claims).unwrap();
            cache.verify(&validator, &token, 1_000 + i).unwrap();
            assert!(cache.len() <= 3);
        }
        assert!(VerifiedCache::new(0)
            .verify(
                &validator,
                &keys.issue(&JwtClaims::new("iss", "a", "aud", TokenType::Access, 1_000, 60, "j")).unwrap(),
                1_000
            )
            .is_ok());
    }
}
