//! JSON Web Tokens: keys and key sets, issuing, and verification with every rule of SPEC 7.
//!
//! Built on jwt-compact. The verifier chooses the key by `kid`; the key carries its algorithm,
//! and the token's `alg` is only compared with it, so `alg: none` and HS/RS confusion cannot
//! pass. A parsed token is not trusted: [`Validator::verify`] checks signature, time, issuer,
//! audience and token type together and is the only way to a [`VerifiedJwt`]. Only the
//! signature check itself can be handed to a host's [`CryptoProvider`] (`verify_with`); pure
//! Rust ([`RustCrypto`]) is the default.

mod algorithm;
mod cache;
mod claims;
pub mod danger;
mod error;
mod hmac;
mod jwk;
mod key;
mod keyring;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod no_implicit_rng;
mod provider;
mod remote;
mod sign;
mod token;
mod validate;

pub use algorithm::Algorithm;
pub use cache::{VerifiedCache, DEFAULT_CACHED_TOKENS};
pub use claims::{new_jti, JwtClaims, TokenType, RESERVED_CLAIMS};
pub use error::JwtError;
pub use key::{SigningKey, VerifyingKey, MIN_PASSPHRASE_LEN, PASSPHRASE_ITERATIONS, PASSPHRASE_SALT_PREFIX};
pub use keyring::{JwtKeys, MAX_JWKS_LEN, MAX_KEYS};
pub use provider::{CryptoProvider, RustCrypto};
pub use remote::{JwksFetch, RemoteJwks};
pub use sign::{issue, HEADER_TYP};
pub use token::{inspect, SizeLimits, TokenHeader, UntrustedJwt, MAX_KID_LEN};
pub use validate::{
    Outcome, PendingSignature, Rule, ValidationOptions, ValidationReport, Validator, VerifiedJwt, DEFAULT_LEEWAY,
};
