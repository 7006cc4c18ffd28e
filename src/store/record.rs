//! Sealed KV records: every value the core writes to KV is encrypted with the key ring, bound to
//! its storage key, and carries its own expiry, so a backend that keeps it past its TTL (or cannot
//! expire at all) still reads it as absent.

use std::any::Any;
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

#[derive(Deserialize, Clone)]
struct EnvelopeIn<T> {
    exp: Option<UnixTime>,
    data: T,
}

impl<T> EnvelopeIn<T> {
    fn read(self, now: UnixTime) -> Read<T> {
        match self.exp {
            Some(exp) if exp <= now => Read::Expired,
            _ => Read::Valid(self.data),
        }
    }
}

/// Records opened recently, by storage key, each with the exact sealed bytes it was opened
/// from and what they held. A record read again with the same bytes is neither decrypted
/// (AES-GCM is software in wasm, the bulk of a token check there) nor parsed again; the KV read
/// itself always happens, so a deleted or rewritten record is seen at once. Holds at most
/// [`OpenedRecords::CAPACITY`] records and starts over when full.
///
/// The parsed records stay in memory as long as their entry and are not zeroized. Token records
/// hold only the secret's hash, but apicrud session records hold their claims: those live on in
/// the instance's memory after the request, as long as the session is being used.
#[derive(Default)]
pub(crate) struct OpenedRecords {
    entries: RefCell<HashMap<String, Opened>>,
}

struct Opened {
    sealed: Vec<u8>,
    /// The record's `EnvelopeIn<T>`, of the type it was written or read as.
    record: Box<dyn Any>,
}

impl OpenedRecords {
    const CAPACITY: usize = 1024;

    /// What `sealed` holds, if it is the record last opened under `key` (and read as a `T`).
    fn get<T: Clone + 'static>(&self, key: &str, sealed: &[u8]) -> Option<EnvelopeIn<T>> {
        let entries = self.entries.borrow();
        let opened = entries.get(key).filter(|opened| same_bytes(&opened.sealed, sealed))?;
        opened.record.downcast_ref::<EnvelopeIn<T>>().cloned()
    }

    fn insert<T: 'static>(&self, key: &str, sealed: &[u8], record: EnvelopeIn<T>) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= Self::CAPACITY && !entries.contains_key(key) {
            entries.clear();
        }
        entries.insert(key.to_owned(), Opened { sealed: sealed.to_vec(), record: Box::new(record) });
    }
}

/// Whether two byte strings are equal, compared a word at a time (wasm's `memcmp` goes byte by
/// byte). For sealed records, which are not secret: the time taken may depend on the bytes.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let ((a_words, a_rest), (b_words, b_rest)) = (a.as_chunks::<8>(), b.as_chunks::<8>());
    a.len() == b.len()
        && a_rest == b_rest
        && a_words.iter().zip(b_words).all(|(x, y)| u64::from_ne_bytes(*x) == u64::from_ne_bytes(*y))
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
    pub(crate) async fn put<T: Serialize + Clone + 'static>(
        &self,
        key: &str,
        data: &T,
        exp: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let plaintext =
            Zeroizing::new(serde_json::to_vec(&EnvelopeOut { exp, data }).expect("records serialize to JSON"));
        let sealed = self.keys.seal(key.as_bytes(), &plaintext, self.rng);
        match exp {
            // An already-expired record is still written (and reads as absent) so that the
            // caller's view of the store is what it asked for; the TTL keeps it short.
            Some(exp) => self.kv.set_with_ttl(key, &sealed, exp.saturating_sub(now).max(1) as u64).await?,
            None => self.kv.set(key, &sealed).await?,
        }
        self.opened.insert(key, &sealed, EnvelopeIn { exp, data: data.clone() });
        Ok(())
    }

    pub(crate) async fn get<T: DeserializeOwned + Clone + 'static>(
        &self,
        key: &str,
        now: UnixTime,
    ) -> Result<Read<T>, StoreError> {
        let Some(sealed) = self.kv.get(key).await? else {
            return Ok(Read::Absent);
        };
        Ok(self.decode(key, &sealed, now))
    }

    pub(crate) fn decode<T: DeserializeOwned + Clone + 'static>(
        &self,
        key: &str,
        sealed: &[u8],
        now: UnixTime,
    ) -> Read<T> {
        if let Some(record) = self.opened.get::<T>(key, sealed) {
            return record.read(now);
        }
        let Some(plaintext) = self.keys.open(key.as_bytes(), sealed) else {
            return Read::Malformed;
        };
        match serde_json::from_slice::<EnvelopeIn<T>>(&plaintext) {
            Ok(record) => {
                self.opened.insert(key, sealed, record.clone());
                record.read(now)
            }
            Err(_) => Read::Malformed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same_bytes;

    #[test]
    fn same_bytes_is_byte_equality() {
        let a: Vec<u8> = (0..=40).collect();
        for len in [0, 1, 7, 8, 9, 16, 41] {
            assert!(same_bytes(&a[..len], &a[..len]));
            for at in 0..len {
                let mut b = a[..len].to_vec();
                b[at] ^= 0x80;
                assert!(!same_bytes(&a[..len], &b), "len {len}, byte {at}");
            }
        }
        assert!(!same_bytes(&a[..8], &a[..9]));
        assert!(!same_bytes(&a[..9], &a[..8]));
    }
}
