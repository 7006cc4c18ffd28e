use std::fmt;

use ed25519_compact::{KeyPair, PublicKey, SecretKey, Seed};
use jwt_compact::alg::{Es256, Hs256, Hs256Key, Hs384, Hs384Key, Hs512, Hs512Key, Rsa, RsaPublicKey};
use jwt_compact::{AlgorithmExt, AlgorithmSignature, Claims, CreationError, Header};
use serde::Serialize;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::crypto::KeyRing;
use crate::env::Random;
use crate::jwt::algorithm::DeterministicEd25519;
use crate::jwt::hmac::Hs256Verifier;
use crate::jwt::{Algorithm, JwtError};

/// p256's ECDSA key types, named through jwt-compact so the core needs no direct p256 dependency.
pub(super) type EsSigningKey = <Es256 as jwt_compact::Algorithm>::SigningKey;
pub(super) type EsVerifyingKey = <Es256 as jwt_compact::Algorithm>::VerifyingKey;

/// Bytes of a generated HMAC key (RFC 7518 section 3.2 asks for at least the hash size).
const HMAC_KEY_LEN: usize = 64;
const HMAC_MAX_KEY_LEN: usize = 1024;
/// Passphrases shorter than this are refused: the derived key is only as strong as its input.
pub const MIN_PASSPHRASE_LEN: usize = 16;
/// PBKDF2-HMAC-SHA256 iterations for [`SigningKey::hmac_from_passphrase`]. Fixed: changing it
/// changes every derived key (and kid). Chosen to cost a few tens of milliseconds once per
/// start on a Worker; a passphrase should still be long and random.
pub const PASSPHRASE_ITERATIONS: u32 = 100_000;
/// Salt prefix for passphrase derivation; the algorithm name is appended, so one passphrase
/// gives unrelated keys for HS256 and HS512.
pub const PASSPHRASE_SALT_PREFIX: &str = "portcullis/jwt/hmac-passphrase/v1/";

/// The private half of a key pair, or an HMAC secret: what signs tokens.
/// `Debug` never shows the secret; every variant zeroizes itself on drop.
#[derive(Clone)]
pub struct SigningKey {
    pub(super) kid: String,
    pub(super) secret: Secret,
}

#[derive(Clone)]
pub(super) enum Secret {
    Hs256(Hs256Key),
    Hs384(Hs384Key),
    Hs512(Hs512Key),
    EdDsa(SecretKey),
    Es256(EsSigningKey),
}

/// What verifies tokens: a public key, or for HMAC the shared secret (then never published,
/// redacted in `Debug` and zeroized like a signing key).
#[derive(Clone)]
pub struct VerifyingKey {
    pub(super) kid: String,
    pub(super) material: Public,
}

#[derive(Clone)]
pub(super) enum Public {
    /// The key with its HMAC states precomputed (the key schedule once, not per check).
    Hs256(Hs256Verifier),
    Hs384(Hs384Key),
    Hs512(Hs512Key),
    EdDsa(PublicKey),
    Es256(EsVerifyingKey),
    Rs256(RsaPublicKey),
}

impl SigningKey {
    /// A fresh key: 64 random bytes for HMAC, a 32-byte random seed or scalar otherwise.
    pub fn generate(alg: Algorithm, rng: &dyn Random) -> Result<SigningKey, JwtError> {
        if alg.is_symmetric() {
            let mut bytes = Zeroizing::new([0u8; HMAC_KEY_LEN]);
            rng.fill(&mut *bytes);
            return SigningKey::from_bytes(alg, &*bytes);
        }
        // A P-256 scalar of 32 random bytes is out of range with probability about 2^-32.
        for _ in 0..4 {
            let mut seed = Zeroizing::new([0u8; 32]);
            rng.fill(&mut *seed);
            match SigningKey::from_bytes(alg, &*seed) {
                Err(JwtError::InvalidKey { .. }) if alg == Algorithm::Es256 => continue,
                result => return result,
            }
        }
        Err(JwtError::InvalidKey { reason: "the random source gave no usable P-256 scalar" })
    }

    /// A key from its secret bytes: the HMAC key (at least as long as the hash), the 32-byte
    /// Ed25519 seed, or the 32-byte big-endian P-256 scalar. RS256 cannot sign.
    pub fn from_bytes(alg: Algorithm, secret: &[u8]) -> Result<SigningKey, JwtError> {
        let secret = match alg {
            Algorithm::Hs256 => Secret::Hs256(Hs256Key::new(hmac_bytes(secret, 32)?)),
            Algorithm::Hs384 => Secret::Hs384(Hs384Key::new(hmac_bytes(secret, 48)?)),
            Algorithm::Hs512 => Secret::Hs512(Hs512Key::new(hmac_bytes(secret, 64)?)),
            Algorithm::EdDsa => {
                let seed: [u8; 32] =
                    secret.try_into().map_err(|_| JwtError::InvalidKey { reason: "an Ed25519 seed is 32 bytes" })?;
                Secret::EdDsa(KeyPair::from_seed(Seed::new(seed)).sk)
            }
            Algorithm::Es256 => {
                if secret.len() != 32 {
                    return Err(JwtError::InvalidKey { reason: "a P-256 private key is 32 bytes" });
                }
                let key = EsSigningKey::from_slice(secret)
                    .map_err(|_| JwtError::InvalidKey { reason: "not a valid P-256 private key" })?;
                Secret::Es256(key)
            }
            Algorithm::Rs256 => return Err(JwtError::InvalidKey { reason: "RS256 keys only verify" }),
        };
        Ok(SigningKey::with_secret(secret))
    }

    /// An HMAC key derived from a passphrase: PBKDF2-HMAC-SHA256 with
    /// [`PASSPHRASE_ITERATIONS`] iterations, salt [`PASSPHRASE_SALT_PREFIX`] + the algorithm
    /// name, 64 bytes of output. The same passphrase gives the same key (and kid) on every start.
    pub fn hmac_from_passphrase(alg: Algorithm, passphrase: &str) -> Result<SigningKey, JwtError> {
        if !alg.is_symmetric() {
            return Err(JwtError::InvalidKey { reason: "only HMAC keys derive from a passphrase" });
        }
        if passphrase.len() < MIN_PASSPHRASE_LEN {
            return Err(JwtError::InvalidKey { reason: "the passphrase must be at least 16 bytes" });
        }
        let salt = format!("{PASSPHRASE_SALT_PREFIX}{}", alg.name());
        let mut key = Zeroizing::new([0u8; HMAC_KEY_LEN]);
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passphrase.as_bytes(), salt.as_bytes(), PASSPHRASE_ITERATIONS, &mut *key);
        SigningKey::from_bytes(alg, &*key)
    }

    fn with_secret(secret: Secret) -> SigningKey {
        let mut key = SigningKey { kid: String::new(), secret };
        key.kid = super::jwk::thumbprint(&key.verifying_material());
        key
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.secret {
            Secret::Hs256(_) => Algorithm::Hs256,
            Secret::Hs384(_) => Algorithm::Hs384,
            Secret::Hs512(_) => Algorithm::Hs512,
            Secret::EdDsa(_) => Algorithm::EdDsa,
            Secret::Es256(_) => Algorithm::Es256,
        }
    }

    /// The RFC 7638 thumbprint (base64url SHA-256) of the key: its `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The secret bytes, in the form [`SigningKey::from_bytes`] takes.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(match &self.secret {
            Secret::Hs256(key) => key.as_ref().to_vec(),
            Secret::Hs384(key) => key.as_ref().to_vec(),
            Secret::Hs512(key) => key.as_ref().to_vec(),
            Secret::EdDsa(key) => key.seed().to_vec(),
            Secret::Es256(key) => key.to_bytes().to_vec(),
        })
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey { kid: self.kid.clone(), material: self.verifying_material() }
    }

    fn verifying_material(&self) -> Public {
        match &self.secret {
            Secret::Hs256(key) => Public::Hs256(Hs256Verifier::new(key.clone())),
            Secret::Hs384(key) => Public::Hs384(key.clone()),
            Secret::Hs512(key) => Public::Hs512(key.clone()),
            Secret::EdDsa(key) => Public::EdDsa(key.public_key()),
            Secret::Es256(key) => Public::Es256(*key.verifying_key()),
        }
    }

    /// Encrypts the key for storage with the core's key ring, bound to `jwt-key:<kid>`.
    pub fn seal(&self, ring: &KeyRing, rng: &dyn Random) -> Vec<u8> {
        let secret = self.to_bytes();
        let mut plaintext = Zeroizing::new(Vec::with_capacity(8 + secret.len()));
        plaintext.extend_from_slice(self.algorithm().name().as_bytes());
        plaintext.push(b':');
        plaintext.extend_from_slice(&secret);
        ring.seal(&seal_context(&self.kid), &plaintext, rng)
    }

    /// Opens what [`SigningKey::seal`] stored under `kid`, and checks the key is that kid.
    pub fn open(ring: &KeyRing, kid: &str, sealed: &[u8]) -> Result<SigningKey, JwtError> {
        let plaintext = ring
            .open(&seal_context(kid), sealed)
            .ok_or(JwtError::InvalidKey { reason: "the sealed key does not open with this key ring and kid" })?;
        let colon = plaintext.iter().position(|&b| b == b':');
        let (name, secret) = match colon {
            Some(at) => (&plaintext[..at], &plaintext[at + 1..]),
            None => return Err(JwtError::InvalidKey { reason: "the sealed key has no algorithm" }),
        };
        let alg = std::str::from_utf8(name)
            .ok()
            .and_then(Algorithm::from_name)
            .ok_or(JwtError::InvalidKey { reason: "the sealed key names an unknown algorithm" })?;
        let key = SigningKey::from_bytes(alg, secret)?;
        if key.kid != kid {
            return Err(JwtError::InvalidKey { reason: "the sealed key is not the key of its kid" });
        }
        Ok(key)
    }

    /// Signs `claims` under `header` (jwt-compact adds `alg`).
    pub(super) fn sign_token<T: Serialize>(
        &self,
        header: &Header<impl Serialize>,
        claims: &Claims<T>,
    ) -> Result<String, CreationError> {
        match &self.secret {
            Secret::Hs256(key) => Hs256.token(header, claims, key),
            Secret::Hs384(key) => Hs384.token(header, claims, key),
            Secret::Hs512(key) => Hs512.token(header, claims, key),
            Secret::EdDsa(key) => DeterministicEd25519.token(header, claims, key),
            Secret::Es256(key) => Es256.token(header, claims, key),
        }
    }
}

fn hmac_bytes(secret: &[u8], min_len: usize) -> Result<&[u8], JwtError> {
    if secret.len() < min_len {
        return Err(JwtError::InvalidKey { reason: "the HMAC key is shorter than the hash output" });
    }
    if secret.len() > HMAC_MAX_KEY_LEN {
        return Err(JwtError::InvalidKey { reason: "the HMAC key is longer than 1024 bytes" });
    }
    Ok(secret)
}

fn seal_context(kid: &str) -> Vec<u8> {
    format!("jwt-key:{kid}").into_bytes()
}

impl VerifyingKey {
    pub fn algorithm(&self) -> Algorithm {
        match self.material {
            Public::Hs256(_) => Algorithm::Hs256,
            Public::Hs384(_) => Algorithm::Hs384,
            Public::Hs512(_) => Algorithm::Hs512,
            Public::EdDsa(_) => Algorithm::EdDsa,
            Public::Es256(_) => Algorithm::Es256,
            Public::Rs256(_) => Algorithm::Rs256,
        }
    }

    /// The key id: the RFC 7638 thumbprint, or the `kid` a JWK was imported with.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as another implementation imports it (WebCrypto's `raw` format): the
    /// 32-byte Ed25519 key, or the 65-byte uncompressed SEC1 P-256 point. `None` for HMAC and
    /// RSA keys, and for an Ed25519 key that is no canonical point of large order (which
    /// verifies nothing under [`RustCrypto`](crate::jwt::RustCrypto), so it must stay there).
    pub fn public_key_bytes(&self) -> Option<Vec<u8>> {
        match &self.material {
            Public::EdDsa(key) => key.validate().is_ok().then(|| key.as_ref().to_vec()),
            Public::Es256(key) => Some(key.to_encoded_point(false).as_bytes().to_vec()),
            Public::Hs256(_) | Public::Hs384(_) | Public::Hs512(_) | Public::Rs256(_) => None,
        }
    }

    /// Whether both are the same key (HMAC secrets compared in constant time), whatever their kids.
    pub fn same_key(&self, other: &VerifyingKey) -> bool {
        self.same_material(other)
    }

    /// Whether both are the same key (HMAC secrets compared in constant time).
    pub(super) fn same_material(&self, other: &VerifyingKey) -> bool {
        let secrets_equal = |a: &[u8], b: &[u8]| bool::from(a.ct_eq(b));
        match (&self.material, &other.material) {
            (Public::Hs256(a), Public::Hs256(b)) => secrets_equal(a.key().as_ref(), b.key().as_ref()),
            (Public::Hs384(a), Public::Hs384(b)) => secrets_equal(a.as_ref(), b.as_ref()),
            (Public::Hs512(a), Public::Hs512(b)) => secrets_equal(a.as_ref(), b.as_ref()),
            (Public::EdDsa(a), Public::EdDsa(b)) => a == b,
            (Public::Es256(a), Public::Es256(b)) => a == b,
            (Public::Rs256(a), Public::Rs256(b)) => a == b,
            _ => false,
        }
    }

    /// Whether `signature` is this key's signature of `signed_data` under its own algorithm.
    pub(super) fn verify(&self, signed_data: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            Public::Hs256(key) => key.verify(signed_data, signature),
            Public::Hs384(key) => verify_with(&Hs384, key, signed_data, signature),
            Public::Hs512(key) => verify_with(&Hs512, key, signed_data, signature),
            Public::EdDsa(key) => verify_with(&DeterministicEd25519, key, signed_data, signature),
            Public::Es256(key) => verify_with(&Es256, key, signed_data, signature),
            Public::Rs256(key) => verify_with(&Rsa::rs256(), key, signed_data, signature),
        }
    }
}

/// The signature check of jwt-compact's `Validator`, without its claim parsing: the length is
/// checked before the bytes are parsed (some parsers panic on a wrong length).
fn verify_with<A: jwt_compact::Algorithm>(alg: &A, key: &A::VerifyingKey, data: &[u8], signature: &[u8]) -> bool {
    if A::Signature::LENGTH.is_some_and(|len| len.get() != signature.len()) {
        return false;
    }
    match A::Signature::try_from_slice(signature) {
        Ok(signature) => alg.verify_signature(&signature, key, data),
        Err(_) => false,
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, kid={}, <redacted>)", self.algorithm(), self.kid)
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alg = self.algorithm();
        let material = if alg.is_symmetric() { ", <redacted>" } else { "" };
        write!(f, "VerifyingKey({alg}, kid={}{material})", self.kid)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crypto::EncryptionKey;

    /// A deterministic "random" source for tests.
    pub(crate) struct Counter(pub std::cell::Cell<u8>);

    impl Random for Counter {
        fn fill(&self, dest: &mut [u8]) {
            for byte in dest {
                *byte = self.0.get();
                self.0.set(self.0.get().wrapping_add(7));
            }
        }
    }

    fn rng() -> Counter {
        Counter(std::cell::Cell::new(1))
    }

    #[test]
    fn generates_every_signing_algorithm_and_round_trips_bytes() {
        for alg in Algorithm::ALL.into_iter().filter(|a| a.can_sign()) {
            let key = SigningKey::generate(alg, &rng()).unwrap();
            assert_eq!(key.algorithm(), alg);
            assert_eq!(key.kid().len(), 43, "{alg}: base64url of 32 bytes");
            let again = SigningKey::from_bytes(alg, &key.to_bytes()).unwrap();
            assert_eq!(again.kid(), key.kid());
            assert_eq!(key.verifying_key().algorithm(), alg);
        }
        assert_eq!(SigningKey::generate(Algorithm::Rs256, &rng()).unwrap_err().kind(), "invalid_key");
    }

    #[test]
    fn refuses_short_or_misshapen_secrets() {
        assert!(SigningKey::from_bytes(Algorithm::Hs256, &[1; 31]).is_err());
        assert!(SigningKey::from_bytes(Algorithm::Hs256, &[1; 32]).is_ok());
        assert!(SigningKey::from_bytes(Algorithm::Hs512, &[1; 63]).is_err());
        assert!(SigningKey::from_bytes(Algorithm::Hs512, &[1; 2000]).is_err());
        assert!(SigningKey::from_bytes(Algorithm::EdDsa, &[1; 31]).is_err());
        assert!(SigningKey::from_bytes(Algorithm::Es256, &[0; 32]).is_err());
        assert!(SigningKey::from_bytes(Algorithm::Es256, &[0xff; 32]).is_err());
    }

    #[test]
    fn passphrase_keys_are_deterministic_and_per_algorithm() {
        let a = SigningKey::hmac_from_passphrase(Algorithm::Hs256, "correct horse battery staple").unwrap();
        let b = SigningKey::hmac_from_passphrase(Algorithm::Hs256, "correct horse battery staple").unwrap();
        let c = SigningKey::hmac_from_passphrase(Algorithm::Hs512, "correct horse battery staple").unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_eq!(*a.to_bytes(), *b.to_bytes());
        assert_ne!(a.kid(), c.kid());
        assert!(SigningKey::hmac_from_passphrase(Algorithm::Hs256, "short").is_err());
        assert!(SigningKey::hmac_from_passphrase(Algorithm::EdDsa, "correct horse battery staple").is_err());
    }

    #[test]
    fn seals_and_opens_only_under_its_kid() {
        let ring = KeyRing::new(EncryptionKey::new("k1", [9; 32]).unwrap(), vec![]).unwrap();
        let key = SigningKey::generate(Algorithm::EdDsa, &rng()).unwrap();
        let other = SigningKey::generate(Algorithm::Hs256, &rng()).unwrap();
        let sealed = key.seal(&ring, &rng());
        assert_eq!(SigningKey::open(&ring, key.kid(), &sealed).unwrap().kid(), key.kid());
        assert_eq!(SigningKey::open(&ring, other.kid(), &sealed).unwrap_err().kind(), "invalid_key");
        assert!(SigningKey::open(&ring, key.kid(), &sealed[..sealed.len() - 1]).is_err());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let key = SigningKey::from_bytes(Algorithm::Hs256, &[0xab; 32]).unwrap();
        let shown = format!("{key:?} {:?}", key.verifying_key());
        assert!(shown.contains("redacted") && !shown.contains("171, 171"), "{shown}");
    }
}
