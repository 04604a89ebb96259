//! The employee's private journal: their own entries only (RLS), content sealed with their
//! per-employee data key. No other role reaches it by any route.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::infra::auth::Auth;
use crate::infra::auth::Employee;
use crate::infra::crypto::data_keys::{self, Subject};
use crate::infra::error::{ApiError, ApiResult, OrNotFound, Validator};
use crate::infra::extract::{ApiJson, ApiQuery, Path};
use crate::infra::pagination::{Page, PageQuery};
use crate::infra::state::AppState;

/// Mood of an entry (`mood`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "mood", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mood {
    VeryBad,
    Bad,
    Neutral,
    Good,
    VeryGood,
}

/// A journal entry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Entry)] // the published schema name, kept for generated clients
pub struct JournalEntry {
    pub id: Uuid,
    /// `null` once the keys were destroyed by an erasure.
    pub content: Option<String>,
    pub mood: Option<Mood>,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new or rewritten entry.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EntryInput)] // the published schema name, kept for generated clients
pub struct JournalEntryInput {
    /// The entry's text (at most 20,000 characters).
    #[schema(min_length = 1, max_length = 20_000, pattern = "\\S")]
    pub content: String,
    pub mood: Option<Mood>,
    /// At most 20 tags of at most 40 characters (stored lower-cased).
    #[schema(schema_with = tags_schema)]
    pub tags: Option<Vec<String>>,
}

/// `tags`: null, or at most 20 strings of at most 40 characters.
fn tags_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(40)),
        )
        .max_items(Some(20))
        .build()
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: Uuid,
    content: Vec<u8>,
    key_id: Uuid,
    mood: Option<Mood>,
    tags: Vec<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn check(input: &JournalEntryInput) -> ApiResult<(String, Vec<String>)> {
    let text = input.content.trim().to_owned();
    let tags: Vec<String> = input
        .tags
        .iter()
        .flatten()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let mut v = Validator::new();
    v.check(!text.is_empty(), "content", "is required");
    v.check(
        text.chars().count() <= 20_000,
        "content",
        "must have at most 20000 characters",
    );
    // Lengths as sent (lower-casing can lengthen a few letters, e.g. İ).
    let given = input.tags.iter().flatten();
    v.check(
        given.clone().count() <= 20 && given.map(|t| t.trim()).all(|t| t.chars().count() <= 40),
        "tags",
        "at most 20 tags of 40 characters",
    );
    v.finish()?;
    Ok((text, tags))
}

async fn open(
    state: &AppState,
    auth: &mut Auth<Employee>,
    rows: Vec<Row>,
) -> ApiResult<Vec<JournalEntry>> {
    let key = match rows.first() {
        Some(first) => data_keys::by_id(&mut auth.tx, &state.keyring, first.key_id).await?,
        None => None,
    };
    rows.into_iter()
        .map(|row| {
            let content = match &key {
                Some(key) if key.id == row.key_id => {
                    Some(key.open_text("journal_entries", "content", row.id, &row.content)?)
                }
                _ => None,
            };
            Ok(JournalEntry {
                id: row.id,
                content,
                mood: row.mood,
                tags: row.tags,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

fn employee_id(auth: &Auth<Employee>) -> ApiResult<Uuid> {
    auth.principal
        .employee_id
        .or_not_found("employee.not_found")
}

/// Your entries, newest first.
#[utoipa::path(get, path = "/journal", tag = "journal", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<JournalEntry>)))]
pub async fn list_journal_entries(
    State(state): State<AppState>,
    mut auth: Auth<Employee>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<JournalEntry>>> {
    let paging = page.paging()?;
    let rows: Vec<Row> = sqlx::query_as!(
        Row,
        r#"SELECT id, content, key_id, mood, tags, created_at, updated_at
           FROM journal_entries
           WHERE employee_id = app_employee_id()
           ORDER BY created_at DESC, id
           LIMIT $1 OFFSET $2"#,
        paging.limit(),
        paging.offset()
    )
    .fetch_all(&mut *auth.tx)
    .await?;
    let total: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "value!" FROM journal_entries WHERE employee_id = app_employee_id()"#
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    let items = open(&state, &mut auth, rows).await?;
    auth.commit().await?;
    Ok(Json(Page::new(items, total, paging)))
}

/// Write an entry.
#[utoipa::path(post, path = "/journal", tag = "journal", security(("bearer" = [])), request_body = JournalEntryInput,
    responses((status = 201, body = JournalEntry), (status = 422, body = crate::infra::error::Problem)))]
pub async fn create_journal_entry(
    State(state): State<AppState>,
    mut auth: Auth<Employee>,
    ApiJson(input): ApiJson<JournalEntryInput>,
) -> ApiResult<(StatusCode, Json<JournalEntry>)> {
    let (text, tags) = check(&input)?;
    let owner = employee_id(&auth)?;
    let key =
        data_keys::get_or_create(&mut auth.tx, &state.keyring, Subject::Employee, owner).await?;
    let id = Uuid::new_v4();
    let row: Row = sqlx::query_as!(
        Row,
        r#"INSERT INTO journal_entries (id, employee_id, content, key_id, mood, tags)
           VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING id, content, key_id, mood, tags, created_at, updated_at"#,
        id,
        owner,
        key.seal("journal_entries", "content", id, text.as_bytes()),
        key.id,
        input.mood,
        &tags
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    let entry = open(&state, &mut auth, vec![row]).await?.remove(0);
    auth.commit().await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

/// One of your entries.
#[utoipa::path(get, path = "/journal/{id}", tag = "journal", security(("bearer" = [])),
    responses((status = 200, body = JournalEntry), (status = 404, body = crate::infra::error::Problem)))]
pub async fn get_journal_entry(
    State(state): State<AppState>,
    mut auth: Auth<Employee>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<JournalEntry>> {
    let row: Row = sqlx::query_as!(
        Row,
        r#"SELECT id, content, key_id, mood, tags, created_at, updated_at
           FROM journal_entries
           WHERE id = $1"#,
        id
    )
    .fetch_optional(&mut *auth.tx)
    .await?
    .or_not_found("journal_entry.not_found")?;
    let entry = open(&state, &mut auth, vec![row]).await?.remove(0);
    auth.commit().await?;
    Ok(Json(entry))
}

/// Rewrite an entry.
#[utoipa::path(put, path = "/journal/{id}", tag = "journal", security(("bearer" = [])), request_body = JournalEntryInput,
    responses((status = 200, body = JournalEntry), (status = 404, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn update_journal_entry(
    State(state): State<AppState>,
    mut auth: Auth<Employee>,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<JournalEntryInput>,
) -> ApiResult<Json<JournalEntry>> {
    let (text, tags) = check(&input)?;
    let owner = employee_id(&auth)?;
    let key =
        data_keys::get_or_create(&mut auth.tx, &state.keyring, Subject::Employee, owner).await?;
    let row: Row = sqlx::query_as!(
        Row,
        r#"UPDATE journal_entries SET content = $2, key_id = $3, mood = $4, tags = $5
           WHERE id = $1
           RETURNING id, content, key_id, mood, tags, created_at, updated_at"#,
        id,
        key.seal("journal_entries", "content", id, text.as_bytes()),
        key.id,
        input.mood,
        &tags
    )
    .fetch_optional(&mut *auth.tx)
    .await?
    .or_not_found("journal_entry.not_found")?;
    let entry = open(&state, &mut auth, vec![row]).await?.remove(0);
    auth.commit().await?;
    Ok(Json(entry))
}

/// Delete an entry.
#[utoipa::path(delete, path = "/journal/{id}", tag = "journal", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = crate::infra::error::Problem)))]
pub async fn delete_journal_entry(
    mut auth: Auth<Employee>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let done = sqlx::query!(r#"DELETE FROM journal_entries WHERE id = $1"#, id)
        .execute(&mut *auth.tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("journal_entry.not_found"));
    }
    auth.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_journal_entries, create_journal_entry))
        .routes(routes!(
            get_journal_entry,
            update_journal_entry,
            delete_journal_entry
        ))
}
