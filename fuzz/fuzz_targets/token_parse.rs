//! Opaque token parsing: `Token::parse` and `TokenKey::parse` never panic, a parsed token
//! round-trips through its text form, and `Debug` never shows the secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::{valid_prefix, Token, TokenKey, MAX_TOKEN_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // "<prefix>\n<token>" tries other prefixes; anything else is parsed with the default one.
    let (prefix, token) = match text.split_once('\n') {
        Some((prefix, token)) if prefix.len() <= 16 => (prefix, token),
        _ => ("pc", text),
    };
    let _ = TokenKey::parse(token);
    let _ = valid_prefix(prefix);
    match Token::parse(token, prefix) {
        Ok(parsed) => {
            assert!(token.len() <= MAX_TOKEN_LEN);
            assert_eq!(parsed.to_string_with_prefix(prefix), token, "round trip");
            let again = Token::parse(&parsed.to_string_with_prefix(prefix), prefix).expect("reparse");
            assert_eq!(again, parsed);
            let secret = std::str::from_utf8(parsed.secret()).unwrap();
            if !parsed.key().as_str().contains(secret) {
                assert!(!format!("{parsed:?}").contains(secret), "Debug leaks the secret");
            }
            assert_eq!(TokenKey::parse(parsed.key().as_str()).as_ref(), Ok(parsed.key()));
        }
        Err(e) => {
            // A secret-shaped tail (22+ base64url characters) never shows up in the error.
            let shown = format!("{e} {e:?}");
            let tail = token.rsplit('.').next().unwrap_or("");
            if tail.len() >= 22 && tail.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                assert!(!shown.contains(tail), "error echoes the secret");
            }
        }
    }
});
