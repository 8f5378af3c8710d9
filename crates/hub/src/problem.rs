//! RFC 9457 problem details: the one error shape of the whole API.
//!
//! Every error leaves the hub as `application/problem+json`, including the ones axum
//! produces itself (malformed JSON, wrong types, oversized bodies, unknown routes, wrong
//! methods): extractors go through [`ApiJson`]/[`ApiQuery`] whose rejections convert into
//! a [`Problem`], and [`problemize`] rewrites any other error response that slipped
//! through without a problem body. Bad input is a 4xx with a `detail` that says what was
//! wrong, never a 500.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use erpbridge_provider::{ErrorKind, ProviderError};
use serde::Serialize;
use std::time::Duration;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem detail object. `type` is a relative URI naming the kind of problem, stable
/// for clients to branch on; `detail` is for people.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Extension members (RFC 9457 §3.2), e.g. `retry_after_seconds`, `tenants`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
    #[serde(skip)]
    retry_after: Option<Duration>,
    #[serde(skip)]
    www_authenticate: bool,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        Problem {
            kind: format!("/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            instance: None,
            extensions: serde_json::Map::new(),
            retry_after: None,
            www_authenticate: false,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }
    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", detail)
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let mut p = Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail);
        p.www_authenticate = true;
        p
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
    pub fn unavailable(detail: impl Into<String>, retry_after: Duration) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail).retry_after(retry_after)
    }
    pub fn rate_limited(detail: impl Into<String>, retry_after: Duration) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", detail).retry_after(retry_after)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }

    /// Adds a `Retry-After` header (whole seconds, rounded up, at least 1).
    pub fn retry_after(mut self, after: Duration) -> Self {
        let secs = retry_after_secs(after);
        self.retry_after = Some(Duration::from_secs(secs));
        self.extensions
            .insert("retry_after_seconds".into(), secs.into());
        self
    }

    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        if let Ok(value) = serde_json::to_value(value) {
            self.extensions.insert(key.to_owned(), value);
        }
        self
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

pub fn retry_after_secs(after: Duration) -> u64 {
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    secs.max(1)
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(after) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&after.as_secs().to_string())
        {
            headers.insert(header::RETRY_AFTER, value);
        }
        if self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"erpbridge\""),
            );
        }
        response
    }
}

/// What a provider error means for an HTTP client. Unavailable (circuit open, queue
/// full, connector offline) is a 503 the client may retry after a while; a transient
/// upstream failure is a 502 with a short retry hint; a fatal one a 502 without.
impl From<ProviderError> for Problem {
    fn from(error: ProviderError) -> Self {
        match error.kind {
            ErrorKind::NotFound => Problem::not_found(error.message),
            ErrorKind::Unavailable => Problem::unavailable(
                format!("the ERP is not accepting work right now: {}", error.message),
                error.retry_after.unwrap_or(Duration::from_secs(1)),
            ),
            ErrorKind::Transient => Problem::new(
                StatusCode::BAD_GATEWAY,
                "upstream-transient",
                format!("the ERP call failed, retrying may help: {}", error.message),
            )
            .retry_after(error.retry_after.unwrap_or(Duration::from_secs(1))),
            ErrorKind::Fatal => Problem::new(
                StatusCode::BAD_GATEWAY,
                "upstream-refused",
                format!("the ERP refused the call: {}", error.message),
            ),
        }
    }
}

impl From<JsonRejection> for Problem {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let slug = match &rejection {
            JsonRejection::JsonDataError(_) => "invalid-body",
            JsonRejection::JsonSyntaxError(_) => "malformed-json",
            JsonRejection::MissingJsonContentType(_) => "unsupported-media-type",
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => "body-too-large",
            _ => "bad-body",
        };
        Problem::new(status, slug, rejection.body_text())
    }
}

impl From<QueryRejection> for Problem {
    fn from(rejection: QueryRejection) -> Self {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for Problem {
    fn from(rejection: PathRejection) -> Self {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-path",
            rejection.body_text(),
        )
    }
}

/// `axum::Json` whose rejection is a [`Problem`].
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(Problem))]
pub struct ApiJson<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` whose rejection is a [`Problem`].
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Problem))]
pub struct ApiQuery<T>(pub T);

/// `axum::extract::Path` whose rejection is a [`Problem`].
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub struct ApiPath<T>(pub T);

/// Response mapper for the whole router: an error status without a problem body (axum's
/// 405, a timeout layer's 408, a panic caught as 500...) gets one, so clients see a
/// single error format.
pub async fn problemize(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, 16 * 1024).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let detail = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned()
    } else {
        text
    };
    let slug = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body-too-large",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::NOT_FOUND => "not-found",
        s if s.is_server_error() => "internal",
        _ => "bad-request",
    };
    let mut problem = Problem::new(status, slug, detail).into_response();
    // Keep headers such as `Allow` on a 405.
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem
}

/// The router's fallback: unknown paths are a 404 problem.
pub async fn route_not_found(uri: axum::http::Uri) -> Problem {
    Problem::not_found(format!("no route for `{}`", uri.path()))
}
