//! What can go wrong in the Worker before the core sees a request, and its one mapping to the
//! wire. (Everything after that is the core's `ApiError`, mapped by the core.)

use http::{header, HeaderValue, StatusCode};

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A var or secret is missing or invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The KV namespace or D1 database binding is missing.
    #[error("binding {0} is missing from wrangler.toml")]
    Binding(&'static str),
    /// D1 has not had every migration this build needs.
    #[error("database schema version {applied} is older than the {needed} this build needs")]
    SchemaBehind { applied: i64, needed: i64 },
    /// D1 could not be read at start.
    #[error("storage: {0}")]
    Storage(String),
    /// The runtime handed over a request the core's types cannot hold.
    #[error("unreadable request: {0}")]
    BadRequest(String),
}

impl HostError {
    fn status(&self) -> StatusCode {
        match self {
            HostError::Config(_) | HostError::Binding(_) => StatusCode::INTERNAL_SERVER_ERROR,
            HostError::SchemaBehind { .. } | HostError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            HostError::BadRequest(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The wire message: generic, except that an outdated schema says what to do.
    fn wire(&self) -> (&'static str, String) {
        match self {
            HostError::Config(_) | HostError::Binding(_) => ("misconfigured", "the service is misconfigured".into()),
            HostError::SchemaBehind { applied, needed } => (
                "schema_outdated",
                format!(
                    "database schema version {applied} is older than {needed}: apply the D1 migrations \
                     (wrangler d1 migrations apply)"
                ),
            ),
            HostError::Storage(_) => ("storage_unavailable", "storage is unavailable".into()),
            HostError::BadRequest(_) => ("invalid_request", "the request could not be read".into()),
        }
    }

    /// The response, in the core's error shape (`{"detail": [{"msg", "type"}]}`).
    pub fn response(&self) -> http::Response<Vec<u8>> {
        let (kind, msg) = self.wire();
        let body = serde_json::json!({ "detail": [{ "msg": msg, "type": kind }] });
        let mut response = http::Response::new(body.to_string().into_bytes());
        *response.status_mut() = self.status();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}
