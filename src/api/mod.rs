//! The HTTP API of SPEC section 8, framework-neutral: an [`http::Request`] with its body in,
//! an [`http::Response`] out. Every host (Worker, component, native) serves exactly this.

mod admin;
mod auth;
mod error;
mod extract;
mod routes;
mod sessions;
mod tokens;

use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use serde::Serialize;

pub use error::ApiError;
use extract::Query;
use routes::Endpoint;
pub use routes::{routes, OPENAPI_JSON};

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

/// Attached to a response that depends on nothing but the request's method, path and query, the
/// values of the [`Reusable::VARY`] request headers, the clock, and the KV keys its handling
/// read. A host that sees every write to its KV (`portcullis serve` on its embedded store: its
/// own writes, and other processes' through SQLite's data version) may give the same response to
/// the same request for up to `millis` without asking the API again, as long as none of those
/// keys has been written since before the request that made it.
///
/// Only `GET /auth` sets it: when it answers 200 for an opaque token and delegates nothing. The
/// window never reaches past the token's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reusable {
    pub millis: u32,
}

impl Reusable {
    /// The longest window: a bound on what an unforeseen dependency could cost, not a lag
    /// (revocation is seen at once).
    pub const MAX_MILLIS: u32 = 1000;
    /// The request headers the answer depends on, lowercase: the credential, and the browser
    /// marks that refuse the bootstrap token.
    pub const VARY: &'static [&'static str] = &["authorization", "origin", "sec-fetch-site"];
}

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
        let (endpoint, [p0, p1]) = routes::resolve(r.method, r.path)?;
        match endpoint {
            Endpoint::Health => Ok(json(StatusCode::OK, &Health { status: "ok" })),
            Endpoint::OpenApi => Ok(openapi()),
            Endpoint::Jwks => self.jwks().await,
            Endpoint::Auth => self.auth(r).await,
            Endpoint::TokenInfo => self.token_info(r).await,
            Endpoint::UserInfo => self.user_info(r).await,
            Endpoint::ListTokens => self.list_tokens(r, p0).await,
            Endpoint::CreateUserToken => self.create_user_token(r, p0).await,
            Endpoint::GetToken => self.get_token(r, p0, p1).await,
            Endpoint::ModifyToken => self.modify_token(r, p0, p1).await,
            Endpoint::DeleteToken => self.delete_token(r, p0, p1).await,
            Endpoint::UserHistory => self.history(r, Some(p0)).await,
            Endpoint::AdminCreateToken => self.admin_create_token(r).await,
            Endpoint::History => self.history(r, None).await,
            Endpoint::CreateSession => self.create_session(r).await,
            Endpoint::RefreshSession => self.refresh_session(r).await,
            Endpoint::EndSession => self.end_session(r).await,
            Endpoint::CreateApiToken => self.create_api_token(r).await,
            Endpoint::DeleteApiToken => self.delete_api_token(r, p0).await,
            Endpoint::Expire => self.expire(r).await,
            Endpoint::Audit => self.audit(r).await,
            Endpoint::Metrics => self.metrics(r).await,
        }
    }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// The OpenAPI document of this API (static: the same for every deployment).
fn openapi() -> Response<Vec<u8>> {
    let mut response = Response::new(OPENAPI_JSON.as_bytes().to_vec());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
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
