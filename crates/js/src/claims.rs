//! Verified claims as a JS object. Claims with one audience and no application members (the
//! common case) take one string and a few numbers across: their text members laid end to end,
//! sliced apart and put in an object literal by `js/claims.js`. Measured in V8, that is about a
//! fifth of the cost of a JSON text and `JSON.parse`, and cheaper than one `TextDecoder` call per
//! string. Other claims take the JSON text, written straight from [`JwtClaims`]. Both give the
//! same object, members in name order.

use portcullis::jwt::JwtClaims;
use serde::ser::{Serialize, SerializeMap, Serializer};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/claims.js")]
extern "C" {
    #[wasm_bindgen(js_name = claims)]
    #[allow(clippy::too_many_arguments)]
    fn from_parts(text: &str, iss: u32, sub: u32, jti: u32, aud: u32, exp: f64, iat: f64, nbf: Option<f64>) -> JsValue;
}

/// The claims as the token's payload shows them, with `aud` always an array, members sorted by
/// name (the order of a serde_json map).
pub fn claims_object(claims: &JwtClaims) -> JsValue {
    let ([aud], true) = (claims.aud.as_slice(), claims.extra.is_empty()) else { return claims_from_json(claims) };
    let token_type = claims.token_type.as_str();
    let members = [&claims.iss, &claims.sub, &claims.jti, aud];
    let mut text = String::with_capacity(members.iter().map(|m| m.len()).sum::<usize>() + token_type.len());
    for member in members {
        text.push_str(member);
    }
    text.push_str(token_type);
    let [iss, sub, jti, aud] = members.map(|member| utf16_len(member));
    // JSON.parse gives the same number for every i64: the nearest double.
    from_parts(&text, iss, sub, jti, aud, claims.exp as f64, claims.iat as f64, claims.nbf.map(|nbf| nbf as f64))
}

/// The object through the claims' JSON text and `JSON.parse`.
fn claims_from_json(claims: &JwtClaims) -> JsValue {
    // Serializing strings, numbers and JSON values cannot fail, and the text always parses.
    js_sys::JSON::parse(&claims_json(claims)).unwrap_or(JsValue::NULL)
}

/// The claims' JSON text, members sorted by name.
pub fn claims_json(claims: &JwtClaims) -> String {
    serde_json::to_string(&Sorted(claims)).unwrap_or_default()
}

/// Length in JavaScript's string units.
fn utf16_len(text: &str) -> u32 {
    if text.is_ascii() {
        text.len() as u32
    } else {
        text.encode_utf16().count() as u32
    }
}

struct Sorted<'a>(&'a JwtClaims);

enum Member<'a> {
    Text(&'a str),
    Number(i64),
    Texts(&'a [String]),
}

impl Serialize for Member<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Member::Text(text) => serializer.serialize_str(text),
            Member::Number(number) => serializer.serialize_i64(*number),
            Member::Texts(texts) => texts.serialize(serializer),
        }
    }
}

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let claims = self.0;
        let mut fixed = vec![
            ("aud", Member::Texts(&claims.aud)),
            ("exp", Member::Number(claims.exp)),
            ("iat", Member::Number(claims.iat)),
            ("iss", Member::Text(&claims.iss)),
            ("jti", Member::Text(&claims.jti)),
            ("sub", Member::Text(&claims.sub)),
            ("type", Member::Text(claims.token_type.as_str())),
        ];
        if let Some(nbf) = claims.nbf {
            fixed.insert(5, ("nbf", Member::Number(nbf)));
        }
        // The extra claims never use these names; both lists are sorted, so merge them.
        let mut map = serializer.serialize_map(Some(fixed.len() + claims.extra.len()))?;
        let mut extra = claims.extra.iter().peekable();
        for (name, member) in &fixed {
            while let Some((extra_name, value)) = extra.next_if(|(extra_name, _)| extra_name.as_str() < *name) {
                map.serialize_entry(extra_name, value)?;
            }
            map.serialize_entry(name, member)?;
        }
        for (name, value) in extra {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use portcullis::jwt::TokenType;
    use serde_json::{json, Map, Value};

    use super::*;

    /// The text a serde_json map of the same members gives (what the object used to be parsed from).
    fn via_map(claims: &JwtClaims) -> String {
        let mut out = claims.extra.clone();
        out.insert("iss".into(), claims.iss.clone().into());
        out.insert("sub".into(), claims.sub.clone().into());
        out.insert("aud".into(), claims.aud.clone().into());
        out.insert("exp".into(), claims.exp.into());
        out.insert("iat".into(), claims.iat.into());
        if let Some(nbf) = claims.nbf {
            out.insert("nbf".into(), nbf.into());
        }
        out.insert("jti".into(), claims.jti.clone().into());
        out.insert("type".into(), claims.token_type.as_str().into());
        Value::Object(out).to_string()
    }

    #[test]
    fn writes_the_text_a_map_would() {
        let base = JwtClaims::new("https://pc.example", "alice \"a\"", "api", TokenType::Refresh, -5, 600, "j\u{e9}1");
        let mut with_nbf = base.clone();
        with_nbf.nbf = Some(7);
        with_nbf.aud.push("other".into());
        let mut extras = with_nbf.clone();
        for name in ["a", "aud0", "f", "iss1", "k", "nbe", "o", "sub_", "typ", "types", "z", "\u{e9}", "A", "1"] {
            extras.extra.insert(name.into(), json!({"n": name, "list": [1, 2.5, null, true]}));
        }
        let mut empty = base.clone();
        empty.extra = Map::new();
        for claims in [base, with_nbf, extras, empty] {
            assert_eq!(serde_json::to_string(&Sorted(&claims)).unwrap(), via_map(&claims));
        }
    }
}
