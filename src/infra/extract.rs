//! Body, query and path extractors whose rejections use the API's error format: malformed JSON is
//! a 400, a well-formed body of the wrong shape a 422 naming the field, a wrong media type a 415, a
//! body over the limit a 413, a path segment that does not parse (an id that is not a UUID) a 422
//! naming the parameter.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::infra::error::{ApiError, FieldError};

/// A JSON request body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.unsupported_media_type",
                "Expected `Content-Type: application/json`.",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON, mapping syntax errors to 400 and shape errors to 422 with the field's path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, so that a malformed body is a 400 even when its start has the wrong shape.
    if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err() {
        return Err(ApiError::bad_request(
            "request.malformed_json",
            "The request body is not valid JSON.",
        ));
    }
    if let Some(field) = nul_in_json(bytes) {
        return Err(nul_refused(field));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let message = error.inner().to_string();
        let path = error.path().to_string();
        let field = match path.as_str() {
            // A missing field is reported on its parent: name the field itself.
            "." => missing_field(&message).unwrap_or_default(),
            _ => match missing_field(&message) {
                Some(child) => format!("{path}.{child}"),
                None => path,
            },
        };
        let message = readable(message.split(" at line ").next().unwrap_or(&message));
        ApiError::validation(vec![FieldError { field, message }])
    })
}

/// PostgreSQL cannot store U+0000 in text, so no text input may hold it: refused up front, naming
/// the field, instead of failing at the database. Syntax is already checked, so every backslash
/// starts an escape; the body is parsed into a tree only when one is `\u0000`.
fn nul_in_json(bytes: &[u8]) -> Option<String> {
    let mut i = 0;
    let mut found = false;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'u') && bytes.get(i + 2..i + 6) == Some(b"0000") {
                found = true;
                break;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    if !found {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    Some(nul_path(&value, String::new()).unwrap_or_default())
}

/// The path (`tags[1]`, `profile.bio`) of the first key or string holding U+0000.
fn nul_path(value: &serde_json::Value, path: String) -> Option<String> {
    match value {
        serde_json::Value::String(text) => text.contains('\0').then_some(path),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| nul_path(item, format!("{path}[{index}]"))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if key.contains('\0') {
                Some(child)
            } else {
                nul_path(item, child)
            }
        }),
        _ => None,
    }
}

fn nul_refused(field: String) -> ApiError {
    ApiError::validation(vec![FieldError {
        field,
        message: String::from("must not contain the NUL character (U+0000)"),
    }])
}

/// serde's messages, with the two terse ones made explicit: serde_json's "expected value" (a number
/// or a boolean where a string enum was expected) and chrono's parse errors.
fn readable(message: &str) -> String {
    const CHRONO: &[&str] = &[
        "input contains invalid characters",
        "premature end of input",
        "trailing input",
        "input is out of range",
        "input is not enough for unique date and time",
        "no possible date and time matching input",
        "bad or unsupported format string",
    ];
    if message == "expected value" {
        "expected one of this field's values, as a string".to_owned()
    } else if CHRONO.contains(&message) {
        format!(
            "{message}: instants are RFC 3339 (2026-01-15T09:00:00Z), dates YYYY-MM-DD, months YYYY-MM, times HH:MM"
        )
    } else {
        message.to_owned()
    }
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Maps a body read failure: over the size limit → 413, anything else → 400.
pub fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request.too_large",
            "The request body is too large.",
        )
    } else {
        ApiError::bad_request(
            "request.unreadable_body",
            "The request body could not be read.",
        )
    }
}

/// Query-string parameters; a bad value is a 422 naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        // U+0000 can only arrive percent-encoded: decode only then, to name the parameter.
        if query.contains("%00")
            && let Some((key, _)) = form_urlencoded::parse(query.as_bytes())
                .find(|(key, value)| key.contains('\0') || value.contains('\0'))
        {
            return Err(nul_refused(key.into_owned()));
        }
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|error| {
                ApiError::validation(vec![FieldError {
                    field: error.path().to_string(),
                    message: error.inner().to_string(),
                }])
            })
    }
}

/// Path parameters; a segment that does not parse is a 422 naming the parameter (axum's own
/// rejection is a `text/plain` 400). Named `Path` like axum's because utoipa documents a handler's
/// path parameters from an argument of a type named `Path`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        if parts.uri.path().contains("%00") {
            return Err(nul_refused(String::from("path")));
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(PathRejection::FailedToDeserializePathParams(error)) => {
                let field = match error.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::DeserializeError { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key } => key.clone(),
                    _ => String::from("path"),
                };
                let message = if std::any::type_name::<T>().contains("Uuid") {
                    "must be a UUID"
                } else {
                    "is not a valid value"
                };
                Err(ApiError::validation(vec![FieldError {
                    field,
                    message: message.to_owned(),
                }]))
            }
            Err(_) => Err(ApiError::internal(
                "route and handler disagree on path parameters",
            )),
        }
    }
}

/// Longest text field of a multipart body that is kept (longer ones are cut here): more than any
/// feature accepts, so each feature's own length check still sees a value that is too long.
pub const MAX_TEXT_FIELD_CHARS: usize = 10_000;

/// Whether the request's body is `multipart/form-data`.
pub fn is_multipart(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// A `multipart/form-data` body read whole: the field `file` and up to ten short text fields.
#[derive(Debug)]
pub struct FormUpload {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The file's name as sent (at most 200 characters).
    pub file_name: Option<String>,
    /// Other fields (e.g. `content`, `clientMessageId`), each cut at [`MAX_TEXT_FIELD_CHARS`].
    pub fields: std::collections::HashMap<String, String>,
}

impl FormUpload {
    /// Reads the body. `what` names the file in the message when the field `file` is missing
    /// (`"the CSV"`); `too_large` is the caller's answer when the body passes its size limit.
    pub async fn read<S: Send + Sync>(
        req: Request,
        state: &S,
        what: &str,
        too_large: fn() -> ApiError,
    ) -> Result<Self, ApiError> {
        let malformed = || {
            ApiError::bad_request(
                "request.malformed_multipart",
                "The multipart body is malformed.",
            )
        };
        let failed = |e: axum::extract::multipart::MultipartError| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                malformed()
            }
        };
        let mut multipart = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(|_| malformed())?;
        let (mut bytes, mut file_name, mut fields) = (None, None, std::collections::HashMap::new());
        while let Some(field) = multipart.next_field().await.map_err(failed)? {
            let name = field.name().unwrap_or("").to_owned();
            if name == "file" {
                file_name = field.file_name().map(|n| n.chars().take(200).collect());
                bytes = Some(field.bytes().await.map_err(failed)?.to_vec());
            } else if fields.len() < 10 {
                let text = field.text().await.map_err(|_| malformed())?;
                fields.insert(name, text.chars().take(MAX_TEXT_FIELD_CHARS).collect());
            }
        }
        let bytes = bytes.ok_or_else(|| {
            ApiError::invalid_field("file", format!("send {what} in the multipart field `file`"))
        })?;
        Ok(Self {
            bytes,
            file_name,
            fields,
        })
    }
}

/// For `Option<Option<T>>` fields of partial updates: absent → `None` (unchanged),
/// `null` → `Some(None)` (cleared), a value → `Some(Some(value))`.
/// Use with `#[serde(default, deserialize_with = "crate::infra::extract::patch")]`.
pub fn patch<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// Applies a partial-update field to its current value.
pub fn apply<T>(current: &mut Option<T>, change: Option<Option<T>>) {
    if let Some(value) = change {
        *current = value;
    }
}

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    /// No `Content-Type` (an empty body) is `None`; anything else must be valid JSON.
    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if req.headers().get(header::CONTENT_TYPE).is_none() {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terse_shape_errors_say_what_is_expected() {
        #[derive(Debug, serde::Deserialize)]
        enum Mood {
            Good,
        }
        #[derive(Debug, serde::Deserialize)]
        #[expect(dead_code, reason = "only the error matters")]
        struct Body {
            mood: Option<Mood>,
            at: Option<chrono::DateTime<chrono::Utc>>,
        }
        let message = |body: &str| match parse_json::<Body>(body.as_bytes()) {
            Err(error) => format!("{error:?}"),
            Ok(body) => panic!("accepted {body:?}"),
        };
        assert!(
            message(r#"{"mood": 3}"#).contains("expected one of this field's values, as a string")
        );
        assert!(
            message(r#"{"at": "garbage"}"#)
                .contains("instants are RFC 3339 (2026-01-15T09:00:00Z)")
        );
    }

    #[test]
    fn nul_is_found_only_in_text_and_named_by_its_path() {
        assert_eq!(nul_in_json(br#"{"a": "plain", "b": [1, "x"]}"#), None);
        // An escaped backslash followed by the letters u0000 is text, not U+0000.
        assert_eq!(nul_in_json(br#"{"a": "\\u0000"}"#), None);
        assert_eq!(
            nul_in_json(br#"{"tags": ["ok", "a\u0000"]}"#).as_deref(),
            Some("tags[1]")
        );
        assert_eq!(
            nul_in_json(br#"{"p": {"bio": "\\\u0000"}}"#).as_deref(),
            Some("p.bio")
        );
        assert_eq!(nul_in_json(br#"{"k\u0000": 1}"#).as_deref(), Some("k\u{0}"));
        assert_eq!(nul_in_json(br#""\u0000""#).as_deref(), Some(""));
    }
}
