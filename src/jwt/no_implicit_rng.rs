//! jwt-compact's `rsa` feature switches on `rand_core/getrandom`, and getrandom 0.2 refuses to
//! build for `wasm32-unknown-unknown` unless some backend is chosen. The core takes randomness
//! only through [`Random`](crate::env::Random), so the backend registered here always fails:
//! nothing in the JWT module draws from it (RSA is verify-only, Ed25519 and ECDSA signatures are
//! deterministic), and if some future code path did, it would fail loudly instead of reading an
//! RNG behind the host's back.

fn no_implicit_randomness(_dest: &mut [u8]) -> Result<(), getrandom_02::Error> {
    Err(getrandom_02::Error::UNSUPPORTED)
}

getrandom_02::register_custom_getrandom!(no_implicit_randomness);
