//! The route table: every path template with its methods. The router dispatches from it, a 405
//! lists its `Allow` from it, and `/auth/openapi.json` documents exactly these routes
//! (tests/api.rs checks both ways).

use http::Method;

use super::error::ApiError;

/// The document served at `/auth/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// What a route does; each one has exactly one handler in `Api::route`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Health,
    OpenApi,
    Jwks,
    Auth,
    TokenInfo,
    UserInfo,
    ListTokens,
    CreateUserToken,
    GetToken,
    ModifyToken,
    DeleteToken,
    UserHistory,
    AdminCreateToken,
    History,
    CreateSession,
    RefreshSession,
    EndSession,
    CreateApiToken,
    DeleteApiToken,
    Expire,
    Audit,
    Metrics,
}

/// Method, path template (`{name}` matches one segment) and endpoint.
const ROUTES: &[(Method, &str, Endpoint)] = &[
    (Method::GET, "/health", Endpoint::Health),
    (Method::GET, "/auth/openapi.json", Endpoint::OpenApi),
    (Method::GET, "/.well-known/jwks.json", Endpoint::Jwks),
    (Method::GET, "/auth", Endpoint::Auth),
    (Method::GET, "/auth/api/v1/token-info", Endpoint::TokenInfo),
    (Method::GET, "/auth/api/v1/user-info", Endpoint::UserInfo),
    (Method::GET, "/auth/api/v1/users/{username}/tokens", Endpoint::ListTokens),
    (Method::POST, "/auth/api/v1/users/{username}/tokens", Endpoint::CreateUserToken),
    (Method::GET, "/auth/api/v1/users/{username}/tokens/{key}", Endpoint::GetToken),
    (Method::PATCH, "/auth/api/v1/users/{username}/tokens/{key}", Endpoint::ModifyToken),
    (Method::DELETE, "/auth/api/v1/users/{username}/tokens/{key}", Endpoint::DeleteToken),
    (Method::GET, "/auth/api/v1/users/{username}/token-change-history", Endpoint::UserHistory),
    (Method::POST, "/auth/api/v1/tokens", Endpoint::AdminCreateToken),
    (Method::GET, "/auth/api/v1/history/token-changes", Endpoint::History),
    (Method::POST, "/auth/api/v1/sessions", Endpoint::CreateSession),
    (Method::POST, "/auth/api/v1/sessions/refresh", Endpoint::RefreshSession),
    (Method::DELETE, "/auth/api/v1/sessions/current", Endpoint::EndSession),
    (Method::POST, "/auth/api/v1/api-tokens", Endpoint::CreateApiToken),
    (Method::DELETE, "/auth/api/v1/api-tokens/{jti}", Endpoint::DeleteApiToken),
    (Method::POST, "/auth/api/v1/admin/expire", Endpoint::Expire),
    (Method::GET, "/auth/api/v1/admin/audit", Endpoint::Audit),
    (Method::GET, "/auth/api/v1/admin/metrics", Endpoint::Metrics),
];

/// Every route as (method, path template), in table order.
pub fn routes() -> impl Iterator<Item = (&'static str, &'static str)> {
    ROUTES.iter().map(|(method, path, _)| (method.as_str(), *path))
}

/// The path segments a template's `{name}` segments matched, in order (unused ones are empty).
pub(crate) type Params<'a> = [&'a str; 2];

/// The endpoint for `method` on `path`: 404 when no template matches, 405 (with the methods
/// that do match) when only the method is wrong. `HEAD` is not served.
pub(crate) fn resolve<'a>(method: &Method, path: &'a str) -> Result<(Endpoint, Params<'a>), ApiError> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut allowed: Vec<&str> = Vec::new();
    for (route_method, template, endpoint) in ROUTES {
        let Some(params) = matches(template, &segments) else {
            continue;
        };
        if route_method == method {
            return Ok((*endpoint, params));
        }
        allowed.push(route_method.as_str());
    }
    if allowed.is_empty() {
        Err(ApiError::NoRoute)
    } else {
        Err(ApiError::MethodNotAllowed(allowed.join(", ")))
    }
}

fn matches<'a>(template: &str, segments: &[&'a str]) -> Option<Params<'a>> {
    let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = [""; 2];
    let mut n = 0;
    for (part, segment) in parts.iter().zip(segments) {
        if part.starts_with('{') {
            *params.get_mut(n)? = segment;
            n += 1;
        } else if part != segment {
            return None;
        }
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_templates_and_methods() {
        let (endpoint, params) = resolve(&Method::PATCH, "/auth/api/v1/users/alice/tokens/k").unwrap();
        assert_eq!((endpoint, params), (Endpoint::ModifyToken, ["alice", "k"]));
        assert_eq!(resolve(&Method::GET, "//health").unwrap().0, Endpoint::Health);
        assert!(matches!(resolve(&Method::GET, "/auth/api/v1/users/alice"), Err(ApiError::NoRoute)));
        assert!(matches!(resolve(&Method::GET, "/health/"), Err(ApiError::NoRoute)));
        match resolve(&Method::PUT, "/auth/api/v1/users/alice/tokens/k") {
            Err(ApiError::MethodNotAllowed(allow)) => assert_eq!(allow, "GET, PATCH, DELETE"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(resolve(&Method::HEAD, "/health"), Err(ApiError::MethodNotAllowed(a)) if a == "GET"));
    }

    #[test]
    fn every_template_has_at_most_two_parameters() {
        for (_, template, _) in ROUTES {
            assert!(template.matches('{').count() <= 2, "{template}");
            assert!(template.starts_with('/'), "{template}");
        }
    }

    #[test]
    fn no_two_routes_share_method_and_template() {
        for (i, (m, t, _)) in ROUTES.iter().enumerate() {
            assert!(!ROUTES[i + 1..].iter().any(|(m2, t2, _)| m2 == m && t2 == t), "{m} {t}");
        }
    }
}
