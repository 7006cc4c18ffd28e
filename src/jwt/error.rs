use crate::env::UnixTime;
use crate::jwt::{Algorithm, TokenType};

/// Why a JWT was rejected or a key or claim set refused.
///
/// Every variant has a stable machine-readable [`kind`](JwtError::kind). Variants carry what is
/// needed to diagnose a failure, never key material or token text: strings that come from a
/// token (an issuer, an unknown algorithm name) are cut to a short printable-ASCII excerpt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three base64url parts, or a header or claim set that is not the JSON it must be.
    #[error("malformed token: bad {part}")]
    Malformed { part: &'static str },
    /// The token or one of its parts is longer than the configured limit.
    #[error("token {part} is {len} bytes, over the limit of {limit}")]
    Oversize { part: &'static str, len: usize, limit: usize },
    /// `alg` names no algorithm this module verifies (`none` included).
    #[error("unsupported algorithm {alg:?}")]
    UnsupportedAlgorithm { alg: String },
    /// `alg` differs from the algorithm of the key that `kid` selects.
    #[error("token algorithm {found:?} does not match the key's {expected}")]
    AlgorithmMismatch { expected: Algorithm, found: String },
    /// No key with this `kid` (or no `kid` at all).
    #[error("no verification key for kid {kid:?}")]
    UnknownKey { kid: Option<String> },
    #[error("signature does not verify")]
    BadSignature,
    #[error("token expired at {exp}, now is {now}")]
    Expired { now: UnixTime, exp: UnixTime },
    #[error("token not valid before {nbf}, now is {now}")]
    NotYetValid { now: UnixTime, nbf: UnixTime },
    #[error("token issued in the future at {iat}, now is {now}")]
    IssuedInFuture { now: UnixTime, iat: UnixTime },
    #[error("token issued at {iat} is older than {max_age} s, now is {now}")]
    TooOld { now: UnixTime, iat: UnixTime, max_age: u32 },
    #[error("wrong issuer {found:?}, expected {expected:?}")]
    WrongIssuer { expected: String, found: String },
    #[error("wrong audience {found:?}, expected {expected:?}")]
    WrongAudience { expected: String, found: Vec<String> },
    #[error("wrong token type {found:?}, expected {}", type_list(.expected))]
    WrongType { expected: Vec<TokenType>, found: String },
    #[error("missing claim {claim}")]
    MissingClaim { claim: &'static str },
    /// `crit` lists an extension this module does not implement (it implements none).
    #[error("unknown critical header parameter {name:?}")]
    UnknownCriticalHeader { name: String },
    /// Key material that cannot be used: wrong length, wrong curve, weak, or not openable.
    #[error("invalid key: {reason}")]
    InvalidKey { reason: &'static str },
    /// Claims that cannot be issued (a reserved name among the extra claims, no audience...).
    #[error("invalid claims: {reason}")]
    InvalidClaims { reason: &'static str },
    /// Issuing needs a current signing key and the key set has none.
    #[error("no current signing key")]
    NoSigningKey,
    /// A remote JWKS could not be fetched or parsed, and no earlier copy is at hand.
    #[error("the issuer's JWKS is unavailable")]
    JwksUnavailable,
}

impl JwtError {
    /// The stable machine-readable name of this failure, for logs, metrics and test vectors.
    pub fn kind(&self) -> &'static str {
        match self {
            JwtError::Malformed { .. } => "malformed",
            JwtError::Oversize { .. } => "oversize",
            JwtError::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            JwtError::AlgorithmMismatch { .. } => "algorithm_mismatch",
            JwtError::UnknownKey { .. } => "unknown_key",
            JwtError::BadSignature => "bad_signature",
            JwtError::Expired { .. } => "expired",
            JwtError::NotYetValid { .. } => "not_yet_valid",
            JwtError::IssuedInFuture { .. } => "issued_in_future",
            JwtError::TooOld { .. } => "too_old",
            JwtError::WrongIssuer { .. } => "wrong_issuer",
            JwtError::WrongAudience { .. } => "wrong_audience",
            JwtError::WrongType { .. } => "wrong_type",
            JwtError::MissingClaim { .. } => "missing_claim",
            JwtError::UnknownCriticalHeader { .. } => "unknown_critical_header",
            JwtError::InvalidKey { .. } => "invalid_key",
            JwtError::InvalidClaims { .. } => "invalid_claims",
            JwtError::NoSigningKey => "no_signing_key",
            JwtError::JwksUnavailable => "jwks_unavailable",
        }
    }
}

fn type_list(types: &[TokenType]) -> String {
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    names.join("|")
}

const EXCERPT_CHARS: usize = 64;

/// A short, printable-ASCII excerpt of a string taken from a token, safe to put in a log line.
pub(crate) fn excerpt(text: &str) -> String {
    let mut out: String =
        text.chars().take(EXCERPT_CHARS).map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
    if text.chars().nth(EXCERPT_CHARS).is_some() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_lowercase_and_kinds_are_stable() {
        let err = JwtError::Expired { now: 20, exp: 10 };
        assert_eq!(err.to_string(), "token expired at 10, now is 20");
        assert_eq!(err.kind(), "expired");
        let err = JwtError::WrongType { expected: vec![TokenType::Access, TokenType::Api], found: "refresh".into() };
        assert_eq!(err.to_string(), "wrong token type \"refresh\", expected access|api");
        assert_eq!(JwtError::BadSignature.to_string(), "signature does not verify");
    }

    #[test]
    fn excerpts_are_short_and_printable() {
        assert_eq!(excerpt("joe"), "joe");
        assert_eq!(excerpt("a\nb\u{e9}"), "a?b?");
        let long = "x".repeat(1000);
        assert_eq!(excerpt(&long).len(), EXCERPT_CHARS + 3);
    }
}
