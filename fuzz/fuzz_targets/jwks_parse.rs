//! JWKS parsing: `JwtKeys::from_jwks` never panics on any text; a key set it accepts is within
//! its limits and publishes a JWKS with no private member that parses back to a subset of its
//! kids (HMAC keys have no public half).
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis::jwt::{JwtKeys, MAX_JWKS_LEN, MAX_KEYS, MAX_KID_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(keys) = JwtKeys::from_jwks(text) else { return };
    assert!(text.len() <= MAX_JWKS_LEN);
    assert!(keys.len() <= MAX_KEYS);
    let kids: Vec<String> = keys.kids().map(str::to_owned).collect();
    assert!(kids.iter().all(|kid| !kid.is_empty() && kid.len() <= MAX_KID_LEN), "kid out of bounds: {kids:?}");
    let published = keys.jwks().to_string();
    let again = JwtKeys::from_jwks(&published).expect("a published JWKS parses again");
    assert!(again.kids().all(|kid| kids.iter().any(|k| k == kid)));
    let value: serde_json::Value = serde_json::from_str(&published).unwrap();
    for key in value["keys"].as_array().unwrap() {
        for private in ["d", "k", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "the published JWKS carries private member {private}");
        }
    }
});
