//! Native JWT validation: the core's `Validator::verify` (every rule) against raw jwt-compact
//! (signature + claims parse + expiry) on the same tokens, the cases of
//! `portcullis-bench-wasmtime` (which also times ours inside wasmtime). Prints one JSON line per
//! algorithm. Bounded: each measurement runs for `PORTCULLIS_BENCH_SECONDS` (default 2) or
//! 2,000,000 iterations, whichever comes first. `cargo bench -p portcullis-bench --bench jwt`.

use std::hint::black_box;

use chrono::{DateTime, Utc};
use jwt_compact::alg::{Ed25519, Es256, Hs256, Hs256Key};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{AlgorithmExt, Claims, TimeOptions, UntrustedToken};
use portcullis::jwt::{Algorithm, JwtKeys, Validator};
use portcullis_bench_wasmtime::{cases, measure, options, ISS, NOW, SECRET};
use serde_json::{Map, Value};

fn raw<A: AlgorithmExt>(
    alg: &A,
    key: &A::VerifyingKey,
    token: &str,
    time: &TimeOptions<impl Fn() -> DateTime<Utc>>,
) -> bool {
    let Ok(untrusted) = UntrustedToken::new(token) else { return false };
    let Ok(verified) = alg.validator::<Map<String, Value>>(key).validate(&untrusted) else { return false };
    let claims: &Claims<Map<String, Value>> = verified.claims();
    claims.validate_expiration(time).is_ok() && claims.custom.get("iss").and_then(Value::as_str) == Some(ISS)
}

fn jwk(keys: &JwtKeys) -> JsonWebKey<'static> {
    serde_json::from_value(keys.jwks()["keys"][0].clone()).unwrap()
}

fn main() {
    let time = TimeOptions::new(chrono::Duration::seconds(60), || DateTime::from_timestamp(NOW, 0).unwrap());
    let options = options();
    for case in cases() {
        let (alg, keys, token) = (case.alg, &case.keys, &case.token);
        let validator = Validator::new(keys, options.clone());
        let ours = measure(|| validator.verify(black_box(token), NOW).is_ok());
        let theirs = match alg {
            Algorithm::Hs256 => {
                let k = Hs256Key::new(SECRET);
                measure(|| raw(&Hs256, &k, black_box(token), &time))
            }
            Algorithm::Es256 => {
                let k = <Es256 as jwt_compact::Algorithm>::VerifyingKey::try_from(&jwk(keys)).unwrap();
                measure(|| raw(&Es256, &k, black_box(token), &time))
            }
            _ => {
                let k = <Ed25519 as jwt_compact::Algorithm>::VerifyingKey::try_from(&jwk(keys)).unwrap();
                measure(|| raw(&Ed25519, &k, black_box(token), &time))
            }
        };
        println!(
            "{}",
            serde_json::json!({"bench": "jwt-native", "alg": alg.name(), "ours_ops": ours.round(), "jwt_compact_ops": theirs.round(), "ratio": (ours / theirs * 1000.0).round() / 1000.0})
        );
    }
}
