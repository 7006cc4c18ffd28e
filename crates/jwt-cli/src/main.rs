//! `portcullis-jwt`: issues and verifies tokens with the core's JWT rules, speaking JSON on
//! stdin/stdout, so other implementations (jose, PyJWT) can be tested against it.
//!
//! Commands (one JSON object on stdin):
//! - `{"cmd": "issue", "alg": "EdDSA", "now": 1700000000, "claims": {"sub": ..., "type": ...}}`
//!   -> `{"token": ..., "jwks": {...}, "secret": "<base64url, HS* only>"}`
//! - `{"cmd": "verify", "token": ..., "now": ..., "type": "access", "jwks": {...}}` or with
//!   `"alg": "HS512", "secret": "<base64url>"` -> `{"ok": true, "claims": {...}}` or
//!   `{"ok": false, "kind": ...}`

use std::io::Read;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use portcullis::jwt::{Algorithm, JwtClaims, JwtKeys, SigningKey, TokenType, ValidationOptions, Validator};
use portcullis_native::OsRandom;
use serde_json::{json, Value};

const ISSUER: &str = "portcullis";
const AUDIENCE: &str = "portcullis";

fn main() {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        fail(&format!("cannot read stdin: {e}"));
    }
    let request: Value = serde_json::from_str(&input).unwrap_or_else(|e| fail(&format!("stdin is not JSON: {e}")));
    let output = match request["cmd"].as_str() {
        Some("issue") => issue(&request),
        Some("verify") => verify(&request),
        _ => fail("cmd must be issue or verify"),
    };
    println!("{output}");
}

fn fail(message: &str) -> ! {
    eprintln!("portcullis-jwt: {message}");
    std::process::exit(2)
}

fn algorithm(request: &Value) -> Algorithm {
    request["alg"].as_str().and_then(Algorithm::from_name).unwrap_or_else(|| fail("unknown alg"))
}

fn token_type(name: Option<&str>) -> TokenType {
    name.and_then(TokenType::parse).unwrap_or_else(|| fail("unknown token type"))
}

fn b64url_decode(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap_or_else(|_| fail("secret is not base64url"))
}

fn issue(request: &Value) -> Value {
    let alg = algorithm(request);
    let key = SigningKey::generate(alg, &OsRandom).unwrap_or_else(|e| fail(&e.to_string()));
    let now = request["now"].as_i64().unwrap_or_else(|| fail("now is required"));
    let claims = &request["claims"];
    let mut jwt = JwtClaims::new(
        ISSUER,
        claims["sub"].as_str().unwrap_or("alice"),
        AUDIENCE,
        token_type(claims["type"].as_str().or(Some("access"))),
        now,
        claims["lifetime"].as_u64().unwrap_or(900) as u32,
        claims["jti"].as_str().unwrap_or("interop-jti"),
    );
    if let Some(datasets) = claims.get("datasets") {
        jwt = jwt.with_extra("datasets", datasets.clone()).unwrap_or_else(|e| fail(&e.to_string()));
    }
    let keys = JwtKeys::new(key.clone());
    let token = keys.issue(&jwt).unwrap_or_else(|e| fail(&e.to_string()));
    let secret = alg.is_symmetric().then(|| URL_SAFE_NO_PAD.encode(key.to_bytes()));
    json!({ "token": token, "jwks": keys.jwks(), "kid": key.kid(), "secret": secret })
}

fn verify(request: &Value) -> Value {
    let keys = match request["secret"].as_str() {
        Some(secret) => {
            let key = SigningKey::from_bytes(algorithm(request), &b64url_decode(secret))
                .unwrap_or_else(|e| fail(&e.to_string()));
            JwtKeys::new(key)
        }
        None => JwtKeys::from_jwks(&request["jwks"].to_string()).unwrap_or_else(|e| fail(&e.to_string())),
    };
    let now = request["now"].as_i64().unwrap_or_else(|| fail("now is required"));
    let options = ValidationOptions::new(ISSUER, AUDIENCE, token_type(request["type"].as_str()));
    match Validator::new(&keys, options).verify(request["token"].as_str().unwrap_or(""), now) {
        Ok(verified) => {
            let c = verified.claims();
            json!({ "ok": true, "sub": c.sub, "jti": c.jti, "exp": c.exp, "alg": verified.algorithm().name(), "extra": c.extra })
        }
        Err(e) => json!({ "ok": false, "kind": e.kind() }),
    }
}
