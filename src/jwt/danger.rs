//! Checks that are not enough to trust a token, for conformance tests and diagnosis only.
//!
//! Nothing here looks at claims: no expiry, issuer, audience or token type. Production code
//! verifies with a [`Validator`](crate::jwt::Validator), which always does.

use super::token::{ParsedToken, SizeLimits, TokenHeader};
use super::validate::check_algorithm;
use crate::jwt::{CryptoProvider, JwtError, RustCrypto, VerifyingKey};

/// A token whose header rules and signature passed, its payload unread.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureOnly {
    pub header: TokenHeader,
    /// The decoded payload, which need not be JSON.
    pub payload: Vec<u8>,
}

/// Verifies only the header rules (size, structure, `alg` not `none`, no `crit`, `kid` syntax)
/// and the signature under `key`, whose algorithm the token's `alg` must equal. The token's
/// `kid`, if any, is not used to choose the key. Used by the conformance vectors of RFC 7515
/// and RFC 8037, whose payloads carry no `type`, `iss` or `aud` (or are not even JSON).
pub fn verify_signature_only(key: &VerifyingKey, token: &str, limits: &SizeLimits) -> Result<SignatureOnly, JwtError> {
    let parsed = ParsedToken::parse(token, limits)?;
    parsed.check_header()?;
    check_algorithm(key, &parsed)?;
    if !RustCrypto::check(key, parsed.signing_input(), parsed.signature()) {
        return Err(JwtError::BadSignature);
    }
    Ok(SignatureOnly { payload: parsed.payload().to_vec(), header: parsed.header.into_owned() })
}

/// [`verify_signature_only`] with the signature checked by `crypto`.
pub async fn verify_signature_only_with(
    crypto: &dyn CryptoProvider,
    key: &VerifyingKey,
    token: &str,
    limits: &SizeLimits,
) -> Result<SignatureOnly, JwtError> {
    let parsed = ParsedToken::parse(token, limits)?;
    parsed.check_header()?;
    check_algorithm(key, &parsed)?;
    if !crypto.verify_signature(key, parsed.signing_input(), parsed.signature()).await {
        return Err(JwtError::BadSignature);
    }
    Ok(SignatureOnly { payload: parsed.payload().to_vec(), header: parsed.header.into_owned() })
}
