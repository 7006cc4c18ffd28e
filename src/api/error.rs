//! The one mapping from errors to the wire: status, `WWW-Authenticate`, and the
//! Gafaelfawr-shaped body `{"detail": [{"loc"?, "msg", "type"}]}`.
//!
//! The wire message is generic for anything that could leak internals (storage, locks); the
//! specific reason goes to the host's log through [`ApiError::log_line`].

use http::{header, HeaderValue, StatusCode};
use serde::Serialize;

use crate::error::{Error, RequestError, SessionError};

/// Everything a request can fail with, as the HTTP layer sees it.
#[derive(Debug)]
pub enum ApiError {
    /// No credentials at all.
    Unauthenticated,
    /// The caller lacks scopes (for `/auth`).
    InsufficientScope(Vec<String>),
    /// The body is not JSON.
    MalformedJson(String),
    /// The body is JSON of the wrong shape; `loc` names where.
    Validation { loc: Vec<String>, msg: String },
    /// No such route.
    NoRoute,
    /// The route exists but not with this method.
    MethodNotAllowed(String),
    /// The body exceeds the limit.
    TooLarge(usize),
    /// A failure of the core.
    Core(Error),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Core(e)
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        ApiError::Core(e.into())
    }
}

#[derive(Serialize)]
struct Detail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    loc: Option<&'a [String]>,
    msg: String,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct Body<'a> {
    detail: [Detail<'a>; 1],
}

/// A rendered error response.
pub struct ErrorResponse {
    pub status: StatusCode,
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
    pub body: Vec<u8>,
}

impl ApiError {
    /// Status and stable type of this error.
    pub fn status_and_kind(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "invalid_token"),
            ApiError::InsufficientScope(_) => (StatusCode::FORBIDDEN, "permission_denied"),
            ApiError::MalformedJson(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::Validation { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
            ApiError::NoRoute => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "invalid_request"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request"),
            // Which JWT rule failed is for the log; the client learns the token is not valid.
            ApiError::Core(Error::Jwt(e)) if is_key_problem(e) => (StatusCode::INTERNAL_SERVER_ERROR, "config_error"),
            ApiError::Core(Error::Jwt(_)) => (StatusCode::UNAUTHORIZED, "invalid_token"),
            ApiError::Core(e) => (core_status(e), e.kind()),
        }
    }

    /// What the client is told: specific for input errors, generic for internal ones.
    fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated => "authentication required".into(),
            ApiError::InsufficientScope(scopes) => {
                format!("token does not have the required scopes: {}", scopes.join(" "))
            }
            ApiError::MalformedJson(e) => format!("request body is not valid JSON: {e}"),
            ApiError::Validation { msg, .. } => msg.clone(),
            ApiError::NoRoute => "no such resource".into(),
            ApiError::MethodNotAllowed(allowed) => format!("method not allowed; allowed: {allowed}"),
            ApiError::TooLarge(limit) => format!("request body larger than {limit} bytes"),
            ApiError::Core(Error::Store(_)) => "storage is unavailable, try again".into(),
            ApiError::Core(Error::Config(_)) => "the service is misconfigured".into(),
            ApiError::Core(Error::Lock(_)) => "the service is busy, try again".into(),
            ApiError::Core(Error::Parse(_) | Error::Jwt(_)) => "token is not valid".into(),
            ApiError::Core(e) => e.to_string(),
        }
    }

    /// A line for the host's log; never contains a token or a secret.
    pub fn log_line(&self) -> String {
        match self {
            ApiError::Core(e) => format!("{}: {e}", e.kind()),
            other => other.message(),
        }
    }

    pub fn render(&self, realm: &str) -> ErrorResponse {
        let (status, kind) = self.status_and_kind();
        let loc = match self {
            ApiError::Validation { loc, .. } if !loc.is_empty() => Some(loc.as_slice()),
            _ => None,
        };
        let body = serde_json::to_vec(&Body { detail: [Detail { loc, msg: self.message(), kind }] })
            .expect("error bodies serialize");
        let mut headers = vec![(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))];
        let challenge = match self {
            ApiError::Unauthenticated => Some(format!("Bearer realm=\"{realm}\"")),
            ApiError::InsufficientScope(scopes) => {
                Some(format!("Bearer realm=\"{realm}\", error=\"insufficient_scope\", scope=\"{}\"", scopes.join(" ")))
            }
            _ if status == StatusCode::UNAUTHORIZED => {
                Some(format!("Bearer realm=\"{realm}\", error=\"invalid_token\""))
            }
            _ => None,
        };
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.push((header::WWW_AUTHENTICATE, value));
        }
        if let ApiError::MethodNotAllowed(allowed) = self {
            if let Ok(value) = HeaderValue::from_str(allowed) {
                headers.push((header::ALLOW, value));
            }
        }
        ErrorResponse { status, headers, body }
    }
}

fn core_status(e: &Error) -> StatusCode {
    match e {
        Error::Parse(_) => StatusCode::UNAUTHORIZED,
        Error::Request(r) => match r {
            RequestError::InvalidToken => StatusCode::UNAUTHORIZED,
            RequestError::PermissionDenied(_) => StatusCode::FORBIDDEN,
            RequestError::NotFound => StatusCode::NOT_FOUND,
            RequestError::DuplicateTokenName { .. }
            | RequestError::InvalidScopes(_)
            | RequestError::InvalidExpires(_)
            | RequestError::InvalidMinimumLifetime(_)
            | RequestError::InvalidUsername(_)
            | RequestError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        },
        Error::Session(s) => match s {
            SessionError::LimitReached { .. } => StatusCode::CONFLICT,
            SessionError::WrongTokenType { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            SessionError::NoAuthDisabled => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        },
        Error::Store(_) | Error::Lock(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Config(_) => StatusCode::INTERNAL_SERVER_ERROR,
        Error::Jwt(e) if is_key_problem(e) => StatusCode::INTERNAL_SERVER_ERROR,
        Error::Jwt(_) => StatusCode::UNAUTHORIZED,
    }
}

/// JWT failures that are the service's keys or claims, not the caller's token.
fn is_key_problem(e: &crate::jwt::JwtError) -> bool {
    matches!(e.kind(), "invalid_key" | "invalid_claims" | "no_signing_key")
}
