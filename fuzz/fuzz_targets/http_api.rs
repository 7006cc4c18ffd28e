//! The HTTP handler on an in-memory API. The request is built with `arbitrary`: a method, a path
//! from the route table (with known or arbitrary users and keys) or raw, query pairs, headers,
//! one of the fixture's credentials (or garbage) as the bearer, and a JSON or raw body.
//!
//! Never panics, never answers 5xx (storage cannot fail here), and no error response — body,
//! headers or the `ErrorLog` for the host's log — repeats any of the fixture's credentials.
#![no_main]

use arbitrary::Arbitrary;
use futures::executor::block_on;
use http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use portcullis::api::ErrorLog;
use portcullis_fuzz::fixture;

#[derive(Arbitrary, Debug)]
enum Verb {
    Get,
    Post,
    Patch,
    Delete,
    Put,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Route {
    Health,
    Auth,
    Jwks,
    TokenInfo,
    UserInfo,
    UserTokens(u8),
    UserToken(u8, u8),
    UserHistory(u8),
    AdminTokens,
    AllHistory,
    Sessions,
    Refresh,
    CurrentSession,
    ApiTokens,
    ApiToken(String),
    Expire,
    Audit,
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Auth {
    None,
    Known(u8),
    /// A known credential with its last character changed.
    Tampered(u8),
    Raw(String),
    Cookie(u8),
}

#[derive(Arbitrary, Debug)]
enum Body {
    Empty,
    Raw(Vec<u8>),
    Json(Json),
}

#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Big(u64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(Field, Json)>),
}

/// Field names the handlers read, or anything.
#[derive(Arbitrary, Debug)]
enum Field {
    Known(u8),
    Raw(String),
}

const FIELDS: &[&str] = &[
    "username",
    "token_type",
    "token_name",
    "scopes",
    "expires",
    "name",
    "email",
    "uid",
    "gid",
    "groups",
    "id",
    "refresh_token",
    "datasets",
    "minimum_lifetime",
];

#[derive(Arbitrary, Debug)]
struct Input {
    verb: Verb,
    route: Route,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    auth: Auth,
    body: Body,
}

fn json(value: &Json, depth: usize) -> serde_json::Value {
    use serde_json::Value;
    if depth > 8 {
        return Value::Null;
    }
    match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Int(i) => Value::from(*i),
        Json::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null),
        Json::Big(u) => Value::from(*u),
        Json::Str(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::Array(items.iter().map(|i| json(i, depth + 1)).collect()),
        Json::Object(members) => Value::Object(
            members
                .iter()
                .map(|(field, v)| {
                    let name = match field {
                        Field::Known(i) => FIELDS[*i as usize % FIELDS.len()].to_owned(),
                        Field::Raw(s) => s.clone(),
                    };
                    (name, json(v, depth + 1))
                })
                .collect(),
        ),
    }
}

fn pick<T>(list: &[T], i: u8) -> &T {
    &list[i as usize % list.len()]
}

fuzz_target!(|input: Input| {
    let f = fixture();
    let user = |i: u8| pick(&f.users, i).clone();
    let key = |i: u8| if i >= 200 { format!("k{i}") } else { pick(&f.keys, i).clone() };
    let path = match &input.route {
        Route::Health => "/health".to_owned(),
        Route::Auth => "/auth".to_owned(),
        Route::Jwks => "/.well-known/jwks.json".to_owned(),
        Route::TokenInfo => "/auth/api/v1/token-info".to_owned(),
        Route::UserInfo => "/auth/api/v1/user-info".to_owned(),
        Route::UserTokens(u) => format!("/auth/api/v1/users/{}/tokens", user(*u)),
        Route::UserToken(u, k) => format!("/auth/api/v1/users/{}/tokens/{}", user(*u), key(*k)),
        Route::UserHistory(u) => format!("/auth/api/v1/users/{}/token-change-history", user(*u)),
        Route::AdminTokens => "/auth/api/v1/tokens".to_owned(),
        Route::AllHistory => "/auth/api/v1/history/token-changes".to_owned(),
        Route::Sessions => "/auth/api/v1/sessions".to_owned(),
        Route::Refresh => "/auth/api/v1/sessions/refresh".to_owned(),
        Route::CurrentSession => "/auth/api/v1/sessions/current".to_owned(),
        Route::ApiTokens => "/auth/api/v1/api-tokens".to_owned(),
        Route::ApiToken(jti) => format!("/auth/api/v1/api-tokens/{jti}"),
        Route::Expire => "/auth/api/v1/admin/expire".to_owned(),
        Route::Audit => "/auth/api/v1/admin/audit".to_owned(),
        Route::Raw(p) => p.clone(),
    };
    let mut uri = path;
    if !input.query.is_empty() {
        let query: Vec<String> = input.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        uri = format!("{uri}?{}", query.join("&"));
    }
    let method = match &input.verb {
        Verb::Get => Method::GET,
        Verb::Post => Method::POST,
        Verb::Patch => Method::PATCH,
        Verb::Delete => Method::DELETE,
        Verb::Put => Method::PUT,
        Verb::Other(m) => match Method::from_bytes(m.as_bytes()) {
            Ok(m) => m,
            Err(_) => return,
        },
    };
    let credential = match &input.auth {
        Auth::None => None,
        Auth::Known(i) | Auth::Cookie(i) => Some(pick(&f.credentials, *i).clone()),
        Auth::Tampered(i) => {
            let mut c = pick(&f.credentials, *i).clone();
            let last = c.pop().unwrap();
            c.push(if last == 'A' { 'B' } else { 'A' });
            Some(c)
        }
        Auth::Raw(s) => Some(s.clone()),
    };
    let mut builder = Request::builder().method(method).uri(uri.as_str());
    if let Some(c) = &credential {
        builder = match input.auth {
            Auth::Cookie(_) => builder.header("cookie", format!("portcullis={c}")),
            _ => builder.header("authorization", format!("Bearer {c}")),
        };
    }
    for (name, value) in &input.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = match &input.body {
        Body::Empty => Vec::new(),
        Body::Raw(bytes) => bytes.clone(),
        Body::Json(value) => serde_json::to_vec(&json(value, 0)).unwrap(),
    };
    // Requests `http` itself refuses (bad URI, header names or values) never reach a host.
    // What the request carries outside its credential: an echo of that is not a leak.
    let echo_ok = format!("{uri} {:?} {}", input.headers, String::from_utf8_lossy(&body));
    let Ok(request) = builder.body(body) else { return };
    let response = block_on(f.api.handle(request, Some("198.51.100.7")));
    let status = response.status();
    assert!(!status.is_server_error(), "{status} for {input:?}: {:?}", String::from_utf8_lossy(response.body()));
    if status.is_client_error() {
        let log = response.extensions().get::<ErrorLog>().map(|l| l.0.clone()).unwrap_or_default();
        let body = String::from_utf8_lossy(response.body());
        let headers = format!("{:?}", response.headers());
        for secret in &f.credentials {
            let tail = &secret[secret.len() - 16..];
            if echo_ok.contains(tail) {
                continue;
            }
            for (what, text) in [("log", &log), ("body", &body.to_string()), ("headers", &headers)] {
                assert!(!text.contains(tail), "the error {what} repeats a credential: {text}");
            }
        }
    }
});
