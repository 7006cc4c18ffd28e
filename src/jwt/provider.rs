//! Who checks a signature. The [`Validator`](crate::jwt::Validator) runs every rule itself and
//! hands only the signature check to a [`CryptoProvider`]: pure Rust by default ([`RustCrypto`]),
//! or a host's own implementation (WebCrypto on Workers and in browsers, in the host crates).

use crate::env::LocalBoxFuture;
use crate::jwt::VerifyingKey;

/// Checks JWS signatures. Called only after the validator has matched the token's `alg` with
/// `key.algorithm()`, so an implementation verifies under the key's algorithm and never looks
/// at the token's. Any failure (an unusable signature, a key it cannot import) is `false` or a
/// fallback to [`RustCrypto::check`]; the answer must be the one pure Rust would give.
pub trait CryptoProvider {
    /// Whether `signature` is `key`'s signature of `signing_input` (`header.payload`).
    fn verify_signature<'a>(
        &'a self,
        key: &'a VerifyingKey,
        signing_input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, bool>;
}

/// The pure-Rust signature checks (jwt-compact over RustCrypto and ed25519-compact): the
/// default everywhere, and what a host provider falls back to.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCrypto;

impl RustCrypto {
    /// The check itself, synchronously.
    pub fn check(key: &VerifyingKey, signing_input: &[u8], signature: &[u8]) -> bool {
        key.verify(signing_input, signature)
    }
}

impl CryptoProvider for RustCrypto {
    fn verify_signature<'a>(
        &'a self,
        key: &'a VerifyingKey,
        signing_input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, bool> {
        Box::pin(std::future::ready(RustCrypto::check(key, signing_input, signature)))
    }
}
