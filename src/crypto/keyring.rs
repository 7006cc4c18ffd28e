use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::env::{random_array, Random};
use crate::error::ConfigError;

const MAGIC: &[u8; 3] = b"pc1";
const NONCE_LEN: usize = 12;
const MAX_KEY_ID_LEN: usize = 32;

/// One AES-256-GCM key with the id recorded in everything it seals.
#[derive(Clone)]
pub struct EncryptionKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
    /// The expanded key schedule, built once (both zeroize on drop).
    cipher: Aes256Gcm,
}

impl EncryptionKey {
    /// A key from its id (1-32 chars of `[A-Za-z0-9_-]`) and 32 bytes.
    pub fn new(id: &str, key: [u8; 32]) -> Result<Self, ConfigError> {
        let valid_id = !id.is_empty()
            && id.len() <= MAX_KEY_ID_LEN
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_id {
            return Err(ConfigError::InvalidKey("key id must be 1-32 characters of [A-Za-z0-9_-]"));
        }
        let key = Zeroizing::new(key);
        let cipher = Aes256Gcm::new((&*key).into());
        Ok(EncryptionKey { id: id.to_owned(), key, cipher })
    }

    /// Parses `<id>:<base64 of 32 bytes>` (standard or URL-safe alphabet, padding optional).
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        let (id, encoded) = spec.split_once(':').ok_or(ConfigError::InvalidKey("expected <id>:<base64 key>"))?;
        let bytes = Zeroizing::new(
            crate::codec::decode_base64_any(encoded.trim()).ok_or(ConfigError::InvalidKey("key is not base64"))?,
        );
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| ConfigError::InvalidKey("key must be 32 bytes"))?;
        EncryptionKey::new(id, key)
    }

    /// A fresh random key, printed as `<id>:<base64>` by [`EncryptionKey::to_spec`].
    pub fn generate(id: &str, rng: &dyn Random) -> Result<Self, ConfigError> {
        EncryptionKey::new(id, random_array(rng))
    }

    pub fn to_spec(&self) -> String {
        format!("{}:{}", self.id, base64::engine::general_purpose::STANDARD.encode(*self.key))
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptionKey({}, <redacted>)", self.id)
    }
}

/// The keys that protect records at rest. The primary key seals; every key in the ring opens
/// what it sealed, so a key can be rotated in without logging anyone out and retired once
/// nothing sealed with it remains (the audit reports what still does).
#[derive(Clone, Debug)]
pub struct KeyRing {
    keys: Vec<EncryptionKey>,
}

impl KeyRing {
    /// A ring whose primary key is `primary`, also able to open records sealed with `older`.
    pub fn new(primary: EncryptionKey, older: Vec<EncryptionKey>) -> Result<Self, ConfigError> {
        let mut keys = vec![primary];
        for key in older {
            if keys.iter().any(|k| k.id == key.id) {
                return Err(ConfigError::InvalidKey("duplicate key id in key ring"));
            }
            keys.push(key);
        }
        Ok(KeyRing { keys })
    }

    pub fn primary_id(&self) -> &str {
        &self.keys[0].id
    }

    fn key(&self, id: &str) -> Option<&EncryptionKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Encrypts `plaintext` with the primary key, bound to `context` (the storage key), so a
    /// record copied under another key does not open.
    pub fn seal(&self, context: &[u8], plaintext: &[u8], rng: &dyn Random) -> Vec<u8> {
        let key = &self.keys[0];
        let nonce: [u8; NONCE_LEN] = random_array(rng);
        let sealed = key
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: context })
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(MAGIC.len() + 1 + key.id.len() + NONCE_LEN + sealed.len());
        out.extend_from_slice(MAGIC);
        out.push(key.id.len() as u8);
        out.extend_from_slice(key.id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts a record sealed by [`KeyRing::seal`] under the same `context`. `None` when the
    /// record is malformed, sealed with a key not in the ring, or tampered with.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (key_id, rest) = Self::split(sealed)?;
        let key = self.key(key_id)?;
        let (nonce, ciphertext) = rest.split_at_checked(NONCE_LEN)?;
        key.cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: context }).ok().map(Zeroizing::new)
    }

    /// The id of the key that sealed `sealed`, if it is well formed.
    pub fn sealed_with<'a>(&self, sealed: &'a [u8]) -> Option<&'a str> {
        Self::split(sealed).map(|(id, _)| id)
    }

    fn split(sealed: &[u8]) -> Option<(&str, &[u8])> {
        let rest = sealed.strip_prefix(MAGIC.as_slice())?;
        let (&id_len, rest) = rest.split_first()?;
        let (id, rest) = rest.split_at_checked(usize::from(id_len))?;
        Some((std::str::from_utf8(id).ok()?, rest))
    }

    /// A keyed derivation: HMAC-SHA256 under a subkey of key `key_id`, for values the core must
    /// be able to recompute (child-token secrets) but storage must never hold.
    pub fn derive(&self, key_id: &str, purpose: &str, input: &[u8]) -> Option<[u8; 32]> {
        let key = self.key(key_id)?;
        let mut subkey = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&*key.key).expect("HMAC takes any key length");
        subkey.update(b"portcullis derive:");
        subkey.update(purpose.as_bytes());
        let subkey: Zeroizing<[u8; 32]> = Zeroizing::new(subkey.finalize().into_bytes().into());
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&*subkey).expect("HMAC takes any key length");
        mac.update(input);
        Some(mac.finalize().into_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(std::cell::Cell<u8>);
    impl Random for Counter {
        fn fill(&self, dest: &mut [u8]) {
            for b in dest {
                *b = self.0.get();
                self.0.set(self.0.get().wrapping_add(1));
            }
        }
    }

    fn ring() -> KeyRing {
        KeyRing::new(EncryptionKey::new("k2", [2; 32]).unwrap(), vec![EncryptionKey::new("k1", [1; 32]).unwrap()])
            .unwrap()
    }

    #[test]
    fn seals_and_opens_with_rotation() {
        let rng = Counter(Default::default());
        let old = KeyRing::new(EncryptionKey::new("k1", [1; 32]).unwrap(), vec![]).unwrap();
        let sealed_old = old.seal(b"ctx", b"hello", &rng);
        let ring = ring();
        assert_eq!(&**ring.open(b"ctx", &sealed_old).unwrap(), b"hello");
        let sealed_new = ring.seal(b"ctx", b"world", &rng);
        assert_eq!(ring.sealed_with(&sealed_new), Some("k2"));
        assert!(old.open(b"ctx", &sealed_new).is_none());
    }

    #[test]
    fn rejects_wrong_context_tampering_and_garbage() {
        let rng = Counter(Default::default());
        let ring = ring();
        let mut sealed = ring.seal(b"ctx", b"hello", &rng);
        assert!(ring.open(b"other", &sealed).is_none());
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(ring.open(b"ctx", &sealed).is_none());
        for garbage in [&b""[..], b"pc1", b"pc1\xff", b"xx1\x02k2", b"pc1\x02k2short"] {
            assert!(ring.open(b"ctx", garbage).is_none());
        }
    }

    #[test]
    fn parses_key_specs() {
        let key = EncryptionKey::parse("main:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").unwrap();
        assert_eq!(key.id(), "main");
        assert_eq!(EncryptionKey::parse(&key.to_spec()).unwrap().to_spec(), key.to_spec());
        assert!(EncryptionKey::parse("main:AQEB").is_err());
        assert!(EncryptionKey::parse("no-colon").is_err());
        assert!(EncryptionKey::parse("bad id:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").is_err());
        assert!(!format!("{key:?}").contains("AQEB"));
    }
}
