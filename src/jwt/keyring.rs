use serde_json::{json, Value};

use super::token::KnownHeader;
use crate::jwt::{JwtError, SigningKey, TokenHeader, VerifyingKey};

/// Most keys one set holds: rotation needs two or three, a remote JWKS a handful.
pub const MAX_KEYS: usize = 64;
/// Longest JWKS document [`JwtKeys::from_jwks`] parses.
pub const MAX_JWKS_LEN: usize = 256 * 1024;

/// The keys of one issuer: at most one current signing key, which issues every new token, and
/// any number of older or verify-only keys that still verify tokens (rotation with overlap:
/// a key keeps verifying until it is removed).
#[derive(Debug, Clone, Default)]
pub struct JwtKeys {
    entries: Vec<Entry>,
    current: Option<usize>,
}

#[derive(Debug, Clone)]
struct Entry {
    verifying: VerifyingKey,
    signing: Option<SigningKey>,
    known_header: Option<KnownHeader>,
}

impl JwtKeys {
    /// A set whose current signing key is `current`.
    pub fn new(current: SigningKey) -> JwtKeys {
        let mut keys = JwtKeys::default();
        keys.rotate(current).expect("an empty set takes any key");
        keys
    }

    /// An empty set that can verify once keys are added, and never signs.
    pub fn verify_only() -> JwtKeys {
        JwtKeys::default()
    }

    /// A verify-only set from a JWKS document (`{"keys": [...]}`), such as our own
    /// `/.well-known/jwks.json` in the browser. Keys this module cannot use (encryption keys,
    /// other curves or algorithms) are skipped; malformed keys are an error.
    pub fn from_jwks(json: &str) -> Result<JwtKeys, JwtError> {
        if json.len() > MAX_JWKS_LEN {
            return Err(JwtError::InvalidKey { reason: "the JWKS is longer than 256 KiB" });
        }
        let document: Value =
            serde_json::from_str(json).map_err(|_| JwtError::InvalidKey { reason: "the JWKS is not JSON" })?;
        let Some(Value::Array(members)) = document.get("keys") else {
            return Err(JwtError::InvalidKey { reason: "the JWKS has no keys array" });
        };
        let mut keys = JwtKeys::verify_only();
        for member in members {
            let Value::Object(member) = member else {
                return Err(JwtError::InvalidKey { reason: "a JWKS key is not an object" });
            };
            if let Some(key) = VerifyingKey::from_jwk_members(member)? {
                keys.add_verifying_key(key)?;
            }
        }
        Ok(keys)
    }

    /// Makes `next` the current signing key. The previous one stays and keeps verifying.
    pub fn rotate(&mut self, next: SigningKey) -> Result<(), JwtError> {
        let index = self.insert(next.verifying_key(), Some(next))?;
        self.current = Some(index);
        Ok(())
    }

    /// Adds a signing key that verifies but does not sign (for example an older key loaded
    /// from storage); [`JwtKeys::rotate`] makes a key current.
    pub fn add_signing_key(&mut self, key: SigningKey) -> Result<(), JwtError> {
        self.insert(key.verifying_key(), Some(key)).map(drop)
    }

    /// Adds a key that only verifies (an RS256 public key, a key of a JWKS).
    pub fn add_verifying_key(&mut self, key: VerifyingKey) -> Result<(), JwtError> {
        self.insert(key, None).map(drop)
    }

    /// Removes the key with this kid; tokens it signed stop verifying. The current signing key
    /// cannot be removed (rotate first). `Ok(false)` if there was no such key.
    pub fn remove(&mut self, kid: &str) -> Result<bool, JwtError> {
        let Some(index) = self.position(kid) else { return Ok(false) };
        if self.current == Some(index) {
            return Err(JwtError::InvalidKey { reason: "the current signing key cannot be removed" });
        }
        self.entries.remove(index);
        self.current = self.current.map(|current| if current > index { current - 1 } else { current });
        Ok(true)
    }

    /// The key new tokens are signed with.
    pub fn current(&self) -> Option<&SigningKey> {
        self.current.and_then(|index| self.entries[index].signing.as_ref())
    }

    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.position(kid).map(|index| &self.entries[index].verifying)
    }

    /// Every signing key, current first: what a host seals and stores.
    pub fn signing_keys(&self) -> impl Iterator<Item = &SigningKey> {
        self.ordered().filter_map(|entry| entry.signing.as_ref())
    }

    /// Every kid, current first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.ordered().map(|entry| entry.verifying.kid())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The public JWKS, `{"keys": [...]}`, current key first. HMAC keys have no public half and
    /// are left out; no private member ever appears.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.ordered().filter_map(|entry| entry.verifying.to_jwk()).collect();
        json!({ "keys": keys })
    }

    /// The key a token's `kid` names. A token without a `kid` matches nothing: every token
    /// this module issues carries one.
    pub(super) fn select(&self, kid: Option<&str>) -> Result<&VerifyingKey, JwtError> {
        kid.and_then(|kid| self.get(kid)).ok_or_else(|| JwtError::UnknownKey { kid: kid.map(str::to_owned) })
    }

    /// The key whose [`KnownHeader`] has the text `encoded`, and that header as read.
    pub(super) fn by_known_header(&self, encoded: &str) -> Option<(&TokenHeader, &VerifyingKey)> {
        self.entries.iter().find_map(|entry| Some((entry.known_header.as_ref()?.matching(encoded)?, &entry.verifying)))
    }

    fn position(&self, kid: &str) -> Option<usize> {
        self.entries.iter().position(|entry| entry.verifying.kid() == kid)
    }

    fn ordered(&self) -> impl Iterator<Item = &Entry> {
        let current = self.current.map(|index| &self.entries[index]);
        let others = self.entries.iter().enumerate().filter(move |(index, _)| Some(*index) != self.current);
        current.into_iter().chain(others.map(|(_, entry)| entry))
    }

    /// Adds a key, or upgrades a verify-only entry of the same key to signing. A different key
    /// under a kid already present is refused.
    fn insert(&mut self, verifying: VerifyingKey, signing: Option<SigningKey>) -> Result<usize, JwtError> {
        if let Some(index) = self.position(verifying.kid()) {
            let entry = &mut self.entries[index];
            let same =
                entry.verifying.algorithm() == verifying.algorithm() && entry.verifying.same_material(&verifying);
            if !same {
                return Err(JwtError::InvalidKey { reason: "another key already has this kid" });
            }
            if signing.is_some() {
                entry.signing = signing;
            }
            return Ok(index);
        }
        if self.entries.len() >= MAX_KEYS {
            return Err(JwtError::InvalidKey { reason: "the key set is full" });
        }
        let known_header = KnownHeader::new(verifying.algorithm(), verifying.kid());
        self.entries.push(Entry { verifying, signing, known_header });
        Ok(self.entries.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::key::tests::Counter;
    use crate::jwt::{issue, Algorithm, JwtClaims, TokenType, ValidationOptions, Validator};

    fn key(alg: Algorithm, seed: u8) -> SigningKey {
        SigningKey::generate(alg, &Counter(std::cell::Cell::new(seed))).unwrap()
    }

    #[test]
    fn rotation_keeps_old_keys_verifying_until_removed() {
        let (old, new) = (key(Algorithm::EdDsa, 1), key(Algorithm::Es256, 2));
        let mut keys = JwtKeys::new(old.clone());
        let claims = JwtClaims::new("iss", "alice", "aud", TokenType::Access, 1_000, 600, "j");
        let old_token = keys.issue(&claims).unwrap();
        keys.rotate(new.clone()).unwrap();
        assert_eq!(keys.current().unwrap().kid(), new.kid());
        assert_eq!(keys.kids().collect::<Vec<_>>(), [new.kid(), old.kid()]);
        fn validator(keys: &JwtKeys) -> Validator<'_> {
            Validator::new(keys, ValidationOptions::new("iss", "aud", TokenType::Access))
        }
        assert_eq!(validator(&keys).verify(&old_token, 1_001).unwrap().kid(), old.kid());
        assert!(keys.remove(new.kid()).is_err(), "the current key stays");
        assert!(keys.remove(old.kid()).unwrap());
        assert!(!keys.remove(old.kid()).unwrap());
        assert_eq!(validator(&keys).verify(&old_token, 1_001).unwrap_err().kind(), "unknown_key");
        assert_eq!(keys.current().unwrap().kid(), new.kid());
        let new_token = issue(keys.current().unwrap(), &claims).unwrap();
        assert_eq!(validator(&keys).verify(&new_token, 1_001).unwrap().algorithm(), Algorithm::Es256);
    }

    #[test]
    fn jwks_publishes_public_halves_only() {
        let mut keys = JwtKeys::new(key(Algorithm::Hs256, 1));
        keys.add_signing_key(key(Algorithm::EdDsa, 2)).unwrap();
        keys.add_signing_key(key(Algorithm::Es256, 3)).unwrap();
        let jwks = keys.jwks();
        let published = jwks["keys"].as_array().unwrap();
        assert_eq!(published.len(), 2, "the HMAC key is not published");
        for jwk in published {
            assert!(!crate::jwt::jwk::has_private_members(jwk), "{jwk}");
            assert_eq!(jwk["use"], "sig");
        }
        let browser = JwtKeys::from_jwks(&jwks.to_string()).unwrap();
        assert_eq!(browser.len(), 2);
        assert!(browser.current().is_none() && browser.signing_keys().next().is_none());
    }

    #[test]
    fn refuses_kid_collisions_and_bad_jwks() {
        let mut keys = JwtKeys::new(key(Algorithm::EdDsa, 1));
        keys.add_signing_key(key(Algorithm::EdDsa, 1)).unwrap();
        assert_eq!(keys.len(), 1, "the same key twice is one key");
        let impostor = VerifyingKey::from_jwk(&format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"{}"}}"#,
            keys.current().unwrap().kid()
        ))
        .unwrap();
        assert!(keys.add_verifying_key(impostor).is_err());
        for bad in ["{}", r#"{"keys":{}}"#, r#"{"keys":[1]}"#, "nope"] {
            assert_eq!(JwtKeys::from_jwks(bad).unwrap_err().kind(), "invalid_key", "{bad}");
        }
        let skipped = r#"{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"},{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}"#;
        assert!(JwtKeys::from_jwks(skipped).unwrap().is_empty());
    }
}
