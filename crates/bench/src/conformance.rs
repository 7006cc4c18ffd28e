//! The JWT conformance vectors (tests/vectors/jwt.json) through either signature provider, for
//! tests/webcrypto/vectors.test.mjs: the same loading and the same checks as
//! tests/jwt_vectors.rs, with each case's outcome returned as JSON for the test to compare.

use portcullis::jwt::danger::{verify_signature_only, verify_signature_only_with};
use portcullis::jwt::{
    JwtError, JwtKeys, SigningKey, SizeLimits, TokenType, ValidationOptions, Validator, VerifyingKey,
};
use std::rc::Rc;

use portcullis_js::{verify_promise, WebCrypto};
use serde_json::{json, Map, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

fn err(e: impl ToString) -> JsValue {
    JsValue::from_str(&e.to_string())
}

/// The vector document's keys, loaded as tests/jwt_vectors.rs loads them.
#[wasm_bindgen]
pub struct Conformance {
    named: Map<String, Value>,
    keys: JwtKeys,
    crypto: Rc<WebCrypto>,
}

/// Who checks the signatures of a case.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Provider {
    Rust,
    /// WebCrypto through the core's `CryptoProvider` (`verify_with`).
    Subtle,
    /// WebCrypto with `full` cases verified in two steps around the signature (crates/js
    /// `verify_promise`, as the bench binding's `verifySubtle` runs them).
    Split,
}

#[wasm_bindgen]
impl Conformance {
    /// `keys`: the JSON text of the document's `keys` object (name -> JWK).
    #[wasm_bindgen(constructor)]
    pub fn new(keys: &str) -> Result<Conformance, JsValue> {
        let named: Map<String, Value> = serde_json::from_str(keys).map_err(err)?;
        let mut set = JwtKeys::verify_only();
        for jwk in named.values() {
            set.add_verifying_key(load_key(jwk)?).map_err(err)?;
        }
        Ok(Conformance { named, keys: set, crypto: Rc::new(WebCrypto::new()) })
    }

    /// Runs one case (its JSON text) with the signature checked by WebCrypto if `subtle`, else in
    /// pure Rust. Returns JSON: `{"valid":true, ...fields}` or `{"valid":false,"error":kind}`,
    /// for `full` cases with `"report_passed"` too.
    pub async fn run(&self, case: String, subtle: bool) -> Result<String, JsValue> {
        self.run_with(case, if subtle { Provider::Subtle } else { Provider::Rust }).await
    }

    /// `run(case, true)` with a `full` case verified in two steps around WebCrypto's promise.
    #[wasm_bindgen(js_name = runSplit)]
    pub async fn run_split(&self, case: String) -> Result<String, JsValue> {
        self.run_with(case, Provider::Split).await
    }

    /// `[subtle, rust]`: how many signatures each provider checked through `run(.., true)`.
    pub fn counts(&self) -> Vec<f64> {
        let counts = self.crypto.counts();
        vec![counts.subtle as f64, counts.rust as f64]
    }
}

impl Conformance {
    async fn run_with(&self, case: String, provider: Provider) -> Result<String, JsValue> {
        let subtle = provider != Provider::Rust;
        let case: Value = serde_json::from_str(&case).map_err(err)?;
        let token = case["token"].as_str().ok_or_else(|| err("no token"))?;
        let out = match case["check"].as_str() {
            Some("signature_only") => {
                let name = case["key"].as_str().ok_or_else(|| err("no key"))?;
                let key = load_key(self.named.get(name).ok_or_else(|| err("unknown key"))?)?;
                let limits = SizeLimits::default();
                let result = if subtle {
                    verify_signature_only_with(&*self.crypto, &key, token, &limits).await
                } else {
                    verify_signature_only(&key, token, &limits)
                };
                outcome(result.map(|ok| json!({"payload": String::from_utf8_lossy(&ok.payload)})))
            }
            Some("full") => {
                let validator = Validator::new(&self.keys, options(&case["options"])?);
                let now = case["now"].as_i64().ok_or_else(|| err("no now"))?;
                let (verified, report) = match provider {
                    Provider::Subtle => (
                        validator.verify_with(&*self.crypto, token, now).await.map(fields),
                        validator.report_with(&*self.crypto, token, now).await,
                    ),
                    Provider::Split => (
                        self.split(&validator, token, now).await?,
                        validator.report_with(&*self.crypto, token, now).await,
                    ),
                    Provider::Rust => (validator.verify(token, now).map(fields), validator.report(token, now)),
                };
                let mut out = outcome(verified);
                out["report_passed"] = report.passed().into();
                out["report"] = report.rules.iter().map(|(rule, o)| json!([rule.name(), format!("{o:?}")])).collect();
                out
            }
            _ => return Err(err("unknown check")),
        };
        Ok(out.to_string())
    }

    /// `Validator::begin`, the signature through `verify_promise`, `PendingSignature::finish`.
    async fn split(
        &self,
        validator: &Validator<'_>,
        token: &str,
        now: i64,
    ) -> Result<Result<Value, JwtError>, JsValue> {
        let pending = match validator.begin(token) {
            Ok(pending) => pending,
            Err(e) => return Ok(Err(e)),
        };
        let (keys, options) = (self.keys.clone(), validator.options().clone());
        let result = Rc::new(std::cell::RefCell::new(None));
        let slot = Rc::clone(&result);
        let finish = move |pending: portcullis::jwt::PendingSignature, valid| {
            *slot.borrow_mut() = Some(pending.finish(&Validator::new(&keys, options), valid, now).map(fields));
            Ok(JsValue::UNDEFINED)
        };
        JsFuture::from(verify_promise(&self.crypto, pending, Box::new(finish))).await?;
        let result = result.borrow_mut().take();
        result.ok_or_else(|| err("the check never finished"))
    }
}

/// What a case compares of a verified token.
fn fields(ok: portcullis::jwt::VerifiedJwt) -> Value {
    json!({"alg": ok.algorithm().name(), "kid": ok.kid(), "sub": ok.claims().sub,
           "type": ok.claims().token_type.as_str()})
}

fn outcome(result: Result<Value, JwtError>) -> Value {
    match result {
        Ok(mut fields) => {
            fields["valid"] = true.into();
            fields
        }
        Err(e) => json!({"valid": false, "error": e.kind(), "message": e.to_string()}),
    }
}

/// A private JWK loads as a signing key, a public one as verify-only.
fn load_key(jwk: &Value) -> Result<VerifyingKey, JsValue> {
    let text = jwk.to_string();
    if jwk.get("d").is_some() || jwk.get("k").is_some() {
        Ok(SigningKey::from_private_jwk(&text).map_err(err)?.verifying_key())
    } else {
        VerifyingKey::from_jwk(&text).map_err(err)
    }
}

fn options(spec: &Value) -> Result<ValidationOptions, JsValue> {
    let types: Vec<TokenType> = spec["types"]
        .as_array()
        .ok_or_else(|| err("no types"))?
        .iter()
        .map(|t| t.as_str().and_then(TokenType::parse).ok_or_else(|| err("bad type")))
        .collect::<Result<_, _>>()?;
    let (first, rest) = types.split_first().ok_or_else(|| err("no types"))?;
    let issuer = spec["issuer"].as_str().ok_or_else(|| err("no issuer"))?;
    let audience = spec["audience"].as_str().ok_or_else(|| err("no audience"))?;
    let mut options = ValidationOptions::new(issuer, audience, *first);
    for token_type in rest {
        options = options.also_accept(*token_type);
    }
    if let Some(leeway) = spec["leeway"].as_u64() {
        options = options.leeway(leeway as u32);
    }
    if let Some(max_age) = spec["max_age"].as_u64() {
        options = options.max_age(max_age as u32);
    }
    Ok(options)
}
