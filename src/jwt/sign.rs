use chrono::{DateTime, Utc};
use jwt_compact::{Claims, Header};

use super::token::SizeLimits;
use crate::env::UnixTime;
use crate::jwt::{JwtClaims, JwtError, JwtKeys, SigningKey};

/// The header `typ` of every issued token (RFC 7519 section 5.1). The kind of token is the
/// `type` claim, which is signed with the rest.
pub const HEADER_TYP: &str = "JWT";

/// Signs `claims` with `key`: header `{"alg", "kid", "typ": "JWT"}`. Refuses claims that do
/// not make a valid token (no audience, `exp` not after `iat`, a reserved name among the
/// extras) and tokens longer than the default [`SizeLimits`], which no validator would accept.
pub fn issue(key: &SigningKey, claims: &JwtClaims) -> Result<String, JwtError> {
    let mut signed = Claims::new(claims.custom_members()?);
    signed.expiration = Some(time(claims.exp)?);
    signed.issued_at = Some(time(claims.iat)?);
    signed.not_before = claims.nbf.map(time).transpose()?;
    let header = Header::empty().with_key_id(key.kid()).with_token_type(HEADER_TYP);
    let token = key
        .sign_token(&header, &signed)
        .map_err(|_| JwtError::InvalidClaims { reason: "the claims do not serialize" })?;
    if token.len() > SizeLimits::default().token {
        return Err(JwtError::InvalidClaims { reason: "the token would exceed the size limit" });
    }
    Ok(token)
}

impl JwtKeys {
    /// Signs `claims` with the current signing key.
    pub fn issue(&self, claims: &JwtClaims) -> Result<String, JwtError> {
        issue(self.current().ok_or(JwtError::NoSigningKey)?, claims)
    }
}

fn time(seconds: UnixTime) -> Result<DateTime<Utc>, JwtError> {
    DateTime::from_timestamp(seconds, 0).ok_or(JwtError::InvalidClaims { reason: "a time claim is out of range" })
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::*;
    use crate::jwt::{Algorithm, TokenType};

    #[test]
    fn header_has_alg_kid_and_typ() {
        let key = SigningKey::from_bytes(Algorithm::Hs512, &[7; 64]).unwrap();
        let claims = JwtClaims::new("iss", "alice", "aud", TokenType::Access, 1_000, 60, "j");
        let token = issue(&key, &claims).unwrap();
        let header = URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        assert_eq!(header, serde_json::json!({"alg": "HS512", "kid": key.kid(), "typ": "JWT"}));
    }

    #[test]
    fn every_issued_header_is_its_keys_known_header() {
        let claims = JwtClaims::new("iss", "alice", "aud", TokenType::Access, 1_000, 60, "j");
        let rng = crate::jwt::key::tests::Counter(std::cell::Cell::new(3));
        for alg in Algorithm::ALL.into_iter().filter(|alg| *alg != Algorithm::Rs256) {
            let keys = JwtKeys::new(SigningKey::generate(alg, &rng).unwrap());
            let token = keys.issue(&claims).unwrap();
            let part = token.split('.').next().unwrap();
            let (known, key) = keys.by_known_header(part).unwrap_or_else(|| panic!("{alg:?}: {token}"));
            assert_eq!(key.kid(), keys.current().unwrap().kid());
            let limits = SizeLimits::default();
            let taken = super::super::token::ParsedToken::parse_known(&token, &limits, Some(known)).unwrap();
            let read = super::super::token::ParsedToken::parse(&token, &limits).unwrap();
            assert!(matches!(taken.header, std::borrow::Cow::Borrowed(_)), "{alg:?}");
            assert_eq!(*taken.header, *read.header, "{alg:?}");
        }
    }

    #[test]
    fn refuses_tokens_it_could_not_verify() {
        let key = SigningKey::from_bytes(Algorithm::Hs256, &[7; 32]).unwrap();
        let claims = JwtClaims::new("iss", "alice", "aud", TokenType::Access, 1_000, 60, "j");
        let big = claims.clone().with_extra("blob", "x".repeat(9000).into()).unwrap();
        assert_eq!(issue(&key, &big).unwrap_err().kind(), "invalid_claims");
        let far = JwtClaims { exp: i64::MAX, ..claims.clone() };
        assert_eq!(issue(&key, &far).unwrap_err().kind(), "invalid_claims");
        assert_eq!(JwtKeys::verify_only().issue(&claims).unwrap_err().kind(), "no_signing_key");
    }
}
