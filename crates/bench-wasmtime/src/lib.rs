//! The JWT validation cases of the benchmarks, shared by the native benchmark
//! (`crates/bench/benches/jwt.rs`) and this crate's command, which runs them compiled to
//! `wasm32-wasip2` inside wasmtime (`crates/host/examples/run-command.rs`), so that both time the
//! same tokens under the same rules.

use std::time::{Duration, Instant};

use portcullis::jwt::{Algorithm, JwtClaims, JwtKeys, SigningKey, TokenType, ValidationOptions};

/// The time every check is made at.
pub const NOW: i64 = 1_750_000_000;
pub const ISS: &str = "https://auth.example";
pub const AUD: &str = "api";
/// The HS256 secret; the ES256 and EdDSA keys are made from fixed bytes too (benchmark keys,
/// never product keys), so every run and every runtime checks the same tokens.
pub const SECRET: [u8; 32] = [42; 32];

/// One algorithm's keys and a valid access token signed with them.
pub struct Case {
    pub alg: Algorithm,
    pub keys: JwtKeys,
    pub token: String,
}

/// HS256, ES256 and EdDSA.
pub fn cases() -> Vec<Case> {
    let claims = JwtClaims::new(ISS, "alice", AUD, TokenType::Access, NOW - 10, 900, "bench-jti-0001");
    [Algorithm::Hs256, Algorithm::Es256, Algorithm::EdDsa]
        .into_iter()
        .map(|alg| {
            let secret = match alg {
                Algorithm::Hs256 => SECRET,
                _ => [7; 32],
            };
            let keys = JwtKeys::new(SigningKey::from_bytes(alg, &secret).expect("a valid benchmark key"));
            let token = keys.issue(&claims).expect("the benchmark token signs");
            Case { alg, keys, token }
        })
        .collect()
}

/// What every check requires (issuer, audience, an access token).
pub fn options() -> ValidationOptions {
    ValidationOptions::new(ISS, AUD, TokenType::Access)
}

/// Calls of `f` per second, after 1,000 warm-up calls; runs for `PORTCULLIS_BENCH_SECONDS`
/// (default 2) or 2,000,000 calls, whichever comes first. Panics if `f` ever fails.
pub fn measure(mut f: impl FnMut() -> bool) -> f64 {
    let seconds = std::env::var("PORTCULLIS_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let budget = Duration::from_secs_f64(seconds);
    for _ in 0..1000 {
        assert!(f(), "the benchmark token must verify");
    }
    let start = Instant::now();
    let mut n = 0u64;
    while n < 2_000_000 {
        for _ in 0..100 {
            assert!(std::hint::black_box(f()), "the benchmark token must verify");
        }
        n += 100;
        if start.elapsed() >= budget {
            break;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}
