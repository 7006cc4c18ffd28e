//! A wasm-bindgen binding for the Node benchmark: the core's `Validator` with the options fixed
//! at construction, for HMAC secrets (which a JWKS cannot carry) as well as a JWKS. Native builds
//! export nothing; the binaries and `benches/` hold the native benchmarks.

#[cfg(target_arch = "wasm32")]
mod wasm {
    use portcullis::jwt::{Algorithm, JwtClaims, JwtKeys, SigningKey, TokenType, ValidationOptions, Validator};
    use serde_json::Value;
    use wasm_bindgen::prelude::*;

    fn err(e: impl ToString) -> JsValue {
        JsValue::from_str(&e.to_string())
    }

    #[wasm_bindgen]
    pub struct BenchVerifier {
        keys: JwtKeys,
        options: ValidationOptions,
    }

    #[wasm_bindgen]
    impl BenchVerifier {
        /// `alg` HS256/HS384/HS512 with `secret`, or any algorithm with `jwks` (JSON text).
        pub fn hmac(alg: &str, secret: &[u8], issuer: &str, audience: &str, token_type: &str) -> Result<BenchVerifier, JsValue> {
            let alg = Algorithm::from_name(alg).ok_or_else(|| err("unknown alg"))?;
            let keys = JwtKeys::new(SigningKey::from_bytes(alg, secret).map_err(err)?);
            Ok(BenchVerifier { keys, options: options(issuer, audience, token_type)? })
        }

        pub fn jwks(jwks: &str, issuer: &str, audience: &str, token_type: &str) -> Result<BenchVerifier, JsValue> {
            let keys = JwtKeys::from_jwks(jwks).map_err(err)?;
            Ok(BenchVerifier { keys, options: options(issuer, audience, token_type)? })
        }

        /// The kid tokens must name (the RFC 7638 thumbprint for an HMAC key).
        pub fn kid(&self) -> String {
            self.keys.kids().next().unwrap_or_default().to_owned()
        }

        /// The verified claims as a JS object (like jose's `payload`), or throws the error kind.
        pub fn verify(&self, token: &str, now: f64) -> Result<JsValue, JsValue> {
            let verified = Validator::new(&self.keys, self.options.clone()).verify(token, now as i64).map_err(|e| err(e.kind()))?;
            let text = claims_json(verified.claims()).to_string();
            js_sys::JSON::parse(&text)
        }

        /// Only whether the token verifies: no claims cross into JavaScript.
        pub fn check(&self, token: &str, now: f64) -> bool {
            Validator::new(&self.keys, self.options.clone()).verify(token, now as i64).is_ok()
        }
    }

    fn options(issuer: &str, audience: &str, token_type: &str) -> Result<ValidationOptions, JsValue> {
        let t = TokenType::parse(token_type).ok_or_else(|| err("unknown token type"))?;
        Ok(ValidationOptions::new(issuer, audience, t))
    }

    fn claims_json(claims: &JwtClaims) -> Value {
        let mut out = claims.extra.clone();
        out.insert("iss".into(), claims.iss.clone().into());
        out.insert("sub".into(), claims.sub.clone().into());
        out.insert("aud".into(), claims.aud.clone().into());
        out.insert("exp".into(), claims.exp.into());
        out.insert("iat".into(), claims.iat.into());
        out.insert("jti".into(), claims.jti.clone().into());
        out.insert("type".into(), claims.token_type.as_str().into());
        Value::Object(out)
    }
}
