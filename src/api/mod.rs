//! The HTTP API of SPEC section 8, framework-neutral: an [`http::Request`] with its body in,
//! an [`http::Response`] out. Every host (Worker, component, native) serves exactly this.

mod admin;
mod auth;
mod error;
mod extract;
mod sessions;
mod tokens;

use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use serde::Serialize;

pub use error::ApiError;
use extract::Query;

use crate::session::JwtSessionManager;
use crate::token::TokenService;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// The realm in `WWW-Authenticate` challenges.
    pub realm: String,
    /// Larger request bodies are refused with 413.
    pub max_body_bytes: usize,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions { realm: "portcullis".into(), max_body_bytes: 64 * 1024 }
    }
}

/// Attached to error responses for the host's log (never holds a token or secret).
#[derive(Debug, Clone)]
pub struct ErrorLog(pub String);

/// The HTTP API over the core services.
pub struct Api {
    pub(crate) tokens: TokenService,
    pub(crate) sessions: Option<JwtSessionManager>,
    pub(crate) options: ApiOptions,
}

/// One request as the handlers see it.
pub(crate) struct Req<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub headers: &'a http::HeaderMap,
    pub query: Query,
    pub body: &'a [u8],
    pub ip: Option<&'a str>,
}

pub(crate) type Reply = Result<Response<Vec<u8>>, ApiError>;

impl Api {
    pub fn new(tokens: TokenService, options: ApiOptions) -> Self {
        Api { tokens, sessions: None, options }
    }

    /// Serves the JWT session endpoints with `sessions` (without it they answer 404).
    pub fn with_sessions(mut self, sessions: Option<JwtSessionManager>) -> Self {
        self.sessions = sessions;
        self
    }

    /// Checks JWT signatures with `crypto` (a host's WebCrypto, say) instead of pure Rust.
    pub fn with_jwt_crypto(mut self, crypto: std::rc::Rc<dyn crate::jwt::CryptoProvider>) -> Self {
        self.sessions = self.sessions.map(|sessions| sessions.with_crypto(crypto));
        self
    }

    pub fn tokens(&self) -> &TokenService {
        &self.tokens
    }

    pub fn sessions(&self) -> Option<&JwtSessionManager> {
        self.sessions.as_ref()
    }

    /// Answers one request. Never panics on any input; errors become 4xx/5xx responses with a
    /// JSON body, and an [`ErrorLog`] extension for the host's log.
    pub async fn handle(&self, request: Request<Vec<u8>>, client_ip: Option<&str>) -> Response<Vec<u8>> {
        let (parts, body) = request.into_parts();
        let result = match Query::parse(parts.uri.query()) {
            Ok(query) => {
                let req = Req {
                    method: &parts.method,
                    path: parts.uri.path(),
                    headers: &parts.headers,
                    query,
                    body: &body,
                    ip: client_ip,
                };
                if body.len() > self.options.max_body_bytes {
                    Err(ApiError::TooLarge(self.options.max_body_bytes))
                } else {
                    self.route(&req).await
                }
            }
            Err(e) => Err(e),
        };
        result.unwrap_or_else(|e| self.error_response(&e))
    }

    fn error_response(&self, error: &ApiError) -> Response<Vec<u8>> {
        let rendered = error.render(&self.options.realm);
        let mut response = Response::new(rendered.body);
        *response.status_mut() = rendered.status;
        for (name, value) in rendered.headers {
            response.headers_mut().append(name, value);
        }
        response.extensions_mut().insert(ErrorLog(error.log_line()));
        response
    }

    async fn route(&self, r: &Req<'_>) -> Reply {
        let segments: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
        let m = r.method;
        match segments.as_slice() {
            ["health"] => {
                only(m, &[Method::GET], "GET")?;
                Ok(json(StatusCode::OK, &Health { status: "ok" }))
            }
            ["auth"] => {
                only(m, &[Method::GET], "GET")?;
                self.auth(r).await
            }
            [".well-known", "jwks.json"] => {
                only(m, &[Method::GET], "GET")?;
                self.jwks().await
            }
            ["auth", "api", "v1", rest @ ..] => self.route_v1(r, rest).await,
            _ => Err(ApiError::NoRoute),
        }
    }

    async fn route_v1(&self, r: &Req<'_>, rest: &[&str]) -> Reply {
        let m = r.method;
        match rest {
            ["token-info"] => {
                only(m, &[Method::GET], "GET")?;
                self.token_info(r).await
            }
            ["user-info"] => {
                only(m, &[Method::GET], "GET")?;
                self.user_info(r).await
            }
            ["users", username, "tokens"] => match *m {
                Method::GET => self.list_tokens(r, username).await,
                Method::POST => self.create_user_token(r, username).await,
                _ => Err(ApiError::MethodNotAllowed("GET, POST")),
            },
            ["users", username, "tokens", key] => match *m {
                Method::GET => self.get_token(r, username, key).await,
                Method::PATCH => self.modify_token(r, username, key).await,
                Method::DELETE => self.delete_token(r, username, key).await,
                _ => Err(ApiError::MethodNotAllowed("GET, PATCH, DELETE")),
            },
            ["users", username, "token-change-history"] => {
                only(m, &[Method::GET], "GET")?;
                self.history(r, Some(username)).await
            }
            ["tokens"] => {
                only(m, &[Method::POST], "POST")?;
                self.admin_create_token(r).await
            }
            ["history", "token-changes"] => {
                only(m, &[Method::GET], "GET")?;
                self.history(r, None).await
            }
            ["sessions"] => {
                only(m, &[Method::POST], "POST")?;
                self.create_session(r).await
            }
            ["sessions", "refresh"] => {
                only(m, &[Method::POST], "POST")?;
                self.refresh_session(r).await
            }
            ["sessions", "current"] => {
                only(m, &[Method::DELETE], "DELETE")?;
                self.end_session(r).await
            }
            ["api-tokens"] => {
                only(m, &[Method::POST], "POST")?;
                self.create_api_token(r).await
            }
            ["api-tokens", jti] => {
                only(m, &[Method::DELETE], "DELETE")?;
                self.delete_api_token(r, jti).await
            }
            ["admin", "expire"] => {
                only(m, &[Method::POST], "POST")?;
                self.expire(r).await
            }
            ["admin", "audit"] => {
                only(m, &[Method::GET], "GET")?;
                self.audit(r).await
            }
            ["admin", "metrics"] => {
                only(m, &[Method::GET], "GET")?;
                self.metrics(r).await
            }
            _ => Err(ApiError::NoRoute),
        }
    }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// Checks the method (`HEAD` is not served).
fn only(method: &Method, allowed: &[Method], names: &'static str) -> Result<(), ApiError> {
    if allowed.contains(method) {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed(names))
    }
}

/// A JSON response.
pub(crate) fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Vec<u8>> {
    let mut response = Response::new(serde_json::to_vec(value).expect("responses serialize to JSON"));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An empty response.
pub(crate) fn empty(status: StatusCode) -> Response<Vec<u8>> {
    let mut response = Response::new(Vec::new());
    *response.status_mut() = status;
    response
}
