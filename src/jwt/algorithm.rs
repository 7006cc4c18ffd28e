use std::borrow::Cow;
use std::fmt;

use ed25519_compact::{PublicKey, SecretKey, Signature};

/// A JWS algorithm this module supports. Every key carries exactly one; a token's `alg` header
/// is only ever compared against it (RFC 8725 section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Hs256,
    Hs384,
    Hs512,
    /// Ed25519 (RFC 8037).
    EdDsa,
    Es256,
    /// Verification only: the core never holds an RSA private key.
    Rs256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 6] =
        [Algorithm::Hs256, Algorithm::Hs384, Algorithm::Hs512, Algorithm::EdDsa, Algorithm::Es256, Algorithm::Rs256];

    /// The `alg` header value.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Hs384 => "HS384",
            Algorithm::Hs512 => "HS512",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
        }
    }

    /// The algorithm whose `alg` header value is exactly `name` (case-sensitive, as in RFC 7515).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// HMAC: the verifying key is the signing key, so it is never published.
    pub const fn is_symmetric(self) -> bool {
        matches!(self, Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512)
    }

    /// Whether this module issues tokens with the algorithm (all but RS256).
    pub const fn can_sign(self) -> bool {
        !matches!(self, Algorithm::Rs256)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Ed25519 with deterministic signatures (RFC 8032). jwt-compact's own `Ed25519` adds noise
/// from the OS RNG to each signature; the core takes no randomness behind the host's back,
/// and deterministic signatures reproduce the RFC 8037 example exactly.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DeterministicEd25519;

impl jwt_compact::Algorithm for DeterministicEd25519 {
    type SigningKey = SecretKey;
    type VerifyingKey = PublicKey;
    type Signature = Signature;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("EdDSA")
    }

    fn sign(&self, signing_key: &SecretKey, message: &[u8]) -> Signature {
        signing_key.sign(message, None)
    }

    fn verify_signature(&self, signature: &Signature, verifying_key: &PublicKey, message: &[u8]) -> bool {
        verifying_key.verify(message, signature).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
        }
        assert_eq!(Algorithm::from_name("none"), None);
        assert_eq!(Algorithm::from_name("hs256"), None);
        assert_eq!(Algorithm::from_name("Ed25519"), None);
        assert!(!Algorithm::Rs256.can_sign());
        assert!(Algorithm::Hs512.is_symmetric() && !Algorithm::EdDsa.is_symmetric());
    }

    #[test]
    fn ed25519_signatures_are_deterministic_as_in_rfc_8037() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        use jwt_compact::{Algorithm as _, AlgorithmSignature as _};

        let seed = URL_SAFE_NO_PAD.decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A").unwrap();
        let key = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::from_slice(&seed).unwrap()).sk;
        let signature = DeterministicEd25519.sign(&key, b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc");
        assert_eq!(
            URL_SAFE_NO_PAD.encode(signature.as_bytes()),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
    }
}
