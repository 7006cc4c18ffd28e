//! HS256 verification with the HMAC key schedule done once per key: the SHA-256 states after
//! the `ipad` and `opad` blocks are kept with the key, so a check hashes only the message and
//! the inner digest (6 compressions for a typical token instead of 8). The states are as secret
//! as the key: redacted in `Debug`, zeroized on drop. The tests hold it to the `hmac` crate.

use std::fmt;

use jwt_compact::alg::Hs256Key;
use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

const BLOCK: usize = 64;
const TAG: usize = 32;
/// The SHA-256 initial state (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// An HS256 key and its keyed HMAC states.
#[derive(Clone)]
pub(super) struct Hs256Verifier {
    key: Hs256Key,
    inner: [u32; 8],
    outer: [u32; 8],
}

impl Hs256Verifier {
    pub(super) fn new(key: Hs256Key) -> Hs256Verifier {
        // RFC 2104: a key longer than a block is hashed first, then padded with zeros.
        let mut block = Zeroizing::new([0u8; BLOCK]);
        if key.as_ref().len() > BLOCK {
            block[..TAG].copy_from_slice(&Sha256::digest(key.as_ref()));
        } else {
            block[..key.as_ref().len()].copy_from_slice(key.as_ref());
        }
        let keyed = |pad: u8| {
            let mut padded = Zeroizing::new(*block);
            padded.iter_mut().for_each(|byte| *byte ^= pad);
            let mut state = IV;
            sha2::compress256(&mut state, &[*GenericArray::from_slice(&*padded)]);
            state
        };
        Hs256Verifier { inner: keyed(0x36), outer: keyed(0x5c), key }
    }

    pub(super) fn key(&self) -> &Hs256Key {
        &self.key
    }

    /// Whether `tag` is the HMAC-SHA256 of `message`, compared in constant time.
    pub(super) fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        if tag.len() != TAG {
            return false;
        }
        let inner = finish(self.inner, message, BLOCK + message.len());
        let mut digest = [0u8; TAG];
        for (bytes, word) in digest.chunks_exact_mut(4).zip(inner) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        let outer = finish(self.outer, &digest, BLOCK + TAG);
        let mut expected = [0u8; TAG];
        for (bytes, word) in expected.chunks_exact_mut(4).zip(outer) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        expected.ct_eq(tag).into()
    }
}

/// SHA-256 from `state` over `data`, then the padding for `total` bytes hashed in all.
fn finish(mut state: [u32; 8], data: &[u8], total: usize) -> [u32; 8] {
    let mut blocks = data.chunks_exact(BLOCK);
    for block in &mut blocks {
        sha2::compress256(&mut state, &[*GenericArray::from_slice(block)]);
    }
    let rest = blocks.remainder();
    let mut tail = [0u8; 2 * BLOCK];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let len = if rest.len() + 9 <= BLOCK { BLOCK } else { 2 * BLOCK };
    tail[len - 8..len].copy_from_slice(&((total as u64) * 8).to_be_bytes());
    for block in tail[..len].chunks_exact(BLOCK) {
        sha2::compress256(&mut state, &[*GenericArray::from_slice(block)]);
    }
    state
}

impl Drop for Hs256Verifier {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl fmt::Debug for Hs256Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hs256Verifier(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use hmac::{Hmac, Mac};

    use super::*;

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
