//! The opaque token format `<prefix>-<key>.<secret>`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::codec::b64url;
use crate::env::{random_array, Random};

/// Characters of an encoded key or secret: 128 bits in base64url without padding.
pub const PART_LEN: usize = 22;
/// The default token prefix.
pub const DEFAULT_PREFIX: &str = "pc";
/// The longest prefix allowed.
pub const MAX_PREFIX_LEN: usize = 16;
/// Nothing longer than this is even looked at.
pub const MAX_TOKEN_LEN: usize = MAX_PREFIX_LEN + 2 + 2 * PART_LEN;

/// Why a string is not a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenParseError {
    #[error("token is empty")]
    Empty,
    #[error("token is longer than {MAX_TOKEN_LEN} characters")]
    TooLong,
    #[error("token does not start with the expected prefix")]
    WrongPrefix,
    #[error("token has no '.' between key and secret")]
    MissingSeparator,
    #[error("token has more than two parts")]
    ExtraParts,
    #[error("token key is not {PART_LEN} characters")]
    KeyLength,
    #[error("token secret is not {PART_LEN} characters")]
    SecretLength,
    #[error("token contains characters outside base64url")]
    BadAlphabet,
}

/// The public half of a token: its storage key, safe to log and to show.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenKey(String);

impl TokenKey {
    /// Checks that `text` is a well-formed key (22 canonical base64url characters).
    pub fn parse(text: &str) -> Result<Self, TokenParseError> {
        check_part(text, TokenParseError::KeyLength)?;
        Ok(TokenKey(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A whole opaque token. `Debug` shows only the key; the secret is for the holder alone.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    key: TokenKey,
    secret: String,
}

impl Token {
    /// A new token with a random key and secret.
    pub fn generate(rng: &dyn Random) -> Self {
        let key = b64url(&random_array::<16>(rng));
        let secret = b64url(&random_array::<16>(rng));
        Token { key: TokenKey(key), secret }
    }

    /// A token whose secret is given (child tokens derive theirs; see the key ring).
    pub(crate) fn from_parts(key: TokenKey, secret_bytes: &[u8; 16]) -> Self {
        Token { key, secret: b64url(secret_bytes) }
    }

    /// Parses `<prefix>-<key>.<secret>`.
    pub fn parse(text: &str, prefix: &str) -> Result<Self, TokenParseError> {
        if text.is_empty() {
            return Err(TokenParseError::Empty);
        }
        if text.len() > MAX_TOKEN_LEN {
            return Err(TokenParseError::TooLong);
        }
        let body =
            text.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('-')).ok_or(TokenParseError::WrongPrefix)?;
        let (key, secret) = body.split_once('.').ok_or(TokenParseError::MissingSeparator)?;
        if secret.contains('.') {
            return Err(TokenParseError::ExtraParts);
        }
        check_part(key, TokenParseError::KeyLength)?;
        check_part(secret, TokenParseError::SecretLength)?;
        Ok(Token { key: TokenKey(key.to_owned()), secret: secret.to_owned() })
    }

    pub fn key(&self) -> &TokenKey {
        &self.key
    }

    /// The secret's bytes, for hashing.
    pub fn secret(&self) -> &[u8] {
        self.secret.as_bytes()
    }

    /// The token as the holder presents it.
    pub fn to_string_with_prefix(&self, prefix: &str) -> String {
        format!("{prefix}-{}.{}", self.key, self.secret)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({}.<redacted>)", self.key)
    }
}

/// Checks that a prefix is 1-16 lowercase letters or digits.
pub fn valid_prefix(prefix: &str) -> bool {
    (1..=MAX_PREFIX_LEN).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn check_part(part: &str, wrong_length: TokenParseError) -> Result<(), TokenParseError> {
    if !part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(TokenParseError::BadAlphabet);
    }
    if part.len() != PART_LEN {
        return Err(wrong_length);
    }
    // Canonical encodings only: two spellings of one key would be two keys.
    match URL_SAFE_NO_PAD.decode(part) {
        Ok(bytes) if bytes.len() == 16 => Ok(()),
        _ => Err(TokenParseError::BadAlphabet),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAA";
    const SECRET: &str = "BBBBBBBBBBBBBBBBBBBBBA";

    fn parse(text: &str) -> Result<Token, TokenParseError> {
        Token::parse(text, "pc")
    }

    #[test]
    fn round_trips() {
        let token = parse(&format!("pc-{KEY}.{SECRET}")).unwrap();
        assert_eq!(token.key().as_str(), KEY);
        assert_eq!(token.to_string_with_prefix("pc"), format!("pc-{KEY}.{SECRET}"));
        assert!(!format!("{token:?}").contains(SECRET));
    }

    #[test]
    fn empty() {
        assert_eq!(parse(""), Err(TokenParseError::Empty));
    }

    #[test]
    fn oversize() {
        assert_eq!(parse(&"a".repeat(MAX_TOKEN_LEN + 1)), Err(TokenParseError::TooLong));
        assert_eq!(parse(&"a".repeat(1 << 20)), Err(TokenParseError::TooLong));
    }

    #[test]
    fn no_prefix_or_wrong_prefix() {
        assert_eq!(parse(&format!("{KEY}.{SECRET}")), Err(TokenParseError::WrongPrefix));
        assert_eq!(parse(&format!("gt-{KEY}.{SECRET}")), Err(TokenParseError::WrongPrefix));
        assert_eq!(parse(&format!("pc{KEY}.{SECRET}")), Err(TokenParseError::WrongPrefix));
    }

    #[test]
    fn missing_separator() {
        assert_eq!(parse(&format!("pc-{KEY}{SECRET}")), Err(TokenParseError::MissingSeparator));
    }

    #[test]
    fn extra_parts() {
        assert_eq!(parse(&format!("pc-{KEY}.{SECRET}.x")), Err(TokenParseError::ExtraParts));
        assert_eq!(parse(&format!("pc-{KEY}..{SECRET}")), Err(TokenParseError::ExtraParts));
    }

    #[test]
    fn wrong_lengths() {
        assert_eq!(parse(&format!("pc-{}.{SECRET}", &KEY[1..])), Err(TokenParseError::KeyLength));
        assert_eq!(parse(&format!("pc-{KEY}A.{SECRET}")), Err(TokenParseError::KeyLength));
        assert_eq!(parse(&format!("pc-{KEY}.{}", &SECRET[1..])), Err(TokenParseError::SecretLength));
        assert_eq!(parse(&format!("pc-{KEY}.")), Err(TokenParseError::SecretLength));
        assert_eq!(parse(&format!("pc-.{SECRET}")), Err(TokenParseError::KeyLength));
    }

    #[test]
    fn bad_alphabet() {
        assert_eq!(parse(&format!("pc-{}+.{SECRET}", &KEY[1..])), Err(TokenParseError::BadAlphabet));
        assert_eq!(parse(&format!("pc-{KEY}.{}=", &SECRET[1..])), Err(TokenParseError::BadAlphabet));
        assert_eq!(parse(&format!("pc-{KEY}.{}é", &SECRET[2..])), Err(TokenParseError::BadAlphabet));
        // Non-canonical trailing bits.
        assert_eq!(parse(&format!("pc-{KEY}.{}B", &SECRET[1..])), Err(TokenParseError::BadAlphabet));
    }

    #[test]
    fn prefixes() {
        assert!(valid_prefix("pc"));
        assert!(!valid_prefix(""));
        assert!(!valid_prefix("PC"));
        assert!(!valid_prefix("a-b"));
    }
}
