//! Sealed KV records: every value the core writes to KV is encrypted with the key ring, bound to
//! its storage key, and carries its own expiry, so a backend that keeps it past its TTL (or cannot
//! expire at all) still reads it as absent.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::{Kv, StoreError};
use crate::crypto::KeyRing;
use crate::env::{Random, UnixTime};

/// What reading a record found.
#[derive(Debug)]
pub(crate) enum Read<T> {
    Valid(T),
    Absent,
    Expired,
    /// Undecryptable, tampered, sealed with an unknown key, or not the expected shape.
    Malformed,
}

impl<T> Read<T> {
    pub(crate) fn valid(self) -> Option<T> {
        match self {
            Read::Valid(value) => Some(value),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    exp: Option<UnixTime>,
    data: &'a T,
}

#[derive(Deserialize)]
struct EnvelopeIn<T> {
    exp: Option<UnixTime>,
    data: T,
}

/// Reads and writes sealed records in a [`Kv`].
#[derive(Clone, Copy)]
pub(crate) struct Records<'a> {
    pub kv: &'a dyn Kv,
    pub keys: &'a KeyRing,
    pub rng: &'a dyn Random,
}

impl Records<'_> {
    /// Writes `data` under `key`, expiring at `exp` (KV TTL = time to expiry).
    pub(crate) async fn put<T: Serialize>(
        &self,
        key: &str,
        data: &T,
        exp: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let plaintext = zeroize::Zeroizing::new(
            serde_json::to_vec(&EnvelopeOut { exp, data }).expect("records serialize to JSON"),
        );
        let sealed = self.keys.seal(key.as_bytes(), &plaintext, self.rng);
        match exp {
            // An already-expired record is still written (and reads as absent) so that the
            // caller's view of the store is what it asked for; the TTL keeps it short.
            Some(exp) => self.kv.set_with_ttl(key, &sealed, exp.saturating_sub(now).max(1) as u64).await,
            None => self.kv.set(key, &sealed).await,
        }
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, key: &str, now: UnixTime) -> Result<Read<T>, StoreError> {
        let Some(sealed) = self.kv.get(key).await? else {
            return Ok(Read::Absent);
        };
        Ok(self.decode(key, &sealed, now))
    }

    pub(crate) fn decode<T: DeserializeOwned>(&self, key: &str, sealed: &[u8], now: UnixTime) -> Read<T> {
        let Some(plaintext) = self.keys.open(key.as_bytes(), sealed) else {
            return Read::Malformed;
        };
        match serde_json::from_slice::<EnvelopeIn<T>>(&plaintext) {
            Ok(envelope) if envelope.exp.is_some_and(|exp| exp <= now) => Read::Expired,
            Ok(envelope) => Read::Valid(envelope.data),
            Err(_) => Read::Malformed,
        }
    }
}
