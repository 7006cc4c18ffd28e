//! The OpenAPI document (`src/api/openapi.json`, served at `/auth/openapi.json`) against the
//! router: the same routes both ways, every reference resolves, and what the router answers
//! for each route and for the methods it does not serve is what the document says.

mod common;

use std::collections::BTreeSet;

use common::*;
use http::{Method, Request, Response, StatusCode};
use portcullis::api::{routes, Api, ApiOptions, OPENAPI_JSON};
use portcullis::jwt::{Algorithm, JwtKeys, SigningKey};
use portcullis::{JwtSessionManager, JwtSettings, TokenService};
use serde_json::Value;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn document() -> Value {
    serde_json::from_str(OPENAPI_JSON).expect("src/api/openapi.json is JSON")
}

/// (METHOD, path template) of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys().filter(|k| METHODS.contains(&k.as_str())) {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    &doc["paths"][path][method.to_lowercase()]
}

async fn api() -> (Api, Harness) {
    let h = Harness::new().await;
    let service = TokenService::new(h.env.clone(), key_ring(), config()).unwrap();
    let keys = JwtKeys::new(SigningKey::generate(Algorithm::EdDsa, &portcullis_native::OsRandom).unwrap());
    let sessions = JwtSessionManager::new(h.env.clone(), key_ring(), keys, JwtSettings::default());
    (Api::new(service, ApiOptions::default()).with_sessions(Some(sessions)), h)
}

async fn call(api: &Api, method: &str, path: &str) -> Response<Vec<u8>> {
    let request =
        Request::builder().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(path).body(Vec::new()).unwrap();
    api.handle(request, None).await
}

/// A template with its `{name}` segments filled in.
fn concrete(template: &str) -> String {
    template
        .replace("{username}", "alice")
        .replace("{key}", "AAAAAAAAAAAAAAAAAAAAAA")
        .replace("{jti}", "AAAAAAAAAAAAAAAAAAAAAA")
}

#[test]
fn the_document_and_the_router_list_the_same_routes() {
    let doc = document();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "an OpenAPI 3 document");
    let routed: BTreeSet<(String, String)> = routes().map(|(m, p)| (m.to_owned(), p.to_owned())).collect();
    let documented = documented(&doc);
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(undocumented.is_empty(), "routes missing from openapi.json: {undocumented:?}");
    assert!(unrouted.is_empty(), "operations in openapi.json the router does not serve: {unrouted:?}");
}

#[test]
fn every_reference_resolves_and_every_path_parameter_is_declared() {
    fn walk<'a>(value: &'a Value, refs: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    refs.push(r);
                }
                map.values().for_each(|v| walk(v, refs));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, refs)),
            _ => {}
        }
    }
    let doc = document();
    let mut refs = Vec::new();
    walk(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("external reference {r}"));
        assert!(doc.pointer(pointer).is_some(), "unresolved {r}");
    }
    let resolve = |p: &Value| -> Value {
        match p["$ref"].as_str() {
            Some(r) => doc.pointer(&r[1..]).unwrap().clone(),
            None => p.clone(),
        }
    };
    for (path, item) in doc["paths"].as_object().unwrap() {
        let in_template: BTreeSet<&str> =
            path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
        for method in item.as_object().unwrap().keys().filter(|k| METHODS.contains(&k.as_str())) {
            let params =
                item["parameters"].as_array().into_iter().chain(item[method]["parameters"].as_array()).flatten();
            let declared: BTreeSet<String> = params
                .map(resolve)
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            let declared: BTreeSet<&str> = declared.iter().map(String::as_str).collect();
            assert_eq!(declared, in_template, "{method} {path}");
            assert!(item[method]["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}");
        }
    }
}

#[test]
fn the_document_is_served_without_credentials() {
    run(async {
        let (api, _h) = api().await;
        let response = call(&api, "GET", "/auth/openapi.json").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(serde_json::from_slice::<Value>(response.body()).unwrap(), document());
        let post = call(&api, "POST", "/auth/openapi.json").await;
        assert_eq!(
            (post.status(), &post.headers()["allow"]),
            (StatusCode::METHOD_NOT_ALLOWED, &"GET".parse().unwrap())
        );
    })
}

/// Each route, asked without credentials or body, answers a status its operation documents
/// (so it reached its handler); every other method on its path is a 405 whose `Allow` lists
/// exactly the documented methods.
#[test]
fn the_router_answers_what_the_document_says() {
    run(async {
        let (api, _h) = api().await;
        let doc = document();
        for (method, path) in routes() {
            let response = call(&api, method, &concrete(path)).await;
            let status = response.status().as_u16().to_string();
            let documented = &operation(&doc, method, path)["responses"];
            assert!(documented.get(&status).is_some(), "{method} {path} answered {status}, not in the document");
            assert_ne!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
        for (path, item) in doc["paths"].as_object().unwrap() {
            let served: BTreeSet<String> = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| METHODS.contains(&k.as_str()))
                .map(|m| m.to_uppercase())
                .collect();
            for method in METHODS.map(str::to_uppercase).iter().filter(|m| !served.contains(*m)) {
                let response = call(&api, method, &concrete(path)).await;
                assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                let allow: BTreeSet<String> =
                    response.headers()["allow"].to_str().unwrap().split(", ").map(str::to_owned).collect();
                assert_eq!(allow, served, "{method} {path}");
            }
        }
    })
}
