//! `ApiError` is the only error a handler returns. It renders as RFC 9457 problem details
//! (`application/problem+json`) with a stable `code` that clients may switch on; the catalogue of
//! codes is `docs/errors.md`. A 5xx never carries internals: the cause is logged, not sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// A row that must exist for the caller: `None` becomes a 404 with `code` (the same answer whether
/// the row does not exist or RLS hides it, so nothing leaks about other tenants' rows).
pub trait OrNotFound<T> {
    /// The value, or [`ApiError::not_found`] with `code`.
    fn or_not_found(self, code: &'static str) -> ApiResult<T>;
}

impl<T> OrNotFound<T> for Option<T> {
    fn or_not_found(self, code: &'static str) -> ApiResult<T> {
        self.ok_or_else(|| ApiError::not_found(code))
    }
}

/// One invalid input field of a 422 answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, in the request's own naming (camelCase, dotted for nested fields).
    pub field: String,
    /// What is wrong, for a human.
    pub message: String,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after_secs: Option<u64>,
}

/// The problem+json body, as documented in the OpenAPI document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Always `about:blank`: `code` carries the meaning.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The HTTP status text.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// Stable machine-readable code, e.g. `auth.invalid_credentials`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub detail: String,
    /// Field errors (422 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    /// An error with the given status, code and detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_secs: None,
        }
    }

    /// 400: the body could not be read.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 401 with the given code.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    /// 403: authenticated, but this role may not use the route.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "auth.forbidden",
            "Your role does not allow this action.",
        )
    }

    /// 404: unknown, or not yours (existence is never revealed).
    pub fn not_found(code: &'static str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code,
            "The resource does not exist or is not accessible.",
        )
    }

    /// 409: the resource is not in a state that allows this.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 422 with field errors.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation.failed",
            "Some fields are invalid; see `errors`.",
        );
        error.errors = errors;
        error
    }

    /// 422 for one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many attempts; retry later.",
        );
        error.retry_after_secs = Some(retry_after_secs.max(1));
        error
    }

    /// 500: logs the cause, answers without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "An unexpected error occurred.",
        )
    }

    /// 503: a dependency (the database) is not available.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service.unavailable",
            detail,
        );
        error.retry_after_secs = Some(2);
        error
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    fn problem(&self) -> Problem {
        Problem {
            kind: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            code: self.code,
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            let code = db.code().unwrap_or_default();
            // The server is shutting down, restarting, out of connections, or the connection
            // broke: nothing is wrong with the request; retrying shortly is.
            if code.starts_with("08") || code.starts_with("57P") || code == "53300" {
                tracing::warn!(code = %code, "database unavailable");
                return Self::unavailable("The database is unavailable; retry shortly.");
            }
            match db.code().as_deref() {
                // A row-level-security or privilege refusal on a write: the row is not yours.
                Some("42501") => return Self::not_found("resource.not_found"),
                Some("23505") => {
                    return Self::conflict("resource.duplicate", "This resource already exists.");
                }
                // Text holding U+0000 that no extractor refused first (the extractors name the field).
                Some("22021") => {
                    return Self::validation(vec![FieldError {
                        field: String::new(),
                        message: String::from("text must not contain the NUL character (U+0000)"),
                    }]);
                }
                _ => {}
            }
            // Never log the error's detail: PostgreSQL puts row values there ("Failing row contains …").
            return Self::internal(format!(
                "database error {} on {} (constraint {:?}): {}",
                db.code().unwrap_or_default(),
                db.table().unwrap_or("?"),
                db.constraint(),
                db.message()
            ));
        }
        if matches!(
            error,
            sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
        ) {
            tracing::warn!(%error, "database unreachable");
            return Self::unavailable("The database is unavailable; retry shortly.");
        }
        if matches!(error, sqlx::Error::PoolTimedOut) {
            tracing::error!(%error, "database pool exhausted");
            return Self::unavailable("The service is overloaded; retry shortly.");
        }
        Self::internal(error)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        Self::internal(format!("{error:#}"))
    }
}

/// Collects field errors, then fails with one 422 listing all of them.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `message` for `field` unless `ok`.
    pub fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) -> &mut Self {
        if !ok {
            self.errors.push(FieldError {
                field: field.to_owned(),
                message: message.into(),
            });
        }
        self
    }

    /// `Ok` when every check passed.
    pub fn finish(self) -> ApiResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

/// A plausible email address: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && email.len() <= 254
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}
