//! Sealed KV records. Input: a length byte, the context (the storage key the record is bound
//! to), then the payload.
//!
//! - `KeyRing::open` of the payload as a sealed record never panics and never succeeds under the
//!   wrong context; seal/open round-trips; a flipped byte is refused.
//! - The payload as a `token:<key>` record (raw, and sealed as its plaintext so the JSON record
//!   decoder is reached) never makes `validate`, `validate_strict` or the audit panic, and a
//!   token is only valid if its record says so and the secret matches.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::fixture;

fuzz_target!(|data: &[u8]| {
    let [len, rest @ ..] = data else { return };
    let split = (*len as usize).min(rest.len());
    let (context, payload) = rest.split_at(split);
    let f = fixture();
    let ring = &f.ring;

    let _ = ring.sealed_with(payload);
    if let Some(opened) = ring.open(context, payload) {
        let mut other = context.to_vec();
        other.push(b'!');
        assert!(ring.open(&other, payload).is_none(), "a record opened under two contexts");
        drop(opened);
    }
    let sealed = ring.seal(context, payload, &portcullis_native::OsRandom);
    assert_eq!(ring.open(context, &sealed).as_deref().map(|v| v.as_slice()), Some(payload));
    let mut flipped = sealed.clone();
    let at = payload.len() % flipped.len();
    flipped[at] ^= 0x01;
    assert!(ring.open(context, &flipped).is_none(), "a flipped byte at {at} went unnoticed");

    f.check_record(payload);
});
