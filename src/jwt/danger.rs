//! Checks that are not enough to trust a token, for conformance tests and diagnosis only.
//!
//! Nothing here looks at claims: no expiry, issuer, audience or token type. Production code
//! verifies with a [`Validator`](crate::jwt::Validator), which always does.

use super::token::{ParsedToken, SizeLimits, TokenHeader};
use super::validate::check_signature;
use crate::jwt::{JwtError, VerifyingKey};

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
    check_signature(key, &parsed)?;
    Ok(SignatureOnly { payload: parsed.payload()?, header: parsed.header })
}
