//! The browser API: inspect a JWT without trusting it, and verify one against a JWKS — given,
//! or fetched from a URL with caching, cooldown and single-flight refresh — with exactly the
//! core's validation rules and error kinds. No validation logic lives in JavaScript.
//!
//! Results cross into JavaScript as plain objects (built from JSON), errors as
//! `{kind, message}` objects with the core's stable kinds.

mod fetch;

use std::rc::Rc;

use js_sys::JsString;
use portcullis::jwt::{
    inspect as inspect_token, JwtError, JwtKeys, Outcome, RemoteJwks, SizeLimits, TokenType, ValidationOptions,
    ValidationReport, Validator, VerifiedCache, DEFAULT_LEEWAY,
};
use portcullis_js::{claims_object, string_from_js, WebCrypto};
use serde::Serialize;
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** A failure with the core's stable kind (`expired`, `bad_signature`, `unknown_key`, ...). */
export interface PortcullisError { kind: string; message: string; }
/** A token's header and claims, NOT verified. */
export interface Inspection { header: Record<string, unknown>; claims: Record<string, unknown>; }
/** One validation rule and how it went. */
export interface RuleResult { rule: string; outcome: "pass" | "fail" | "not_checked"; kind?: string; message?: string; }
/** Every rule, whether the token passed all of them, and the key its `kid` selects. */
export interface Report { passed: boolean; rules: RuleResult[]; kid: string | null; key: Record<string, unknown> | null; expires_in: number | null; }
/** What the verifier checks. */
export interface VerifyOptions { issuer: string; audience: string; types: string[]; leeway?: number; now?: number; }
"#;

fn js(value: &Value) -> JsValue {
    js_sys::JSON::parse(&value.to_string()).unwrap_or(JsValue::NULL)
}

fn js_error(e: &JwtError) -> JsValue {
    js(&json!({ "kind": e.kind(), "message": e.to_string() }))
}

fn usage_error(message: &str) -> JsValue {
    js(&json!({ "kind": "invalid_request", "message": message }))
}

thread_local! {
    /// The page's WebCrypto provider, with its imported keys.
    static CRYPTO: Rc<WebCrypto> = Rc::new(WebCrypto::new());
}

fn crypto() -> Rc<WebCrypto> {
    CRYPTO.with(Rc::clone)
}

/// Seconds since the epoch: `now` if given, else the browser's clock.
fn now_or_clock(now: Option<f64>) -> i64 {
    now.unwrap_or_else(|| js_sys::Date::now() / 1000.0).floor() as i64
}

#[derive(serde::Deserialize)]
struct Options {
    issuer: String,
    audience: String,
    types: Vec<String>,
    #[serde(default)]
    leeway: Option<u32>,
    #[serde(default)]
    now: Option<f64>,
}

fn options(value: JsValue) -> Result<(ValidationOptions, Option<f64>), JsValue> {
    let text = js_sys::JSON::stringify(&value).map_err(|_| usage_error("options must be an object"))?;
    let parsed: Options =
        serde_json::from_str(&String::from(text)).map_err(|e| usage_error(&format!("options: {e}")))?;
    let mut types = parsed
        .types
        .iter()
        .map(|t| TokenType::parse(t).ok_or_else(|| usage_error(&format!("unknown token type {t:?}"))));
    let first = types.next().ok_or_else(|| usage_error("options.types needs at least one type"))??;
    let mut built =
        ValidationOptions::new(parsed.issuer, parsed.audience, first).leeway(parsed.leeway.unwrap_or(DEFAULT_LEEWAY));
    for t in types {
        built = built.also_accept(t?);
    }
    Ok((built, parsed.now))
}

/// A token's header and claims, without any check. Never use the result to decide access.
#[wasm_bindgen(unchecked_return_type = "Inspection")]
pub fn inspect(token: &str) -> Result<JsValue, JsValue> {
    let untrusted = inspect_token(token, &SizeLimits::default()).map_err(|e| js_error(&e))?;
    #[derive(Serialize)]
    struct Out<'a> {
        header: &'a portcullis::jwt::TokenHeader,
        claims: &'a serde_json::Map<String, Value>,
    }
    let out = Out { header: untrusted.header(), claims: untrusted.unverified_claims() };
    Ok(js(&serde_json::to_value(out).map_err(|e| usage_error(&e.to_string()))?))
}

/// Verifies tokens against a fixed key set (a JWKS document).
#[wasm_bindgen]
pub struct Verifier {
    keys: JwtKeys,
    /// Tokens verified before, answered without a parse or a signature check.
    cache: VerifiedCache,
}

#[wasm_bindgen]
impl Verifier {
    /// A verifier for the keys of `jwks` (JSON text of `{"keys": [...]}`).
    #[wasm_bindgen(constructor)]
    pub fn new(jwks: &str) -> Result<Verifier, JsValue> {
        Ok(Verifier { keys: JwtKeys::from_jwks(jwks).map_err(|e| js_error(&e))?, cache: VerifiedCache::default() })
    }

    /// The verified claims, or a `PortcullisError`.
    #[wasm_bindgen(unchecked_return_type = "Record<string, unknown>")]
    pub fn verify(
        &self,
        token: &JsString,
        #[wasm_bindgen(unchecked_param_type = "VerifyOptions")] options_value: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (options, now) = options(options_value)?;
        let validator = Validator::new(&self.keys, options);
        let token = string_from_js(token);
        let verified = self.cache.verify(&validator, &token, now_or_clock(now)).map_err(|e| js_error(&e))?;
        Ok(claims_object(verified.claims()))
    }

    /// Like `verify`, with ES256 and EdDSA signatures checked by the browser's WebCrypto
    /// (several times faster than in wasm); every other rule is the same Rust.
    #[wasm_bindgen(js_name = verifyAsync, unchecked_return_type = "Record<string, unknown>")]
    pub async fn verify_async(
        &self,
        token: JsString,
        #[wasm_bindgen(unchecked_param_type = "VerifyOptions")] options_value: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (options, now) = options(options_value)?;
        let token = string_from_js(&token);
        let crypto = crypto();
        let validator = Validator::new(&self.keys, options);
        let verified =
            self.cache.verify_with(&validator, &*crypto, &token, now_or_clock(now)).await.map_err(|e| js_error(&e))?;
        Ok(claims_object(verified.claims()))
    }

    /// Every rule with its outcome, and the key the token's `kid` selects.
    #[wasm_bindgen(unchecked_return_type = "Report")]
    pub fn report(
        &self,
        token: &str,
        #[wasm_bindgen(unchecked_param_type = "VerifyOptions")] options_value: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (options, now) = options(options_value)?;
        let now = now_or_clock(now);
        let report = Validator::new(&self.keys, options.clone()).report(token, now);
        Ok(js(&report_json(&self.keys, token, options, now, report)))
    }

    /// Like `report`, with the signature checked as `verifyAsync` checks it.
    #[wasm_bindgen(js_name = reportAsync, unchecked_return_type = "Report")]
    pub async fn report_async(
        &self,
        token: String,
        #[wasm_bindgen(unchecked_param_type = "VerifyOptions")] options_value: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (options, now) = options(options_value)?;
        let now = now_or_clock(now);
        let report = Validator::new(&self.keys, options.clone()).report_with(&*crypto(), &token, now).await;
        Ok(js(&report_json(&self.keys, &token, options, now, report)))
    }

    /// The key ids this verifier knows.
    pub fn kids(&self) -> Vec<String> {
        self.keys.kids().map(str::to_owned).collect()
    }
}

/// Verifies tokens against the JWKS at a URL, cached for `maxAge` seconds, refetched on an
/// unknown `kid` at most every `cooldown` seconds, one fetch at a time.
#[wasm_bindgen]
pub struct RemoteVerifier {
    remote: Rc<RemoteJwks>,
}

#[wasm_bindgen]
impl RemoteVerifier {
    #[wasm_bindgen(constructor)]
    pub fn new(url: &str, max_age: u32, cooldown: u32) -> RemoteVerifier {
        RemoteVerifier { remote: Rc::new(RemoteJwks::new(url, i64::from(max_age), i64::from(cooldown))) }
    }

    /// The verified claims, or a `PortcullisError` (`jwks_unavailable` when the keys cannot be
    /// had).
    #[wasm_bindgen(unchecked_return_type = "Record<string, unknown>")]
    pub async fn verify(
        &self,
        token: String,
        #[wasm_bindgen(unchecked_param_type = "VerifyOptions")] options_value: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (options, now) = options(options_value)?;
        let crypto = crypto();
        let verified = self
            .remote
            .verify_with(&*crypto, &token, options, now_or_clock(now), &fetch::BrowserFetch)
            .await
            .map_err(|e| js_error(&e))?;
        Ok(claims_object(verified.claims()))
    }

    /// Like `Verifier.report`, with the issuer's current keys.
    #[wasm_bindgen(unchecked_return_type = "Report")]
    pub async fn report(
        &self,
        token: String,
        #[wasm_bindgen(unchecked_param_type = "VerifyOptions")] options_value: JsValue,
    ) -> Result<JsValue, JsValue> {
        let (options, now) = options(options_value)?;
        let kid = inspect_token(&token, options.size_limits()).ok().and_then(|t| t.header().kid.clone());
        let now = now_or_clock(now);
        let keys = self.remote.keys(kid.as_deref(), now, &fetch::BrowserFetch).await.map_err(|e| js_error(&e))?;
        let report = Validator::new(&keys, options.clone()).report_with(&*crypto(), &token, now).await;
        Ok(js(&report_json(&keys, &token, options, now, report)))
    }
}

fn report_json(keys: &JwtKeys, token: &str, options: ValidationOptions, now: i64, report: ValidationReport) -> Value {
    let untrusted = inspect_token(token, options.size_limits()).ok();
    let kid = untrusted.as_ref().and_then(|t| t.header().kid.clone());
    let expires_in =
        untrusted.as_ref().and_then(|t| t.unverified_claims().get("exp")).and_then(Value::as_i64).map(|exp| exp - now);
    let key = kid.as_deref().and_then(|kid| keys.get(kid)).and_then(|k| k.to_jwk());
    let rules: Vec<Value> = report
        .rules
        .iter()
        .map(|(rule, outcome)| match outcome {
            Outcome::Pass => json!({ "rule": rule.name(), "outcome": "pass" }),
            Outcome::Fail(e) => {
                json!({ "rule": rule.name(), "outcome": "fail", "kind": e.kind(), "message": e.to_string() })
            }
            Outcome::NotChecked => json!({ "rule": rule.name(), "outcome": "not_checked" }),
        })
        .collect();
    json!({ "passed": report.passed(), "rules": rules, "kid": kid, "key": key, "expires_in": expires_in })
}
