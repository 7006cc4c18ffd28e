//! `crypto.subtle.verify` as the core's [`CryptoProvider`], for ES256 (ECDSA P-256 with SHA-256,
//! the raw `r || s` signature JWS uses) and EdDSA (Ed25519): in V8, workerd and Chromium the
//! host's native code is several times faster than the same curves in wasm, and with many
//! checks in flight Node spreads them over its thread pool. Every rule other than the signature
//! stays in the core; HMAC stays in Rust (synchronous, already cheap, no promise per token).
//!
//! A key is imported once per `kid` and kept as a `CryptoKey`; a key WebCrypto refuses (an old
//! runtime without Ed25519) is remembered as such and checked in pure Rust, as is any key or
//! signature this module does not hand over. A rejected `verify` promise falls back the same way.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::{Array, Object, Promise, Reflect};
use portcullis::jwt::{Algorithm, CryptoProvider, RustCrypto, VerifyingKey};
use portcullis::LocalBoxFuture;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Keys kept imported; the cache is emptied when it is full (key sets hold at most a few keys).
const MAX_CACHED_KEYS: usize = 64;
/// ES256 (`r || s`, 32 bytes each) and Ed25519 signatures.
const SIGNATURE_LEN: usize = 64;

#[wasm_bindgen]
extern "C" {
    /// The global `crypto.subtle`.
    type SubtleCrypto;

    #[wasm_bindgen(method, catch, js_name = importKey)]
    fn import_key(
        this: &SubtleCrypto,
        format: &str,
        key_data: &[u8],
        algorithm: &Object,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn verify(
        this: &SubtleCrypto,
        algorithm: &Object,
        key: &JsValue,
        signature: &[u8],
        data: &[u8],
    ) -> Result<Promise, JsValue>;
}

/// How many checks went to WebCrypto and how many stayed in Rust, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub subtle: u64,
    pub rust: u64,
}

struct Cached {
    /// The key the entry was imported from: a kid seen again with other material (another
    /// issuer's key set) is imported again.
    key: VerifyingKey,
    /// `None` when WebCrypto refused the key.
    imported: Option<JsValue>,
}

/// The WebCrypto provider of one isolate or page.
pub struct WebCrypto {
    subtle: Option<SubtleCrypto>,
    ecdsa_import: Object,
    ecdsa_verify: Object,
    ed25519: Object,
    usages: Array,
    keys: RefCell<HashMap<String, Cached>>,
    counts: Rc<Cell<Counts>>,
}

impl WebCrypto {
    /// The provider over the global `crypto.subtle`; without one, every check is pure Rust.
    pub fn new() -> WebCrypto {
        let subtle = Reflect::get(&js_sys::global(), &"crypto".into())
            .and_then(|crypto| Reflect::get(&crypto, &"subtle".into()))
            .ok()
            .filter(JsValue::is_object)
            .map(JsCast::unchecked_into);
        WebCrypto {
            subtle,
            ecdsa_import: object(&[("name", "ECDSA"), ("namedCurve", "P-256")]),
            ecdsa_verify: object(&[("name", "ECDSA"), ("hash", "SHA-256")]),
            ed25519: object(&[("name", "Ed25519")]),
            usages: Array::of1(&"verify".into()),
            keys: RefCell::default(),
            counts: Rc::default(),
        }
    }

    pub fn counts(&self) -> Counts {
        self.counts.get()
    }

    /// The imported key for `key` and the algorithm parameters of `verify`, if WebCrypto is to
    /// check this key's signatures.
    async fn imported(&self, key: &VerifyingKey) -> Option<(JsValue, &Object)> {
        let subtle = self.subtle.as_ref()?;
        let (import, verify) = match key.algorithm() {
            Algorithm::Es256 => (&self.ecdsa_import, &self.ecdsa_verify),
            Algorithm::EdDsa => (&self.ed25519, &self.ed25519),
            _ => return None,
        };
        if let Some(cached) = self.keys.borrow().get(key.kid()).filter(|cached| cached.key.same_key(key)) {
            return cached.imported.clone().map(|k| (k, verify));
        }
        // Checking an Ed25519 key's point costs as much as a signature in wasm: once, here.
        let imported = match key.public_key_bytes() {
            Some(material) => match subtle.import_key("raw", &material, import, false, &self.usages) {
                Ok(promise) => JsFuture::from(promise).await.ok(),
                Err(_) => None,
            },
            None => None,
        };
        let mut keys = self.keys.borrow_mut();
        if keys.len() >= MAX_CACHED_KEYS {
            keys.clear();
        }
        keys.insert(key.kid().to_owned(), Cached { key: key.clone(), imported: imported.clone() });
        imported.map(|k| (k, verify))
    }

    /// `crypto.subtle.verify`'s promise for this check, when the key is imported already (the
    /// first check of a kid, or a key WebCrypto refused, goes through [`CryptoProvider`]). A
    /// signature of the wrong length gets no promise: it is `Some(Err(()))`, invalid.
    pub(crate) fn start(
        &self,
        key: &VerifyingKey,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Option<Result<Promise, ()>> {
        let subtle = self.subtle.as_ref()?;
        let params = match key.algorithm() {
            Algorithm::Es256 => &self.ecdsa_verify,
            Algorithm::EdDsa => &self.ed25519,
            _ => return None,
        };
        let keys = self.keys.borrow();
        let crypto_key = keys.get(key.kid()).filter(|cached| cached.key.same_key(key))?.imported.as_ref()?;
        if signature.len() != SIGNATURE_LEN {
            return Some(Err(()));
        }
        subtle.verify(params, crypto_key, signature, signing_input).ok().map(Ok)
    }

    pub(crate) fn counter(&self) -> Rc<Cell<Counts>> {
        Rc::clone(&self.counts)
    }

    async fn subtle_verify(&self, key: &VerifyingKey, signing_input: &[u8], signature: &[u8]) -> Option<bool> {
        let (crypto_key, params) = self.imported(key).await?;
        if signature.len() != SIGNATURE_LEN {
            return Some(false);
        }
        let promise = self.subtle.as_ref()?.verify(params, &crypto_key, signature, signing_input).ok()?;
        JsFuture::from(promise).await.ok()?.as_bool()
    }

    fn count(&self, subtle: bool) {
        count(&self.counts, subtle);
    }
}

pub(crate) fn count(counts: &Cell<Counts>, subtle: bool) {
    let mut now = counts.get();
    if subtle {
        now.subtle += 1;
    } else {
        now.rust += 1;
    }
    counts.set(now);
}

impl Default for WebCrypto {
    fn default() -> Self {
        WebCrypto::new()
    }
}

impl CryptoProvider for WebCrypto {
    fn verify_signature<'a>(
        &'a self,
        key: &'a VerifyingKey,
        signing_input: &'a [u8],
        signature: &'a [u8],
    ) -> LocalBoxFuture<'a, bool> {
        Box::pin(async move {
            match self.subtle_verify(key, signing_input, signature).await {
                Some(valid) => {
                    self.count(true);
                    valid
                }
                None => {
                    self.count(false);
                    RustCrypto::check(key, signing_input, signature)
                }
            }
        })
    }
}

fn object(members: &[(&str, &str)]) -> Object {
    let object = Object::new();
    for (name, value) in members {
        // Setting a property of a fresh plain object cannot fail.
        let _ = Reflect::set(&object, &(*name).into(), &(*value).into());
    }
    object
}
