//! Files: uploads are checked by their magic bytes, sealed with a per-file data key and written
//! to the blob store; `GET /api/files/{id}` opens them for whoever may see the row (RLS).

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use uuid::Uuid;

use crate::auth::Auth;
use crate::crypto::data_keys::{self, Subject};
use crate::db::{Principal, Tx};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Largest upload.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// Recognises PNG, JPEG, WebP and PDF by their first bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xFF\xD8\xFF") {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request.too_large",
        "A file may be at most 10 MiB.",
    )
}

/// A multipart upload: the field `file` and any short text fields.
#[derive(Debug)]
pub struct Upload {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The file's name as sent.
    pub file_name: Option<String>,
    /// Other fields (e.g. `content`, `clientMessageId`).
    pub fields: std::collections::HashMap<String, String>,
}

impl<S: Send + Sync> FromRequest<S> for Upload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
        if !is_multipart {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.unsupported_media_type",
                "Upload files as multipart/form-data with the field `file`.",
            ));
        }
        let malformed = || ApiError::bad_request("request.malformed_multipart", "The multipart body is malformed.");
        let mut multipart = Multipart::from_request(req, state).await.map_err(|_| malformed())?;
        let (mut bytes, mut file_name, mut fields) = (None, None, std::collections::HashMap::new());
        loop {
            let field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
                Err(_) => return Err(malformed()),
            };
            let name = field.name().unwrap_or("").to_owned();
            if name == "file" {
                file_name = field.file_name().map(|n| n.chars().take(200).collect());
                let data = field.bytes().await.map_err(|e| {
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        too_large()
                    } else {
                        malformed()
                    }
                })?;
                bytes = Some(data.to_vec());
            } else if fields.len() < 10 {
                let text = field.text().await.map_err(|_| malformed())?;
                fields.insert(name, text.chars().take(crate::chat::messages::MAX_CHARS + 1).collect());
            }
        }
        let bytes =
            bytes.ok_or_else(|| ApiError::invalid_field("file", "send the file in the multipart field `file`"))?;
        if bytes.len() > MAX_BYTES {
            return Err(too_large());
        }
        Ok(Upload {
            bytes,
            file_name,
            fields,
        })
    }
}

/// A stored file.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredFile {
    pub id: Uuid,
    pub url: String,
    pub content_type: String,
    pub size: i64,
}

/// Seals and stores an upload, in the caller's transaction (RLS decides where it may go).
pub async fn store(
    state: &AppState,
    tx: &mut Tx,
    owner: &Principal,
    upload: &Upload,
    consultation_id: Option<Uuid>,
    purpose: &str,
) -> ApiResult<StoredFile> {
    let content_type = sniff(&upload.bytes).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file.unsupported_type",
            "Only PNG, JPEG, WebP and PDF files are accepted.",
        )
    })?;
    let id = Uuid::new_v4();
    let storage_key = id.simple().to_string();
    let size = i64::try_from(upload.bytes.len()).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO files (id, owner_user_id, company_id, consultation_id, purpose, content_type, size, storage_key, original_name) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(owner.user_id)
    .bind(if consultation_id.is_some() { None } else { owner.company_id })
    .bind(consultation_id)
    .bind(purpose)
    .bind(content_type)
    .bind(size)
    .bind(&storage_key)
    .bind(&upload.file_name)
    .execute(&mut **tx)
    .await?;
    let key = data_keys::get_or_create(tx, &state.keyring, Subject::File, id).await?;
    let sealed = key.seal("files", "content", id, &upload.bytes);
    state.store.put(&storage_key, &sealed).await?;
    Ok(StoredFile {
        id,
        url: format!("/api/files/{id}"),
        content_type: content_type.to_owned(),
        size,
    })
}

/// Download a file you may see.
#[utoipa::path(get, path = "/files/{id}", tag = "files", security(("bearer" = [])),
    responses((status = 200, description = "The file's bytes"), (status = 404, body = crate::error::Problem)))]
pub async fn download(State(state): State<AppState>, mut auth: Auth, Path(id): Path<Uuid>) -> ApiResult<Response> {
    let row: Option<(String, String, Option<String>)> =
        sqlx::query_as("SELECT storage_key, content_type, original_name FROM files WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *auth.tx)
            .await?;
    let (storage_key, content_type, name) = row.ok_or_else(|| ApiError::not_found("file.not_found"))?;
    let key = data_keys::find(&mut auth.tx, &state.keyring, Subject::File, id)
        .await?
        .ok_or_else(|| ApiError::not_found("file.not_found"))?;
    auth.commit().await?;
    let sealed = state.store.get(&storage_key).await?;
    let bytes = key
        .open("files", "content", id, &sealed)
        .map_err(|e| ApiError::internal(format!("file {id}: {e}")))?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        name.unwrap_or_else(|| id.to_string())
            .replace(['"', '\\', '\r', '\n'], "_")
    );
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_DISPOSITION, disposition)
        .header("x-content-type-options", "nosniff")
        .header(header::CACHE_CONTROL, "private, no-store")
        .body(Body::from(bytes.to_vec()))
        .map_err(ApiError::internal)
}
