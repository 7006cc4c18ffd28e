//! A wasm-bindgen binding for the Node benchmark and the WebCrypto conformance test: the core's
//! `Validator` with the options fixed at construction, for HMAC secrets (which a JWKS cannot
//! carry) as well as a JWKS, with the signature checked in pure Rust or by WebCrypto. Native
//! builds export nothing; the binaries and `benches/` hold the native benchmarks.

#[cfg(target_arch = "wasm32")]
mod conformance;

#[cfg(target_arch = "wasm32")]
mod wasm {
    use std::rc::Rc;

    use js_sys::{JsString, Promise};
    use portcullis::jwt::{
        Algorithm, JwtKeys, PendingSignature, SigningKey, TokenType, ValidationOptions, Validator, VerifiedCache,
    };
    use portcullis_js::{claims_json, claims_object, string_from_js, verify_promise, WebCrypto};
    use wasm_bindgen::prelude::*;

    fn err(e: impl ToString) -> JsValue {
        JsValue::from_str(&e.to_string())
    }

    /// Keys and options, shared with the checks waiting for WebCrypto.
    struct State {
        keys: JwtKeys,
        options: ValidationOptions,
    }

    impl State {
        fn validator(&self) -> Validator<'_> {
            Validator::with_options(&self.keys, &self.options)
        }
    }

    #[wasm_bindgen]
    pub struct BenchVerifier {
        state: Rc<State>,
        crypto: Rc<WebCrypto>,
        cache: VerifiedCache,
    }

    #[wasm_bindgen]
    impl BenchVerifier {
        /// `alg` HS256/HS384/HS512 with `secret`, or any algorithm with `jwks` (JSON text).
        pub fn hmac(
            alg: &str,
            secret: &[u8],
            issuer: &str,
            audience: &str,
            token_type: &str,
        ) -> Result<BenchVerifier, JsValue> {
            let alg = Algorithm::from_name(alg).ok_or_else(|| err("unknown alg"))?;
            let keys = JwtKeys::new(SigningKey::from_bytes(alg, secret).map_err(err)?);
            BenchVerifier::with(keys, issuer, audience, token_type)
        }

        pub fn jwks(jwks: &str, issuer: &str, audience: &str, token_type: &str) -> Result<BenchVerifier, JsValue> {
            let keys = JwtKeys::from_jwks(jwks).map_err(err)?;
            BenchVerifier::with(keys, issuer, audience, token_type)
        }

        /// The kid tokens must name (the RFC 7638 thumbprint for an HMAC key).
        pub fn kid(&self) -> String {
            self.state.keys.kids().next().unwrap_or_default().to_owned()
        }

        /// The verified claims as a JS object (like jose's `payload`), or throws the error kind.
        pub fn verify(&self, token: &JsString, now: f64) -> Result<JsValue, JsValue> {
            let token = string_from_js(token);
            let verified = self.state.validator().verify(&token, now as i64).map_err(|e| err(e.kind()))?;
            Ok(claims_object(verified.claims()))
        }

        /// The verified claims' JSON text, as `JSON.parse` would take them: the object `verify`
        /// returns must serialize to exactly this (tests/webcrypto/vectors.test.mjs).
        #[wasm_bindgen(js_name = verifyJson)]
        pub fn verify_json(&self, token: &JsString, now: f64) -> Result<String, JsValue> {
            let token = string_from_js(token);
            let verified = self.state.validator().verify(&token, now as i64).map_err(|e| err(e.kind()))?;
            Ok(claims_json(verified.claims()))
        }

        /// `verify` through a verified-token cache: a token seen before is a lookup.
        #[wasm_bindgen(js_name = verifyCached)]
        pub fn verify_cached(&self, token: &JsString, now: f64) -> Result<JsValue, JsValue> {
            let validator = self.state.validator();
            let token = string_from_js(token);
            let verified = self.cache.verify(&validator, &token, now as i64).map_err(|e| err(e.kind()))?;
            Ok(claims_object(verified.claims()))
        }

        /// `verify` with the signature checked by WebCrypto (ES256, EdDSA): the rules before the
        /// signature now, JavaScript awaits `crypto.subtle.verify`, the claim rules after it
        /// (crates/js `verify_promise`). Rejects with the error kind.
        #[wasm_bindgen(js_name = verifySubtle)]
        pub fn verify_subtle(&self, token: &JsString, now: f64) -> Promise {
            let pending = match self.state.validator().begin(&string_from_js(token)) {
                Ok(pending) => pending,
                Err(e) => return Promise::reject(&err(e.kind())),
            };
            let state = Rc::clone(&self.state);
            let finish = move |pending: PendingSignature, valid| {
                let verified = pending.finish(&state.validator(), valid, now as i64).map_err(|e| err(e.kind()))?;
                Ok(claims_object(verified.claims()))
            };
            verify_promise(&self.crypto, pending, Box::new(finish))
        }

        /// `verifySubtle` as it was: the whole check one Rust future (wasm-bindgen-futures), the
        /// signature awaited through the core's `CryptoProvider`.
        #[wasm_bindgen(js_name = verifySubtleFuture)]
        pub async fn verify_subtle_future(&self, token: String, now: f64) -> Result<JsValue, JsValue> {
            let validator = self.state.validator();
            let verified = validator.verify_with(&*self.crypto, &token, now as i64).await.map_err(|e| err(e.kind()))?;
            Ok(claims_object(verified.claims()))
        }

        /// Only whether the token verifies: no claims cross into JavaScript.
        pub fn check(&self, token: &JsString, now: f64) -> bool {
            self.state.validator().verify(&string_from_js(token), now as i64).is_ok()
        }

        /// How many signatures WebCrypto checked, and how many pure Rust did: `[subtle, rust]`.
        pub fn counts(&self) -> Vec<f64> {
            let counts = self.crypto.counts();
            vec![counts.subtle as f64, counts.rust as f64]
        }
    }

    impl BenchVerifier {
        fn with(keys: JwtKeys, issuer: &str, audience: &str, token_type: &str) -> Result<BenchVerifier, JsValue> {
            let t = TokenType::parse(token_type).ok_or_else(|| err("unknown token type"))?;
            Ok(BenchVerifier {
                state: Rc::new(State { keys, options: ValidationOptions::new(issuer, audience, t) }),
                crypto: Rc::new(WebCrypto::new()),
                cache: VerifiedCache::default(),
            })
        }
    }
}
