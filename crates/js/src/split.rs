//! [`Validator::verify_with`](portcullis::jwt::Validator::verify_with) through WebCrypto without
//! a Rust future in the way: the rules before the signature have run
//! ([`Validator::begin`](portcullis::jwt::Validator::begin)), JavaScript awaits
//! `crypto.subtle.verify`'s own promise, and a one-time function applies the rules after it.
//! Through wasm-bindgen-futures a check cost a promise of its own, closures for each `await` and
//! turns of its task queue; this way it costs the one native promise jose's check costs too.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::Promise;
use portcullis::jwt::{CryptoProvider, PendingSignature, RustCrypto};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::webcrypto::{count, Counts};
use crate::WebCrypto;

/// What the host makes of the signature's answer: [`PendingSignature::finish`] with its validator,
/// and the verified token as a JS value (or the error to reject with).
pub type Finish = Box<dyn FnOnce(PendingSignature, bool) -> Result<JsValue, JsValue>>;

#[wasm_bindgen(module = "/js/settle.js")]
extern "C" {
    fn settle(promise: &Promise, finish: JsValue) -> Promise;
}

/// The token waiting for WebCrypto's answer, as the function JavaScript calls with it: a
/// boolean, or `undefined` when the promise rejected (pure Rust then checks the signature, as
/// the provider falls back).
fn waiting(pending: PendingSignature, counts: Rc<Cell<Counts>>, finish: Finish) -> JsValue {
    Closure::once_into_js(move |valid: JsValue| {
        let valid = match valid.as_bool() {
            Some(valid) => {
                count(&counts, true);
                valid
            }
            None => {
                count(&counts, false);
                RustCrypto::check(pending.key(), pending.signing_input(), pending.signature())
            }
        };
        finish(pending, valid)
    })
}

/// The promise of `finish`'s value once `pending`'s signature is checked: by WebCrypto's own
/// promise when the key is imported already, otherwise through the provider (which imports the
/// key, or checks in pure Rust a key WebCrypto refuses).
pub fn verify_promise(crypto: &Rc<WebCrypto>, pending: PendingSignature, finish: Finish) -> Promise {
    match crypto.start(pending.key(), pending.signing_input(), pending.signature()) {
        Some(Ok(promise)) => settle(&promise, waiting(pending, crypto.counter(), finish)),
        Some(Err(())) => {
            count(&crypto.counter(), true);
            settled(finish(pending, false))
        }
        None => {
            let crypto = Rc::clone(crypto);
            future_to_promise(async move {
                let valid = crypto.verify_signature(pending.key(), pending.signing_input(), pending.signature()).await;
                finish(pending, valid)
            })
        }
    }
}

fn settled(result: Result<JsValue, JsValue>) -> Promise {
    match result {
        Ok(value) => Promise::resolve(&value),
        Err(error) => Promise::reject(&error),
    }
}
