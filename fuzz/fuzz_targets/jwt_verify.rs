//! JWT parsing and validation against the vector key set. Input: a selector byte (accepted
//! types, leeway, max age, `now`), a mode byte, then either the token text (mode 0), or
//! `header\0claims\0signature` encoded here (mode 1), or `header\0claims` signed here with the
//! vectors' HS512 key (mode 2), so hostile headers (`kid`, `crit`, `alg`) and claims (huge or
//! fractional numbers, duplicates) reach every check behind the signature.
//!
//! Never panics; `verify` agrees with `report`; what verifies meets the options; errors stay
//! short and never echo the signature.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis::jwt::{inspect, JwtKeys, SizeLimits, Validator};
use portcullis_fuzz::{b64, hs512_secret, now, options, sign_hs512, vector_key_set, AUDIENCE, ISSUER};

struct Fixture {
    keys: JwtKeys,
    secret: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture { keys: vector_key_set(), secret: hs512_secret() })
}

fuzz_target!(|data: &[u8]| {
    let [selector, mode, rest @ ..] = data else { return };
    let f = fixture();
    let token = match mode % 3 {
        0 => match std::str::from_utf8(rest) {
            Ok(text) => text.to_owned(),
            Err(_) => return,
        },
        1 => {
            let mut parts = rest.splitn(3, |&b| b == 0);
            let (h, c, s) = (parts.next().unwrap_or(&[]), parts.next().unwrap_or(&[]), parts.next().unwrap_or(&[]));
            format!("{}.{}.{}", b64(h), b64(c), b64(s))
        }
        _ => {
            let mut parts = rest.splitn(2, |&b| b == 0);
            let (h, c) = (parts.next().unwrap_or(&[]), parts.next().unwrap_or(&[]));
            sign_hs512(&f.secret, h, c)
        }
    };
    let _ = inspect(&token, &SizeLimits::default());
    let options = options(*selector);
    let leeway: i64 = if selector & 4 != 0 { 0 } else { 2 };
    let validator = Validator::new(&f.keys, options);
    let now = now(*selector);
    let report = validator.report(&token, now);
    let verified = validator.verify(&token, now);
    assert_eq!(report.passed(), verified.is_ok(), "report and verify disagree: {verified:?}");
    match verified {
        Ok(ok) => {
            let claims = ok.claims();
            assert_eq!(claims.iss, ISSUER);
            assert!(claims.aud.iter().any(|a| a == AUDIENCE));
            assert!(now <= claims.exp.saturating_add(leeway), "expired token accepted");
            assert!(claims.nbf.is_none_or(|nbf| nbf <= now.saturating_add(leeway)), "token not yet valid accepted");
            assert!(f.keys.get(ok.kid()).is_some());
            let header = inspect(&token, &SizeLimits::default()).expect("a verified token inspects");
            assert_eq!(header.header().alg, ok.algorithm().name());
            assert_eq!(header.header().kid.as_deref(), Some(ok.kid()));
        }
        Err(e) => {
            let shown = format!("{e} / {e:?}");
            assert!(shown.len() < 1024, "error message is {} bytes", shown.len());
            if let Some(signature) = token.rsplit('.').next().filter(|s| s.len() >= 16) {
                assert!(!shown.contains(signature), "error echoes the signature");
            }
        }
    }
});
