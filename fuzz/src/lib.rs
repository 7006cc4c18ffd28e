//! Fixtures shared by the fuzz targets: the JWT vector key set and an in-memory API.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use portcullis::jwt::{JwtKeys, SigningKey, TokenType, ValidationOptions, VerifyingKey};
use serde_json::{Map, Value};

pub const VECTORS: &str = include_str!("../../tests/vectors/jwt.json");
pub const ISSUER: &str = "https://portcullis.example";
pub const AUDIENCE: &str = "portcullis";
/// The `kid` of the vectors' HS512 key (`test-hs512`), used to sign hostile claim sets.
pub const HS512_KID: &str = "C78xEqPp1b_LswE8KyDQ_0WikUVN-jmDtHmYDwUNRpw";

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn vector_keys() -> Map<String, Value> {
    let vectors: Value = serde_json::from_str(VECTORS).unwrap();
    vectors["keys"].as_object().unwrap().clone()
}

/// Every key of tests/vectors/jwt.json in one verify-only set (as jwt_vectors.rs loads them).
pub fn vector_key_set() -> JwtKeys {
    let mut set = JwtKeys::verify_only();
    for jwk in vector_keys().values() {
        let text = jwk.to_string();
        let key = if jwk.get("d").is_some() || jwk.get("k").is_some() {
            SigningKey::from_private_jwk(&text).unwrap().verifying_key()
        } else {
            VerifyingKey::from_jwk(&text).unwrap()
        };
        set.add_verifying_key(key).unwrap();
    }
    set
}

/// The raw HS512 secret of `test-hs512`.
pub fn hs512_secret() -> Vec<u8> {
    let keys = vector_keys();
    URL_SAFE_NO_PAD.decode(keys["test-hs512"]["k"].as_str().unwrap()).unwrap()
}

/// `header.claims.signature` with an HS512 signature over whatever header and claims are given.
pub fn sign_hs512(secret: &[u8], header: &[u8], claims: &[u8]) -> String {
    let signing_input = format!("{}.{}", b64(header), b64(claims));
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(secret).unwrap();
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
}

/// Validation options chosen by one selector byte: accepted types, leeway and max age.
pub fn options(selector: u8) -> ValidationOptions {
    let types: &[TokenType] = match selector & 3 {
        0 => &[TokenType::Access],
        1 => &[TokenType::Refresh],
        2 => &[TokenType::Access, TokenType::Api],
        _ => &[TokenType::Api],
    };
    let mut options = ValidationOptions::new(ISSUER, AUDIENCE, types[0]);
    for t in &types[1..] {
        options = options.also_accept(*t);
    }
    options = options.leeway(if selector & 4 != 0 { 0 } else { 2 });
    if selector & 8 != 0 {
        options = options.max_age(60);
    }
    options
}

/// The `now` chosen by a selector byte: the two instants the vectors use, and extremes.
pub fn now(selector: u8) -> i64 {
    match (selector >> 4) & 3 {
        0 => 1_700_000_100,
        1 => 1_300_819_000,
        2 => 0,
        _ => i64::MAX,
    }
}

pub mod api;
pub use api::{fixture, Fixture};
