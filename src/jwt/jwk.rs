//! JSON Web Keys (RFC 7517): thumbprints (RFC 7638), public JWKs for the JWKS, and private JWKs
//! for export and import.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_compact::alg::{RsaPublicKey, StrongKey};
use jwt_compact::jwk::JsonWebKey;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::key::{EsVerifyingKey, Public};
use super::token::valid_kid;
use crate::jwt::{Algorithm, JwtError, SigningKey, VerifyingKey};

/// Longest JWK (as JSON text) this module parses: a 4096-bit RSA public key is under 1 KiB.
pub(super) const MAX_JWK_LEN: usize = 16 * 1024;

/// The RFC 7638 thumbprint: base64url SHA-256 of the canonical JSON of the required members.
pub(super) fn thumbprint(material: &Public) -> String {
    let digest = match material {
        Public::Hs256(key) => oct_thumbprint(key.key().as_ref()),
        Public::Hs384(key) => oct_thumbprint(key.as_ref()),
        Public::Hs512(key) => oct_thumbprint(key.as_ref()),
        // jwt-compact's `thumbprint`: the digest of its canonical text (`Display`).
        public => Sha256::digest(public_jwk(public).expect("asymmetric keys have a public JWK").to_string()).into(),
    };
    URL_SAFE_NO_PAD.encode::<[u8; 32]>(digest)
}

/// The `oct` thumbprint, built in a zeroized buffer: the canonical JSON holds the secret.
fn oct_thumbprint(secret: &[u8]) -> [u8; 32] {
    let mut canonical = Zeroizing::new(String::with_capacity(32 + secret.len() * 2));
    canonical.push_str("{\"k\":\"");
    URL_SAFE_NO_PAD.encode_string(secret, &mut canonical);
    canonical.push_str("\",\"kty\":\"oct\"}");
    Sha256::digest(canonical.as_bytes()).into()
}

fn public_jwk(material: &Public) -> Option<JsonWebKey<'_>> {
    match material {
        Public::Hs256(_) | Public::Hs384(_) | Public::Hs512(_) => None,
        Public::EdDsa(key) => Some(JsonWebKey::from(key)),
        Public::Es256(key) => Some(JsonWebKey::from(key)),
        Public::Rs256(key) => Some(JsonWebKey::from(key)),
    }
}

/// The public members plus `alg`, `use` and `kid`; `kty` alone for a symmetric key.
fn described(material: &Public, alg: Algorithm, kid: &str) -> Map<String, Value> {
    let mut members = match public_jwk(material).map(|jwk| serde_json::to_value(&jwk)) {
        Some(Ok(Value::Object(members))) => members,
        _ => Map::from_iter([("kty".to_owned(), Value::from("oct"))]),
    };
    members.insert("alg".into(), alg.name().into());
    members.insert("use".into(), "sig".into());
    members.insert("kid".into(), kid.into());
    members
}

impl VerifyingKey {
    /// The public JWK (`kty`, `crv`/`x`/`y` or `n`/`e`, `alg`, `use`, `kid`); `None` for an HMAC
    /// key, which has no public half.
    pub fn to_jwk(&self) -> Option<Value> {
        let alg = self.algorithm();
        (!alg.is_symmetric()).then(|| Value::Object(described(&self.material, alg, &self.kid)))
    }

    /// A public key from its JWK: Ed25519 (`OKP`), P-256 (`EC`) or RSA of 2048, 3072 or 4096
    /// bits. `alg`, if present, must fit the key; `use`, if present, must be `sig`; the `kid`
    /// is kept if present (it must be 1-128 characters of `[A-Za-z0-9._-]`), else the
    /// thumbprint. Symmetric keys and JWKs with private members are refused.
    pub fn from_jwk(json: &str) -> Result<VerifyingKey, JwtError> {
        let members = parse_object(json)?;
        VerifyingKey::from_jwk_members(&members)?
            .ok_or(JwtError::InvalidKey { reason: "not a signature key of a supported type" })
    }

    /// Like [`VerifyingKey::from_jwk`], but `Ok(None)` for a key this module does not use
    /// (encryption keys, other curves and algorithms), so a JWKS can carry them.
    pub(super) fn from_jwk_members(members: &Map<String, Value>) -> Result<Option<VerifyingKey>, JwtError> {
        const PRIVATE_MEMBERS: [&str; 7] = ["d", "k", "p", "q", "dp", "dq", "qi"];
        if members.get("use").is_some_and(|usage| usage != "sig") {
            return Ok(None);
        }
        if PRIVATE_MEMBERS.iter().any(|name| members.contains_key(*name)) {
            return Err(JwtError::InvalidKey { reason: "a public JWK holds private or symmetric key material" });
        }
        let Some(alg) = key_algorithm(members)? else { return Ok(None) };
        let jwk: JsonWebKey<'static> = serde_json::from_value(Value::Object(members.clone()))
            .map_err(|_| JwtError::InvalidKey { reason: "not a valid JWK" })?;
        let bad = |reason| JwtError::InvalidKey { reason };
        let material = match alg {
            Algorithm::EdDsa => Public::EdDsa((&jwk).try_into().map_err(|_| bad("not a valid Ed25519 public key"))?),
            Algorithm::Es256 => {
                let key: EsVerifyingKey = (&jwk).try_into().map_err(|_| bad("not a valid P-256 public key"))?;
                Public::Es256(key)
            }
            Algorithm::Rs256 => {
                let key: RsaPublicKey = (&jwk).try_into().map_err(|_| bad("not a valid RSA public key"))?;
                let key = StrongKey::try_from(key).map_err(|_| bad("RSA keys must have 2048, 3072 or 4096 bits"))?;
                Public::Rs256(key.into_inner())
            }
            _ => return Ok(None),
        };
        let kid = match members.get("kid") {
            None => thumbprint(&material),
            Some(Value::String(kid)) if valid_kid(kid) => kid.clone(),
            Some(_) => return Err(JwtError::InvalidKey { reason: "kid must be 1-128 characters of [A-Za-z0-9._-]" }),
        };
        Ok(Some(VerifyingKey { kid, material }))
    }
}

impl SigningKey {
    /// The private JWK, with `alg`, `use` and `kid`: `d` for Ed25519 and P-256, `k` for HMAC.
    pub fn to_private_jwk(&self) -> Zeroizing<String> {
        let alg = self.algorithm();
        let public = serde_json::to_string(&described(&self.verifying_key().material, alg, &self.kid))
            .expect("a JSON map always serializes");
        let member = if alg.is_symmetric() { "k" } else { "d" };
        let secret = self.to_bytes();
        let mut out = Zeroizing::new(String::with_capacity(public.len() + 16 + secret.len() * 2));
        out.push_str(&public[..public.len() - 1]);
        out.push_str(&format!(",\"{member}\":\""));
        URL_SAFE_NO_PAD.encode_string(&*secret, &mut out);
        out.push_str("\"}");
        out
    }

    /// A signing key from its private JWK: `oct` (which must name its HS algorithm in `alg`),
    /// `OKP` Ed25519 or `EC` P-256 with `d`. Public members and `kid`, if present, must match
    /// the private key. The parsed JSON is not zeroized; prefer [`SigningKey::open`] for keys
    /// kept at rest.
    pub fn from_private_jwk(json: &str) -> Result<SigningKey, JwtError> {
        let members = parse_object(json)?;
        let alg = key_algorithm(&members)?.ok_or(JwtError::InvalidKey { reason: "unsupported key type" })?;
        if !alg.can_sign() {
            return Err(JwtError::InvalidKey { reason: "RS256 keys only verify" });
        }
        let member = if alg.is_symmetric() { "k" } else { "d" };
        let encoded = members
            .get(member)
            .and_then(Value::as_str)
            .ok_or(JwtError::InvalidKey { reason: "the JWK has no private key member" })?;
        let secret = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(encoded)
                .map_err(|_| JwtError::InvalidKey { reason: "the private key member is not base64url" })?,
        );
        let key = SigningKey::from_bytes(alg, &secret)?;
        let public = described(&key.verifying_key().material, alg, &key.kid);
        for name in ["x", "y", "kid"] {
            if members.get(name).is_some_and(|given| Some(given) != public.get(name)) {
                return Err(JwtError::InvalidKey {
                    reason: "the JWK's public members or kid do not match its private key",
                });
            }
        }
        Ok(key)
    }
}

/// Whether a JWK has a private or symmetric member: tests use it to check the JWKS.
#[cfg(test)]
pub(super) fn has_private_members(jwk: &Value) -> bool {
    ["d", "k", "p", "q", "dp", "dq", "qi"].iter().any(|name| jwk.get(*name).is_some())
}

fn parse_object(json: &str) -> Result<Map<String, Value>, JwtError> {
    if json.len() > MAX_JWK_LEN {
        return Err(JwtError::InvalidKey { reason: "the JWK is longer than 16 KiB" });
    }
    match serde_json::from_str(json) {
        Ok(Value::Object(members)) => Ok(members),
        _ => Err(JwtError::InvalidKey { reason: "the JWK is not a JSON object" }),
    }
}

/// The algorithm a JWK's type and curve imply, checked against its `alg` if present.
/// `Ok(None)` when this module has no use for the key type, curve or algorithm.
fn key_algorithm(members: &Map<String, Value>) -> Result<Option<Algorithm>, JwtError> {
    let text = |name: &str| members.get(name).and_then(Value::as_str);
    let declared = match members.get("alg") {
        None => None,
        Some(Value::String(name)) => match Algorithm::from_name(name) {
            Some(alg) => Some(alg),
            None => return Ok(None),
        },
        Some(_) => return Err(JwtError::InvalidKey { reason: "alg must be a string" }),
    };
    let implied = match (text("kty"), text("crv")) {
        (Some("oct"), _) => match declared {
            Some(alg) if alg.is_symmetric() => alg,
            _ => return Err(JwtError::InvalidKey { reason: "a symmetric JWK must name its HS algorithm" }),
        },
        (Some("OKP"), Some("Ed25519")) => Algorithm::EdDsa,
        (Some("EC"), Some("P-256")) => Algorithm::Es256,
        (Some("RSA"), _) => Algorithm::Rs256,
        (Some(_), _) => return Ok(None),
        (None, _) => return Err(JwtError::InvalidKey { reason: "the JWK has no kty" }),
    };
    match declared {
        Some(alg) if alg != implied => Err(JwtError::InvalidKey { reason: "the JWK's alg does not fit its key type" }),
        _ => Ok(Some(implied)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC7638_RSA: &str = r#"{"kty":"RSA","e":"AQAB","alg":"RS256","kid":"2011-04-29","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#;
    const RFC8037_ED25519: &str = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

    #[test]
    fn thumbprints_match_rfc_7638_and_8037() {
        let rsa = VerifyingKey::from_jwk(RFC7638_RSA).unwrap();
        assert_eq!(rsa.kid(), "2011-04-29", "an imported kid is kept");
        assert_eq!(thumbprint(&rsa.material), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        let ed = SigningKey::from_private_jwk(RFC8037_ED25519).unwrap();
        assert_eq!(ed.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn private_jwks_round_trip_and_public_jwks_hold_no_secret() {
        let rng = crate::jwt::key::tests::Counter(std::cell::Cell::new(3));
        for alg in [Algorithm::Hs256, Algorithm::Hs384, Algorithm::Hs512, Algorithm::EdDsa, Algorithm::Es256] {
            let key = SigningKey::generate(alg, &rng).unwrap();
            let again = SigningKey::from_private_jwk(&key.to_private_jwk()).unwrap();
            assert_eq!((again.algorithm(), again.kid()), (alg, key.kid()));
            match key.verifying_key().to_jwk() {
                None => assert!(alg.is_symmetric()),
                Some(jwk) => {
                    assert!(!has_private_members(&jwk), "{jwk}");
                    assert_eq!(jwk["alg"], alg.name());
                    assert_eq!(jwk["use"], "sig");
                    assert_eq!(VerifyingKey::from_jwk(&jwk.to_string()).unwrap().kid(), key.kid());
                }
            }
        }
    }

    #[test]
    fn refuses_unfit_jwks() {
        let refused = [
            r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow","alg":"HS256"}"#,
            RFC8037_ED25519,
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"ES256"}"#,
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"../../etc/passwd"}"#,
            r#"{"kty":"OKP","crv":"X25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR"}"#,
            r#"{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}"#,
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#,
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","use":"enc"}"#,
            "[]",
            "not json",
        ];
        for json in refused {
            let err = VerifyingKey::from_jwk(json).unwrap_err();
            assert_eq!(err.kind(), "invalid_key", "{json}");
            assert!(!err.to_string().contains("nWGxne"), "no key material in errors");
        }
        let mismatched = RFC8037_ED25519.replace("11qY", "21qY");
        assert!(SigningKey::from_private_jwk(&mismatched).is_err());
        assert!(SigningKey::from_private_jwk(r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T"}"#)
            .is_err());
    }
}
