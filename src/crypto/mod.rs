//! Encryption at rest and secret handling: the key ring, hashing and constant-time comparison.

mod keyring;
mod secret;

pub use keyring::{EncryptionKey, KeyRing};
pub use secret::{hash_secret, SecretBytes, SecretHash};
