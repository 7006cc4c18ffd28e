//! Sealed KV records: every value the core writes to KV is encrypted with the key ring, bound to
//! its storage key, and carries its own expiry, so a backend that keeps it past its TTL (or cannot
//! expire at all) still reads it as absent.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use zeroize::Zeroizing;

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

/// Records opened recently, by storage key, each with the exact sealed bytes it was opened
/// from. A record read again with the same bytes skips AES-GCM (software in wasm, the bulk of a
/// token check there); the KV read itself always happens, so a deleted or rewritten record is
/// seen at once. Holds at most [`OpenedRecords::CAPACITY`] records and starts over when full.
#[derive(Default)]
pub(crate) struct OpenedRecords {
    entries: RefCell<HashMap<String, Opened>>,
}

struct Opened {
    sealed: Vec<u8>,
    plaintext: Zeroizing<Vec<u8>>,
}

impl OpenedRecords {
    const CAPACITY: usize = 1024;

    /// Runs `f` on the plaintext of `sealed` if it is the record last opened under `key`.
    fn with<R>(&self, key: &str, sealed: &[u8], f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let entries = self.entries.borrow();
        let opened = entries.get(key).filter(|opened| opened.sealed == sealed)?;
        Some(f(&opened.plaintext))
    }

    fn insert(&self, key: &str, sealed: &[u8], plaintext: &[u8]) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= Self::CAPACITY && !entries.contains_key(key) {
            entries.clear();
        }
        let opened = Opened { sealed: sealed.to_vec(), plaintext: Zeroizing::new(plaintext.to_vec()) };
        entries.insert(key.to_owned(), opened);
    }
}

/// Reads and writes sealed records in a [`Kv`].
#[derive(Clone, Copy)]
pub(crate) struct Records<'a> {
    pub kv: &'a dyn Kv,
    pub keys: &'a KeyRing,
    pub rng: &'a dyn Random,
    pub opened: &'a OpenedRecords,
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
            Some(exp) => self.kv.set_with_ttl(key, &sealed, exp.saturating_sub(now).max(1) as u64).await?,
            None => self.kv.set(key, &sealed).await?,
        }
        self.opened.insert(key, &sealed, &plaintext);
        Ok(())
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, key: &str, now: UnixTime) -> Result<Read<T>, StoreError> {
        let Some(sealed) = self.kv.get(key).await? else {
            return Ok(Read::Absent);
        };
        Ok(self.decode(key, &sealed, now))
    }

    pub(crate) fn decode<T: DeserializeOwned>(&self, key: &str, sealed: &[u8], now: UnixTime) -> Read<T> {
        if let Some(read) = self.opened.with(key, sealed, |plaintext| Self::parse(plaintext, now)) {
            return read;
        }
        let Some(plaintext) = self.keys.open(key.as_bytes(), sealed) else {
            return Read::Malformed;
        };
        let read = Self::parse(&plaintext, now);
        if !matches!(read, Read::Malformed) {
            self.opened.insert(key, sealed, &plaintext);
        }
        read
    }

    fn parse<T: DeserializeOwned>(plaintext: &[u8], now: UnixTime) -> Read<T> {
        match serde_json::from_slice::<EnvelopeIn<T>>(plaintext) {
            Ok(envelope) if envelope.exp.is_some_and(|exp| exp <= now) => Read::Expired,
            Ok(envelope) => Read::Valid(envelope.data),
            Err(_) => Read::Malformed,
        }
    }
}
