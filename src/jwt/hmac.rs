//! HS256 verification with the HMAC key schedule done once per key: the `hmac` crate's keyed
//! state (SHA-256 after the `ipad` and `opad` blocks) is kept with the key and cloned per check,
//! so a check hashes only the message and the inner digest (6 compressions for a typical token
//! instead of 8). The state is as secret as the key: redacted in `Debug`, and zeroized on drop
//! by its parts (the SHA-256 states and the block buffer, with the `zeroize` features of `sha2`
//! and `hmac`).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use jwt_compact::alg::Hs256Key;
use sha2::Sha256;

/// An HS256 key and its keyed HMAC state.
#[derive(Clone)]
pub(super) struct Hs256Verifier {
    key: Hs256Key,
    keyed: Hmac<Sha256>,
}

impl Hs256Verifier {
    pub(super) fn new(key: Hs256Key) -> Hs256Verifier {
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_ref()).expect("HMAC takes any key length");
        Hs256Verifier { key, keyed }
    }

    pub(super) fn key(&self) -> &Hs256Key {
        &self.key
    }

    /// Whether `tag` is the HMAC-SHA256 of `message`, compared in constant time (by `hmac`).
    pub(super) fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.keyed.clone();
        mac.update(message);
        mac.verify_slice(tag).is_ok()
    }
}

impl fmt::Debug for Hs256Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hs256Verifier(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: usize = 32;

    fn reference(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }

    #[test]
    fn gives_the_hmac_crates_answers() {
        let message: Vec<u8> = (0..400u32).map(|i| (i * 31 + 7) as u8).collect();
        for key_len in [0, 1, 32, 55, 63, 64, 65, 100, 128, 1024] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 13 + 1) as u8).collect();
            let verifier = Hs256Verifier::new(Hs256Key::new(&key));
            for len in (0..=200).chain([246, 247, 248, 255, 256, 257, 400]) {
                let tag = reference(&key, &message[..len]);
                assert!(verifier.verify(&message[..len], &tag), "key {key_len}, message {len}");
                let mut wrong = tag.clone();
                wrong[len % TAG] ^= 1;
                assert!(!verifier.verify(&message[..len], &wrong));
                assert!(!verifier.verify(&message[..len], &tag[..TAG - 1]));
                assert!(!verifier.verify(&message[..len], &[tag.as_slice(), &[0]].concat()));
            }
        }
    }

    /// RFC 4231 test case 2 (a key shorter than the hash).
    #[test]
    fn rfc_4231_case_2() {
        let tag = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=",
        )
        .unwrap();
        assert!(Hs256Verifier::new(Hs256Key::new(b"Jefe")).verify(b"what do ya want for nothing?", &tag));
    }

    #[test]
    fn debug_is_redacted() {
        let shown = format!("{:?}", Hs256Verifier::new(Hs256Key::new([0xab; 32])));
        assert_eq!(shown, "Hs256Verifier(<redacted>)");
    }
}
