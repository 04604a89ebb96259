//! Files: uploads are checked by their magic bytes, sealed with a per-file data key and written
//! to the blob store; `GET /api/files/{id}` opens them for whoever may see the row (RLS).

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use uuid::Uuid;

use crate::infra::audit::Action;
use crate::infra::auth::Auth;
use crate::infra::crypto::data_keys::{self, Subject};
use crate::infra::db::{Principal, Tx};
use crate::infra::error::{ApiError, ApiResult, OrNotFound};
use crate::infra::extract::{FormUpload, Path, is_multipart};
use crate::infra::sessions::ClientMeta;
use crate::infra::state::AppState;

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

/// PDF names that make a viewer act on its own: run JavaScript, act on opening or on an event,
/// launch a program, carry files, rich media or an XFA form.
const ACTIVE_PDF_NAMES: [&[u8]; 9] = [
    b"JavaScript",
    b"JS",
    b"OpenAction",
    b"AA",
    b"Launch",
    b"EmbeddedFile",
    b"EmbeddedFiles",
    b"RichMedia",
    b"XFA",
];

/// At most this much inflated content is read from a PDF's streams (a flate bomb stops there and
/// the file is refused: what cannot be read cannot be vouched for).
const MAX_INFLATED: u64 = 64 * 1024 * 1024;

/// Whether a PDF carries active content: one of [`ACTIVE_PDF_NAMES`] as a name (`#xx` escapes
/// decoded) in its bytes or in any of its Flate-compressed streams (object streams hold
/// dictionaries too). `None`: a stream could not be inflated within the bound.
pub fn pdf_has_active_content(bytes: &[u8]) -> Option<bool> {
    if names_active(bytes) {
        return Some(true);
    }
    let mut budget = MAX_INFLATED;
    let mut rest = bytes;
    while let Some(at) = find(rest, b"stream") {
        let mut start = at + b"stream".len();
        if rest.get(start) == Some(&b'\r') {
            start += 1;
        }
        if rest.get(start) == Some(&b'\n') {
            start += 1;
        }
        let Some(len) = find(&rest[start..], b"endstream") else {
            break;
        };
        let data = &rest[start..start + len];
        let mut inflated = Vec::new();
        let reader = flate2::read::ZlibDecoder::new(data);
        use std::io::Read as _;
        // Not every stream is Flate (images, fonts): what does not inflate is left as it is.
        if reader.take(budget + 1).read_to_end(&mut inflated).is_ok() || !inflated.is_empty() {
            if inflated.len() as u64 > budget {
                return None;
            }
            budget -= inflated.len() as u64;
            if names_active(&inflated) {
                return Some(true);
            }
        }
        rest = &rest[start + len + b"endstream".len()..];
    }
    Some(false)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn names_active(bytes: &[u8]) -> bool {
    let delimiter = |b: u8| b.is_ascii_whitespace() || b"()<>[]{}/%".contains(&b);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'/' {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        let mut name = Vec::new();
        while j < bytes.len() && !delimiter(bytes[j]) {
            let hex = |k: usize| bytes.get(k).and_then(|c| (*c as char).to_digit(16));
            match (bytes[j], hex(j + 1), hex(j + 2)) {
                (b'#', Some(hi), Some(lo)) => {
                    name.push((hi * 16 + lo) as u8);
                    j += 3;
                }
                (b, _, _) => {
                    name.push(b);
                    j += 1;
                }
            }
        }
        if ACTIVE_PDF_NAMES.contains(&name.as_slice()) {
            return true;
        }
        i = j.max(i + 1);
    }
    false
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request.too_large",
        "A file may be at most 10 MiB.",
    )
}

/// Removes metadata from images — EXIF, XMP, text chunks, comments — so that a photo does not
/// carry where and when it was taken. PDFs are kept as they are. `None`: not a valid image.
pub fn strip_metadata(bytes: &[u8], content_type: &str) -> Option<Vec<u8>> {
    use img_parts::{Bytes, ImageEXIF};
    let input = Bytes::copy_from_slice(bytes);
    match content_type {
        "image/png" => {
            let mut png = img_parts::png::Png::from_bytes(input).ok()?;
            for kind in [*b"tEXt", *b"zTXt", *b"iTXt", *b"eXIf", *b"tIME"] {
                png.remove_chunks_by_type(kind);
            }
            Some(png.encoder().bytes().to_vec())
        }
        "image/jpeg" => {
            let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(input).ok()?;
            // APP1–APP15 (EXIF, XMP, Photoshop, …) and comments; APP0 (JFIF) stays.
            jpeg.segments_mut()
                .retain(|s| !(0xE1..=0xEF).contains(&s.marker()) && s.marker() != 0xFE);
            Some(jpeg.encoder().bytes().to_vec())
        }
        "image/webp" => {
            let mut webp = img_parts::webp::WebP::from_bytes(input).ok()?;
            webp.set_exif(None);
            webp.chunks_mut().retain(|c| c.id() != *b"XMP ");
            Some(webp.encoder().bytes().to_vec())
        }
        _ => Some(bytes.to_vec()),
    }
}

/// A file upload of at most [`MAX_BYTES`] (multipart field `file`, and short text fields).
#[derive(Debug)]
pub struct Upload(pub FormUpload);

impl std::ops::Deref for Upload {
    type Target = FormUpload;

    fn deref(&self) -> &FormUpload {
        &self.0
    }
}

impl<S: Send + Sync> FromRequest<S> for Upload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_multipart(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.unsupported_media_type",
                "Upload files as multipart/form-data with the field `file`.",
            ));
        }
        let upload = FormUpload::read(req, state, "the file", too_large).await?;
        if upload.bytes.len() > MAX_BYTES {
            return Err(too_large());
        }
        Ok(Self(upload))
    }
}

/// What a file is for: decides who may read it (see the `files` policies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A private file of its owner.
    Generic,
    /// A chat attachment: the consultation's two participants.
    ChatAttachment,
    /// A profile picture: anyone signed in.
    Avatar,
    /// A profile cover: anyone signed in.
    Cover,
    /// A company logo: anyone signed in.
    CompanyLogo,
    /// A company cover: anyone signed in.
    CompanyCover,
    /// A practitioner's diploma or registration: the owner and platform admins.
    PractitionerDocument,
    /// A company news item's image: whoever reads the news (its company's members).
    NewsImage,
    /// A blog article's cover: whoever reads the article (anyone once it is published).
    ArticleCover,
}

/// What a file belongs to, besides its owner (decides who else reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    None,
    /// A chat attachment's consultation.
    Consultation(Uuid),
    /// A news item (its image).
    News(Uuid),
    /// An article (its cover).
    Article(Uuid),
}

impl Purpose {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Generic => "GENERIC",
            Purpose::ChatAttachment => "CHAT_ATTACHMENT",
            Purpose::Avatar => "AVATAR",
            Purpose::Cover => "COVER",
            Purpose::CompanyLogo => "COMPANY_LOGO",
            Purpose::CompanyCover => "COMPANY_COVER",
            Purpose::PractitionerDocument => "PRACTITIONER_DOCUMENT",
            Purpose::NewsImage => "NEWS_IMAGE",
            Purpose::ArticleCover => "ARTICLE_COVER",
        }
    }

    /// Pictures shown in profiles and branding are readable by anyone signed in.
    pub fn is_public(self) -> bool {
        matches!(
            self,
            Purpose::Avatar | Purpose::Cover | Purpose::CompanyLogo | Purpose::CompanyCover
        )
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
    link: Link,
    purpose: Purpose,
) -> ApiResult<StoredFile> {
    let (consultation_id, news_id, article_id) = match link {
        Link::None => (None, None, None),
        Link::Consultation(id) => (Some(id), None, None),
        Link::News(id) => (None, Some(id), None),
        Link::Article(id) => (None, None, Some(id)),
    };
    let content_type = sniff(&upload.bytes).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file.unsupported_type",
            "Only PNG, JPEG, WebP and PDF files are accepted.",
        )
    })?;
    if content_type == "application/pdf" && pdf_has_active_content(&upload.bytes) != Some(false) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file.active_content",
            "PDFs with active content (JavaScript, actions on opening, launched programs, embedded \
             files) are refused.",
        ));
    }
    let cleaned = strip_metadata(&upload.bytes, content_type).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file.unsupported_type",
            "The image is damaged or not what it claims to be.",
        )
    })?;
    // A vetting document says what it is (multipart field `kind`, default `OTHER`).
    let document_kind = if purpose == Purpose::PractitionerDocument {
        let kind = upload
            .fields
            .get("kind")
            .map_or("OTHER", |k| k.trim())
            .to_ascii_uppercase();
        if !crate::care::practitioners::model::DOCUMENT_KINDS.contains(&kind.as_str()) {
            return Err(ApiError::invalid_field(
                "kind",
                "must be DIPLOMA, REGISTRATION, IDENTITY, INSURANCE or OTHER",
            ));
        }
        Some(kind)
    } else {
        None
    };
    let id = Uuid::new_v4();
    let storage_key = id.simple().to_string();
    let size = i64::try_from(cleaned.len()).unwrap_or(i64::MAX);
    sqlx::query!(
        r#"INSERT INTO files (id, owner_user_id, company_id, consultation_id, purpose, content_type, size, storage_key, original_name, is_public, document_kind, news_id, article_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"#,
        id,
        owner.user_id,
        if consultation_id.is_some() { None } else { owner.company_id },
        consultation_id,
        purpose.as_str(),
        content_type,
        size,
        &storage_key,
        upload.file_name.as_deref(),
        purpose.is_public(),
        document_kind,
        news_id,
        article_id
    )
    .execute(&mut **tx)
    .await?;
    let key = data_keys::get_or_create(tx, &state.keyring, Subject::File, id).await?;
    let sealed = key.seal("files", "content", id, &cleaned);
    state.store.put(&storage_key, &sealed).await?;
    Ok(StoredFile {
        id,
        url: format!("/api/files/{id}"),
        content_type: content_type.to_owned(),
        size,
    })
}

/// A file row the caller may see, and its data key: what reading it needs.
pub struct Located {
    pub id: Uuid,
    storage_key: String,
    pub content_type: String,
    pub name: Option<String>,
    /// A chat attachment (clinical content: its reads are audited).
    pub in_a_consultation: bool,
    key: data_keys::DataKey,
}

/// Finds a file the caller's transaction may see (RLS), or 404 `file.not_found`.
pub async fn locate(state: &AppState, tx: &mut Tx, id: Uuid) -> ApiResult<Located> {
    let row = sqlx::query!(
        r#"SELECT storage_key AS "storage_key!", content_type AS "content_type!",
             original_name AS "original_name?", consultation_id IS NOT NULL AS "in_a_consultation!"
           FROM files
           WHERE id = $1"#,
        id
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found("file.not_found")?;
    let key = data_keys::find(tx, &state.keyring, Subject::File, id)
        .await?
        .or_not_found("file.not_found")?;
    Ok(Located {
        id,
        storage_key: row.storage_key,
        content_type: row.content_type,
        name: row.original_name,
        in_a_consultation: row.in_a_consultation,
        key,
    })
}

impl Located {
    /// Reads and opens the bytes (after the transaction ended: no lock is held during I/O) and
    /// answers them with `cache_control`.
    pub async fn respond(self, state: &AppState, cache_control: &str) -> ApiResult<Response> {
        let sealed = state.store.get(&self.storage_key).await?;
        let id = self.id;
        let bytes = self
            .key
            .open("files", "content", id, &sealed)
            .map_err(|e| ApiError::internal(format!("file {id}: {e}")))?;
        let disposition = format!(
            "attachment; filename=\"{}\"",
            self.name
                .unwrap_or_else(|| id.to_string())
                .replace(['"', '\\', '\r', '\n'], "_")
        );
        Response::builder()
            .header(header::CONTENT_TYPE, self.content_type)
            .header(header::CONTENT_DISPOSITION, disposition)
            .header("x-content-type-options", "nosniff")
            .header(header::CACHE_CONTROL, cache_control)
            .body(Body::from(bytes.to_vec()))
            .map_err(ApiError::internal)
    }
}

/// Deletes the images of a news item or the covers of an article (`link`), all but `keep`, as
/// far as the caller may (RLS); returns them for [`discard`] once the transaction has committed.
pub async fn detach(tx: &mut Tx, link: Link, keep: Option<Uuid>) -> ApiResult<Vec<(Uuid, String)>> {
    let (news, article) = match link {
        Link::News(id) => (Some(id), None),
        Link::Article(id) => (None, Some(id)),
        Link::None | Link::Consultation(_) => return Ok(Vec::new()),
    };
    Ok(sqlx::query!(
        r#"DELETE FROM files
           WHERE ((purpose = 'NEWS_IMAGE' AND news_id = $1) OR (purpose = 'ARTICLE_COVER' AND article_id = $2))
             AND id IS DISTINCT FROM $3
           RETURNING id, storage_key"#,
        news,
        article,
        keep
    )
    .map(|r| (r.id, r.storage_key))
    .fetch_all(&mut **tx)
    .await?)
}

/// The body limit of upload routes (the server's default is 1 MiB).
pub fn upload_body_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(MAX_BYTES + 256 * 1024)
}

/// Destroys the keys and removes the bytes of deleted files (after their rows' deletion committed).
pub async fn discard(state: &AppState, files: &[(Uuid, String)]) -> ApiResult<()> {
    if files.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = files.iter().map(|(id, _)| *id).collect();
    sqlx::query!(
        r#"UPDATE data_keys SET wrapped_key = NULL, destroyed_at = now()
           WHERE subject_type = 'FILE' AND subject_id = ANY($1)"#,
        &ids
    )
    .execute(&state.db.system)
    .await?;
    for (_, key) in files {
        state.store.delete(key).await?;
    }
    Ok(())
}

/// Download a file you may see.
#[utoipa::path(get, path = "/files/{id}", tag = "files", security(("bearer" = [])),
    responses((status = 200, description = "The file's bytes"), (status = 404, body = crate::infra::error::Problem)))]
pub async fn download_file(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let file = locate(&state, &mut auth.tx, id).await?;
    if file.in_a_consultation {
        // A chat attachment is clinical content: its reads are audited like the messages'.
        // Named by the reader's pseudonym: nothing in the trail pairs the uploader and the reader.
        let pseudonym = state.pseudonyms.of(auth.principal.user_id, id);
        auth.audit(&client, Action::Read, "file", Some(pseudonym), None)
            .await?;
    }
    auth.commit().await?;
    file.respond(&state, "private, no-store").await
}

/// Upload a private file (PNG, JPEG, WebP or PDF, at most 10 MiB), multipart field `file`.
#[utoipa::path(post, path = "/files/upload", tag = "files", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", content = String),
    responses((status = 201, body = StoredFile), (status = 413, body = crate::infra::error::Problem), (status = 415, body = crate::infra::error::Problem)))]
pub async fn upload_file(
    State(state): State<AppState>,
    mut auth: Auth,
    upload: Upload,
) -> ApiResult<(StatusCode, axum::Json<StoredFile>)> {
    let owner = auth.principal.clone();
    let stored = store(
        &state,
        &mut auth.tx,
        &owner,
        &upload,
        Link::None,
        Purpose::Generic,
    )
    .await?;
    auth.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(stored)))
}

/// Delete one of your files: its key is destroyed and its bytes removed.
#[utoipa::path(delete, path = "/files/{id}", tag = "files", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = crate::infra::error::Problem)))]
pub async fn delete_file(
    State(state): State<AppState>,
    mut auth: Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let key: Option<String> = sqlx::query_scalar!(
        r#"DELETE
           FROM files
           WHERE id = $1 AND owner_user_id = app_user_id()
           RETURNING storage_key"#,
        id
    )
    .fetch_optional(&mut *auth.tx)
    .await?;
    let key = key.or_not_found("file.not_found")?;
    auth.commit().await?;
    discard(&state, &[(id, key)]).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stores a picture (the caller then points its profile at the URL, in the same transaction).
pub async fn picture<R: crate::infra::auth::RoleSet>(
    state: &AppState,
    auth: &mut Auth<R>,
    upload: Upload,
    link: Link,
    purpose: Purpose,
) -> ApiResult<StoredFile> {
    let owner = auth.principal.clone();
    if purpose != Purpose::PractitionerDocument && sniff(&upload.bytes) == Some("application/pdf") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "file.unsupported_type",
            "Pictures are PNG, JPEG or WebP.",
        ));
    }
    store(state, &mut auth.tx, &owner, &upload, link, purpose).await
}

macro_rules! picture_routes {
    ($($(#[$doc:meta])* $name:ident: $path:literal, $role:ty, $purpose:expr $(, $sql:literal)?;)+) => {
        $(
            $(#[$doc])*
            #[utoipa::path(post, path = $path, tag = "files", security(("bearer" = [])),
                request_body(content_type = "multipart/form-data", content = String),
                responses((status = 201, body = StoredFile), (status = 413, body = crate::infra::error::Problem),
                          (status = 415, body = crate::infra::error::Problem)))]
            pub async fn $name(State(state): State<AppState>, mut auth: Auth<$role>, upload: Upload) -> ApiResult<(StatusCode, axum::Json<StoredFile>)> {
                let stored = picture(&state, &mut auth, upload, Link::None, $purpose).await?;
                $(sqlx::query!($sql, stored.url).execute(&mut *auth.tx).await?;)?
                auth.commit().await?;
                Ok((StatusCode::CREATED, axum::Json(stored)))
            }
        )+
    };
}

picture_routes! {
    /// The employee's profile picture.
    upload_employee_avatar: "/employees/me/upload-avatar", crate::infra::auth::Employee, Purpose::Avatar,
        "UPDATE employees SET avatar_url = $1 WHERE user_id = app_user_id()";
    /// The employee's profile cover.
    upload_employee_cover: "/employees/me/upload-cover", crate::infra::auth::Employee, Purpose::Cover,
        "UPDATE employees SET cover_url = $1 WHERE user_id = app_user_id()";
    /// The practitioner's profile picture.
    upload_practitioner_avatar: "/practitioners/me/upload-avatar", crate::infra::auth::Practitioner, Purpose::Avatar,
        "UPDATE practitioners SET avatar_url = $1 WHERE user_id = app_user_id()";
    /// The practitioner's profile cover.
    upload_practitioner_cover: "/practitioners/me/upload-cover", crate::infra::auth::Practitioner, Purpose::Cover,
        "UPDATE practitioners SET cover_url = $1 WHERE user_id = app_user_id()";
    /// A vetting document (multipart field `kind`: DIPLOMA, REGISTRATION, IDENTITY, INSURANCE or
    /// OTHER), visible to the practitioner and platform admins. A refused application goes back
    /// to the review queue.
    upload_practitioner_document: "/practitioners/me/upload-documents", crate::infra::auth::Practitioner, Purpose::PractitionerDocument,
        "UPDATE practitioners SET rejected_at = NULL WHERE user_id = app_user_id() AND rejected_at IS NOT NULL AND $1::text IS NOT NULL";
    /// The company's logo.
    upload_company_logo: "/companies/me/upload-logo", crate::infra::auth::HrAdmin, Purpose::CompanyLogo,
        "UPDATE companies SET logo_url = $1 WHERE id = app_company_id()";
    /// The company's cover.
    upload_company_cover: "/companies/me/upload-cover", crate::infra::auth::HrAdmin, Purpose::CompanyCover,
        "UPDATE companies SET cover_url = $1 WHERE id = app_company_id()";
}

/// Routes of this feature (uploads take up to 10 MiB).
pub fn router() -> utoipa_axum::router::OpenApiRouter<AppState> {
    use utoipa_axum::routes;
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(upload_file))
        .routes(routes!(upload_employee_avatar))
        .routes(routes!(upload_employee_cover))
        .routes(routes!(upload_practitioner_avatar))
        .routes(routes!(upload_practitioner_cover))
        .routes(routes!(upload_practitioner_document))
        .routes(routes!(upload_company_logo))
        .routes(routes!(upload_company_cover))
        .route_layer(upload_body_limit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_and_stripping() {
        assert_eq!(sniff(b"%PDF-1.4"), Some("application/pdf"));
        assert_eq!(sniff(b"<svg xmlns"), None);
        assert_eq!(sniff(b"<!DOCTYPE html>"), None);
        // SOI, APP0 JFIF, APP1 EXIF, COM, SOS with data, EOI.
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend_from_slice(&[
            0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
        ]);
        jpeg.extend_from_slice(&[
            0xFF, 0xE1, 0x00, 0x0E, b'E', b'x', b'i', b'f', 0, 0, b'G', b'P', b'S', b'!', b'!',
            b'!',
        ]);
        jpeg.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x07, b'h', b'e', b'l', b'l', b'o']);
        jpeg.extend_from_slice(&[
            0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x12, 0x34, 0xFF, 0xD9,
        ]);
        assert_eq!(sniff(&jpeg), Some("image/jpeg"));
        let cleaned = strip_metadata(&jpeg, "image/jpeg").expect("valid jpeg");
        assert!(
            !cleaned.windows(3).any(|w| w == b"GPS") && !cleaned.windows(5).any(|w| w == b"hello")
        );
        assert!(cleaned.windows(4).any(|w| w == b"JFIF"));
        assert!(
            strip_metadata(b"\x89PNG\r\n\x1a\ngarbage", "image/png").is_none(),
            "a damaged image is refused"
        );
    }
}
