//! Replays tests/vectors/jwt.json through the public JWT API.

use portcullis::jwt::danger::verify_signature_only;
use portcullis::jwt::{
    JwtError, JwtKeys, SigningKey, SizeLimits, TokenType, ValidationOptions, Validator, VerifiedCache, VerifyingKey,
};
use serde_json::{Map, Value};

const VECTORS: &str = include_str!("vectors/jwt.json");

/// A vector key: a private JWK loads as a signing key, a public one as verify-only.
fn load_key(jwk: &Value) -> VerifyingKey {
    let text = jwk.to_string();
    if jwk.get("d").is_some() || jwk.get("k").is_some() {
        let key = SigningKey::from_private_jwk(&text).unwrap_or_else(|e| panic!("key {jwk}: {e}"));
        assert_eq!(Some(key.kid()), jwk["kid"].as_str(), "the vector's kid is the RFC 7638 thumbprint");
        key.verifying_key()
    } else {
        VerifyingKey::from_jwk(&text).unwrap_or_else(|e| panic!("key {jwk}: {e}"))
    }
}

fn key_set(keys: &Map<String, Value>) -> JwtKeys {
    let mut set = JwtKeys::verify_only();
    for jwk in keys.values() {
        set.add_verifying_key(load_key(jwk)).unwrap();
    }
    set
}

fn options(spec: &Value) -> ValidationOptions {
    let types: Vec<TokenType> =
        spec["types"].as_array().unwrap().iter().map(|t| TokenType::parse(t.as_str().unwrap()).unwrap()).collect();
    let mut options =
        ValidationOptions::new(spec["issuer"].as_str().unwrap(), spec["audience"].as_str().unwrap(), types[0]);
    for token_type in &types[1..] {
        options = options.also_accept(*token_type);
    }
    if let Some(leeway) = spec["leeway"].as_u64() {
        options = options.leeway(leeway as u32);
    }
    if let Some(max_age) = spec["max_age"].as_u64() {
        options = options.max_age(max_age as u32);
    }
    options
}

/// Runs one case; `Err` describes how it differs from its expectation.
fn run_case(case: &Value, keys: &Map<String, Value>, all_keys: &JwtKeys) -> Result<(), String> {
    let token = case["token"].as_str().unwrap();
    let expect = &case["expect"];
    let outcome: Result<Value, JwtError> = match case["check"].as_str().unwrap() {
        "signature_only" => {
            let key = load_key(&keys[case["key"].as_str().unwrap()]);
            verify_signature_only(&key, token, &SizeLimits::default())
                .map(|ok| Value::from(String::from_utf8(ok.payload).unwrap()))
        }
        "full" => {
            let validator = Validator::new(all_keys, options(&case["options"]));
            let now = case["now"].as_i64().unwrap();
            let report = validator.report(token, now);
            let verified = validator.verify(token, now);
            if report.passed() != verified.is_ok() {
                return Err(format!("report says passed={} but verify says {verified:?}", report.passed()));
            }
            // A verified-token cache answers as the full path does, the second time from its entry.
            let cache = VerifiedCache::default();
            for _ in 0..2 {
                if cache.verify(&validator, token, now) != verified {
                    return Err(format!("the cache disagrees with verify ({verified:?})"));
                }
            }
            verified.map(|ok| {
                serde_json::json!({"alg": ok.algorithm().name(), "kid": ok.kid(), "sub": ok.claims().sub,
                                   "type": ok.claims().token_type.as_str()})
            })
        }
        other => return Err(format!("unknown check {other}")),
    };
    match (outcome, expect["valid"].as_bool().unwrap()) {
        (Ok(got), true) => {
            let fields = expect.as_object().unwrap().iter().filter(|(name, _)| *name != "valid");
            for (name, want) in fields {
                let got = if name == "payload" { &got } else { &got[name] };
                if got != want {
                    return Err(format!("{name}: got {got}, want {want}"));
                }
            }
            Ok(())
        }
        (Ok(got), false) => Err(format!("accepted ({got}), want {}", expect["error"])),
        (Err(err), true) => Err(format!("rejected: {} ({err})", err.kind())),
        (Err(err), false) if err.kind() == expect["error"] => {
            let shown = err.to_string();
            if token.len() > 20 && shown.contains(token) {
                return Err("the error message contains the token".into());
            }
            Ok(())
        }
        (Err(err), false) => Err(format!("rejected as {} ({err}), want {}", err.kind(), expect["error"])),
    }
}

#[test]
fn jwt_vectors() {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let keys = doc["keys"].as_object().unwrap();
    let all_keys = key_set(keys);
    let cases = doc["cases"].as_array().unwrap();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| run_case(case, keys, &all_keys).err().map(|why| format!("{}: {why}", case["name"])))
        .collect();
    assert!(failures.is_empty(), "{} of {} vectors failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    assert!(cases.len() >= 90, "vectors went missing");
}

#[test]
fn vectors_cover_every_rejection_kind() {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let kinds: Vec<&str> =
        doc["cases"].as_array().unwrap().iter().filter_map(|c| c["expect"]["error"].as_str()).collect();
    for kind in [
        "malformed",
        "oversize",
        "unsupported_algorithm",
        "algorithm_mismatch",
        "unknown_key",
        "bad_signature",
        "expired",
        "not_yet_valid",
        "issued_in_future",
        "too_old",
        "wrong_issuer",
        "wrong_audience",
        "wrong_type",
        "missing_claim",
        "unknown_critical_header",
    ] {
        assert!(kinds.contains(&kind), "no vector rejects with {kind}");
    }
}

/// Every single-character change to the accepted vector tokens is rejected, and nothing panics.
#[test]
fn mutated_tokens_are_rejected_without_panicking() {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let keys = doc["keys"].as_object().unwrap();
    let all_keys = key_set(keys);
    let valid =
        doc["cases"].as_array().unwrap().iter().filter(|c| c["check"] == "full" && c["expect"]["valid"] == true);
    for case in valid {
        let validator = Validator::new(&all_keys, options(&case["options"]));
        let (token, now) = (case["token"].as_str().unwrap(), case["now"].as_i64().unwrap());
        // Asymmetric verification is slow in debug builds: mutate the start of those tokens only.
        let span = if token.starts_with("eyJhbGciOiJIUzI1NiIs") { token.len() } else { 80 };
        for at in 0..span {
            for replacement in ['A', '_', '.', '~'] {
                let mut mutated = token.to_owned();
                mutated.replace_range(at..at + 1, &replacement.to_string());
                if mutated == token {
                    continue;
                }
                let verified = validator.verify(&mutated, now);
                assert!(verified.is_err(), "{}: accepted with position {at} set to {replacement}", case["name"]);
                let _ = validator.report(&mutated, now);
                let _ = portcullis::jwt::inspect(&mutated, &SizeLimits::default());
            }
        }
    }
}
