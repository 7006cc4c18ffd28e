//! Reading a request: the bearer token, query parameters and JSON bodies, each with limits.

use http::{header, HeaderMap};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Longest query string looked at.
const MAX_QUERY_LEN: usize = 8 * 1024;
/// Longest `Authorization` header looked at.
const MAX_AUTHORIZATION_LEN: usize = 16 * 1024;

/// The token of an `Authorization: Bearer <token>` header, if there is one.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(ApiError::Validation {
            loc: vec!["header".into(), "Authorization".into()],
            msg: "Authorization header too long".into(),
        });
    }
    let text = value.to_str().map_err(|_| ApiError::Unauthenticated)?;
    let (scheme, token) = text.trim().split_once(' ').ok_or(ApiError::Unauthenticated)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthenticated);
    }
    let token = token.trim();
    Ok((!token.is_empty()).then_some(token))
}

/// Decoded query parameters, in order (repeated names kept).
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let query = query.unwrap_or("");
        if query.len() > MAX_QUERY_LEN {
            return Err(invalid(&["query"], "query string too long"));
        }
        Ok(Query(form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// An optional integer parameter.
    pub(crate) fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| v.parse::<i64>().map_err(|_| invalid(&["query", name], &format!("{name} must be an integer"))))
            .transpose()
    }

    /// An optional boolean parameter (`true`/`false`, `1`/`0`). An empty value (`?fix=`, or
    /// `?fix`) is neither: it is refused rather than read as a request to act.
    pub(crate) fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(_) => Err(invalid(&["query", name], &format!("{name} must be true or false"))),
        }
    }

    /// The query with `name` set to `value` (for `Link` headers).
    pub(crate) fn with(&self, name: &str, value: &str) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.0.iter().filter(|(k, _)| k != name) {
            out.append_pair(k, v);
        }
        out.append_pair(name, value);
        out.finish()
    }
}

/// Parses a JSON body: 400 when it is not JSON, 422 when it is JSON of the wrong shape. Every
/// body is an object: serde would also read a struct from an array, by position.
pub(crate) fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.trim_ascii_start().first() != Some(&b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            Ok(_) => Err(invalid(&["body"], "the body must be a JSON object")),
            Err(e) => Err(ApiError::MalformedJson(format!("line {} column {}", e.line(), e.column()))),
        };
    }
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => invalid(&["body"], &data_error(&e)),
        _ => ApiError::MalformedJson(format!("line {} column {}", e.line(), e.column())),
    })
}

/// serde's message without echoing the input.
fn data_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or("invalid body");
    text.chars().take(200).collect()
}

pub(crate) fn invalid(loc: &[&str], msg: &str) -> ApiError {
    ApiError::Validation { loc: loc.iter().map(|s| s.to_string()).collect(), msg: msg.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn bearer_tokens() {
        let mut headers = HeaderMap::new();
        assert!(bearer(&headers).unwrap().is_none());
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert_eq!(bearer(&headers).unwrap(), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(bearer(&headers).is_err());
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert!(bearer(&headers).is_err() || bearer(&headers).unwrap().is_none());
    }

    #[test]
    fn queries() {
        let q = Query::parse(Some("scope=a&scope=b%3Ac&limit=5&fix=true")).unwrap();
        assert_eq!(q.all("scope"), vec!["a", "b:c"]);
        assert_eq!(q.int("limit").unwrap(), Some(5));
        assert!(q.flag("fix").unwrap());
        assert!(Query::parse(Some("limit=x")).unwrap().int("limit").is_err());
        assert!(!Query::parse(Some("fix=0")).unwrap().flag("fix").unwrap());
        for bad in ["fix=", "fix", "fix=yes", "fix=TRUE"] {
            assert!(Query::parse(Some(bad)).unwrap().flag("fix").is_err(), "{bad}");
        }
        assert_eq!(q.with("limit", "9"), "scope=a&scope=b%3Ac&fix=true&limit=9");
    }

    #[test]
    fn json_errors() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            a: i64,
        }
        assert!(matches!(json::<T>(b"{"), Err(ApiError::MalformedJson(_))));
        assert!(matches!(json::<T>(br#"{"a":"x"}"#), Err(ApiError::Validation { .. })));
        assert!(matches!(json::<T>(br#"{"a":1,"b":2}"#), Err(ApiError::Validation { .. })));
        assert!(json::<T>(br#"{"a":1}"#).is_ok());
        assert!(json::<T>(b" \n{\"a\":1}").is_ok());
        assert!(matches!(json::<T>(b"[1]"), Err(ApiError::Validation { .. })));
        assert!(matches!(json::<T>(b"5"), Err(ApiError::Validation { .. })));
        assert!(matches!(json::<T>(b""), Err(ApiError::MalformedJson(_))));
        assert!(matches!(json::<T>(b"[1"), Err(ApiError::MalformedJson(_))));
    }
}
