//! Clinical notes: written and read only by the practitioner of the consultation (RLS), sealed
//! with the consultation's data key; every read is audit-logged (who, which note, when — no content).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::infra::audit::Action;
use crate::infra::auth::Auth;
use crate::infra::auth::{Deletable, Practitioner};
use crate::infra::crypto::data_keys::{self, Subject};
use crate::infra::error::{ApiError, ApiResult, OrNotFound, Validator};
use crate::infra::extract::{ApiJson, Path};
use crate::infra::sessions::ClientMeta;
use crate::infra::state::AppState;

/// Longest note, in characters.
pub const MAX_CHARS: usize = 50_000;

/// A clinical note, for its author.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub id: Uuid,
    pub consultation_id: Uuid,
    pub practitioner_id: Uuid,
    /// `null` once the consultation's keys were destroyed by an erasure.
    pub content: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new note.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateNote {
    pub consultation_id: Uuid,
    pub content: String,
}

/// A note's text.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteContent {
    pub content: String,
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: Uuid,
    consultation_id: Uuid,
    practitioner_id: Uuid,
    content: Vec<u8>,
    key_id: Uuid,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn check(content: &str) -> ApiResult<String> {
    let text = content.trim().to_owned();
    let mut v = Validator::new();
    v.check(!text.is_empty(), "content", "is required");
    v.check(
        text.chars().count() <= MAX_CHARS,
        "content",
        format!("must have at most {MAX_CHARS} characters"),
    );
    v.finish()?;
    Ok(text)
}

async fn open(state: &AppState, auth: &mut Auth<Practitioner>, row: Row) -> ApiResult<Note> {
    let content = match data_keys::by_id(&mut auth.tx, &state.keyring, row.key_id).await? {
        Some(key) => Some(key.open_text("clinical_notes", "content", row.id, &row.content)?),
        None => None,
    };
    Ok(Note {
        id: row.id,
        consultation_id: row.consultation_id,
        practitioner_id: row.practitioner_id,
        content,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

async fn audit_read(
    state: &AppState,
    auth: &mut Auth<Practitioner>,
    client: &ClientMeta,
    note: Uuid,
) -> ApiResult<()> {
    let pseudonym = state.pseudonyms.of(auth.principal.user_id, note);
    auth.audit(client, Action::Read, "clinical_note", Some(pseudonym), None)
        .await?;
    Ok(())
}

async fn create_note(
    state: &AppState,
    mut auth: Auth<Practitioner>,
    consultation_id: Uuid,
    content: &str,
) -> ApiResult<(StatusCode, Json<Note>)> {
    let text = check(content)?;
    let practitioner_id = auth
        .principal
        .practitioner_id
        .or_not_found("practitioner.not_found")?;
    let mine: bool = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM consultations WHERE id = $1 AND practitioner_id = $2) AS "value!""#,
        consultation_id,
        practitioner_id
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    if !mine {
        return Err(ApiError::not_found("consultation.not_found"));
    }
    // The author's key, never the consultation's: a patient's erasure destroys the chat, not the
    // practitioner's records.
    let author = auth.principal.user_id;
    let key = data_keys::get_or_create(&mut auth.tx, &state.keyring, Subject::User, author).await?;
    let id = Uuid::new_v4();
    let row: Row = sqlx::query_as!(
        Row,
        r#"INSERT INTO clinical_notes (id, consultation_id, practitioner_id, content, key_id)
           VALUES ($1, $2, $3, $4, $5)
           RETURNING id, consultation_id, practitioner_id, content, key_id, created_at, updated_at"#,
        id,
        consultation_id,
        practitioner_id,
        key.seal("clinical_notes", "content", id, text.as_bytes()),
        key.id
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    let note = open(state, &mut auth, row).await?;
    auth.commit().await?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// Write a note on one of your consultations.
#[utoipa::path(post, path = "/clinical-notes", tag = "clinical-notes", security(("bearer" = [])), request_body = CreateNote,
    responses((status = 201, body = Note), (status = 404, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn create_clinical_note(
    State(state): State<AppState>,
    auth: Auth<Practitioner>,
    ApiJson(body): ApiJson<CreateNote>,
) -> ApiResult<(StatusCode, Json<Note>)> {
    create_note(&state, auth, body.consultation_id, &body.content).await
}

/// The same, with the consultation in the path.
#[utoipa::path(post, path = "/consultations/{id}/notes", tag = "clinical-notes", security(("bearer" = [])), request_body = NoteContent,
    responses((status = 201, body = Note), (status = 404, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn create_consultation_note(
    State(state): State<AppState>,
    auth: Auth<Practitioner>,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<NoteContent>,
) -> ApiResult<(StatusCode, Json<Note>)> {
    create_note(&state, auth, id, &body.content).await
}

/// Your notes on a consultation (each read is audit-logged).
#[utoipa::path(get, path = "/clinical-notes/consultation/{consultationId}", tag = "clinical-notes", security(("bearer" = [])),
    responses((status = 200, body = [Note]), (status = 404, body = crate::infra::error::Problem)))]
pub async fn list_consultation_notes(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<Practitioner>,
    Path(consultation_id): Path<Uuid>,
) -> ApiResult<Json<Vec<Note>>> {
    let visible: bool = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM consultations WHERE id = $1 AND practitioner_id = app_practitioner_id()) AS "value!""#,
        consultation_id
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    if !visible {
        return Err(ApiError::not_found("consultation.not_found"));
    }
    let rows: Vec<Row> = sqlx::query_as!(
        Row,
        r#"SELECT id, consultation_id, practitioner_id, content, key_id, created_at, updated_at
           FROM clinical_notes
           WHERE consultation_id = $1
           ORDER BY created_at, id"#,
        consultation_id
    )
    .fetch_all(&mut *auth.tx)
    .await?;
    let mut notes = Vec::with_capacity(rows.len());
    for row in rows {
        audit_read(&state, &mut auth, &client, row.id).await?;
        notes.push(open(&state, &mut auth, row).await?);
    }
    auth.commit().await?;
    Ok(Json(notes))
}

/// Rewrite a note.
#[utoipa::path(put, path = "/clinical-notes/{id}", tag = "clinical-notes", security(("bearer" = [])), request_body = NoteContent,
    responses((status = 200, body = Note), (status = 404, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn update_clinical_note(
    State(state): State<AppState>,
    mut auth: Auth<Practitioner>,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<NoteContent>,
) -> ApiResult<Json<Note>> {
    let text = check(&body.content)?;
    sqlx::query_scalar!(
        r#"SELECT consultation_id FROM clinical_notes WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut *auth.tx)
    .await?
    .or_not_found("clinical_note.not_found")?;
    let author = auth.principal.user_id;
    let key = data_keys::get_or_create(&mut auth.tx, &state.keyring, Subject::User, author).await?;
    let row: Row = sqlx::query_as!(
        Row,
        r#"UPDATE clinical_notes SET content = $2, key_id = $3
           WHERE id = $1
           RETURNING id, consultation_id, practitioner_id, content, key_id, created_at, updated_at"#,
        id,
        key.seal("clinical_notes", "content", id, text.as_bytes()),
        key.id
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    let note = open(&state, &mut auth, row).await?;
    auth.commit().await?;
    Ok(Json(note))
}

/// What `delete` removes.
const CLINICAL_NOTE: Deletable = Deletable {
    table: "clinical_notes",
    resource: "clinical_note",
    not_found: "clinical_note.not_found",
};

/// Delete a note.
#[utoipa::path(delete, path = "/clinical-notes/{id}", tag = "clinical-notes", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = crate::infra::error::Problem)))]
pub async fn delete_clinical_note(
    client: ClientMeta,
    mut auth: Auth<Practitioner>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    auth.delete_audited(&client, &CLINICAL_NOTE, id).await?;
    auth.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_clinical_note))
        .routes(routes!(create_consultation_note))
        .routes(routes!(list_consultation_notes))
        .routes(routes!(update_clinical_note, delete_clinical_note))
}

/// Moves the notes written before author keys (sealed under their consultation's key) to their
/// author's key, in committed batches; a note whose consultation key is already destroyed stays
/// as it is (unreadable). Runs at every start and finds nothing once done.
pub async fn reseal_legacy_notes(
    system: &sqlx::PgPool,
    keyring: &crate::infra::crypto::Keyring,
) -> anyhow::Result<u64> {
    let mut moved = 0;
    loop {
        let mut tx = crate::infra::db::context::begin(system).await?;
        let rows = sqlx::query!(
            r#"SELECT n.id, n.content, k.id AS key_id, k.wrapped_key AS "wrapped_key!",
                      p.user_id AS author
               FROM clinical_notes n
               JOIN data_keys k ON k.id = n.key_id
               JOIN practitioners p ON p.id = n.practitioner_id
               WHERE k.subject_type = 'CONSULTATION' AND k.wrapped_key IS NOT NULL
               ORDER BY n.id
               LIMIT 200
               FOR UPDATE OF n SKIP LOCKED"#
        )
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        // Re-sealing is not an edit: `updated_at` keeps the author's last change. Fixed text
        // (DDL is not preparable); the trigger is back on at commit.
        sqlx::raw_sql("ALTER TABLE clinical_notes DISABLE TRIGGER clinical_notes_updated_at")
            .execute(&mut *tx)
            .await?;
        for row in rows {
            let old = data_keys::unwrap(keyring, row.key_id, &row.wrapped_key)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let text = old
                .open("clinical_notes", "content", row.id, &row.content)
                .map_err(|e| anyhow::anyhow!("opening clinical note {}: {e}", row.id))?;
            let key = data_keys::get_or_create(&mut tx, keyring, Subject::User, row.author)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            sqlx::query!(
                "UPDATE clinical_notes SET content = $2, key_id = $3 WHERE id = $1",
                row.id,
                key.seal("clinical_notes", "content", row.id, &text),
                key.id
            )
            .execute(&mut *tx)
            .await?;
            moved += 1;
        }
        sqlx::raw_sql("ALTER TABLE clinical_notes ENABLE TRIGGER clinical_notes_updated_at")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    if moved > 0 {
        tracing::info!(moved, "clinical notes moved to their author's key");
    }
    Ok(moved)
}
