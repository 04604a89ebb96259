//! GDPR: consents (`/api/me/consents`, history kept) and the data export (`/api/me/export`):
//! every row about the caller, read under their own RLS context, confidential content decrypted
//! for them. `COVERED_TABLES` names what the export walks; a test checks it against every table
//! with a foreign key to users, employees or practitioners.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::audit::{Action, Entry};
use crate::auth::Auth;
use crate::auth::session::ClientMeta;
use crate::crypto::data_keys;
use crate::error::{ApiResult, Validator};
use crate::extract::ApiJson;
use crate::state::AppState;

/// A consent given or withdrawn.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    pub id: Uuid,
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    pub version: String,
    pub given: bool,
    pub created_at: DateTime<Utc>,
}

/// A consent decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// What is consented to, e.g. `TERMS`, `DATA_PROCESSING`, `JOURNAL`.
    #[serde(rename = "type")]
    pub kind: String,
    pub version: String,
    /// `true` gives, `false` withdraws.
    pub given: bool,
}

/// The caller's consent history, newest first.
#[utoipa::path(get, path = "/me/consents", tag = "gdpr", security(("bearer" = [])), responses((status = 200, body = [Consent])))]
pub async fn consents(mut auth: Auth) -> ApiResult<Json<Vec<Consent>>> {
    let items = sqlx::query_as("SELECT id, type, version, given, created_at FROM consents WHERE user_id = app_user_id() ORDER BY created_at DESC, id")
        .fetch_all(&mut *auth.tx)
        .await?;
    auth.commit().await?;
    Ok(Json(items))
}

/// Record a consent or its withdrawal (history is kept).
#[utoipa::path(post, path = "/me/consents", tag = "gdpr", security(("bearer" = [])), request_body = ConsentInput,
    responses((status = 201, body = Consent), (status = 422, body = crate::error::Problem)))]
pub async fn record_consent(
    mut auth: Auth,
    ApiJson(input): ApiJson<ConsentInput>,
) -> ApiResult<(StatusCode, Json<Consent>)> {
    let kind = input.kind.trim().to_uppercase();
    let version = input.version.trim().to_owned();
    let mut v = Validator::new();
    v.check(
        !kind.is_empty() && kind.len() <= 50 && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "type",
        "use a code like TERMS or DATA_PROCESSING",
    );
    v.check(
        !version.is_empty() && version.len() <= 20,
        "version",
        "is required (at most 20 characters)",
    );
    v.finish()?;
    let consent: Consent = sqlx::query_as(
        "INSERT INTO consents (user_id, type, version, given) VALUES (app_user_id(), $1, $2, $3) RETURNING id, type, version, given, created_at",
    )
    .bind(&kind)
    .bind(&version)
    .bind(input.given)
    .fetch_one(&mut *auth.tx)
    .await?;
    if input.given && kind == "DATA_PROCESSING" {
        sqlx::query(
            "UPDATE employees SET consent_given_at = coalesce(consent_given_at, now()) WHERE user_id = app_user_id()",
        )
        .execute(&mut *auth.tx)
        .await?;
    }
    auth.commit().await?;
    Ok((StatusCode::CREATED, Json(consent)))
}

/// Tables the export covers, each with the query of the caller's rows (run under their RLS).
pub const COVERED_TABLES: &[(&str, &str)] = &[
    (
        "users",
        "SELECT to_jsonb(t) - 'password_hash' - 'totp_secret' FROM users t WHERE id = app_user_id()",
    ),
    (
        "employees",
        "SELECT to_jsonb(t) FROM employees t WHERE user_id = app_user_id()",
    ),
    (
        "practitioners",
        "SELECT to_jsonb(t) FROM practitioners t WHERE user_id = app_user_id()",
    ),
    (
        "login_sessions",
        "SELECT to_jsonb(t) FROM login_sessions t WHERE user_id = app_user_id()",
    ),
    (
        "refresh_tokens",
        "SELECT to_jsonb(t) - 'token_hash' FROM refresh_tokens t WHERE user_id = app_user_id()",
    ),
    (
        "one_time_tokens",
        "SELECT to_jsonb(t) - 'token_hash' FROM one_time_tokens t WHERE user_id = app_user_id()",
    ),
    (
        "recovery_codes",
        "SELECT to_jsonb(t) - 'code_hash' FROM recovery_codes t WHERE user_id = app_user_id()",
    ),
    (
        "availabilities",
        "SELECT to_jsonb(t) FROM availabilities t WHERE practitioner_id = app_practitioner_id()",
    ),
    ("consultations", "SELECT to_jsonb(t) - 'room_name' FROM consultations t"),
    ("consultation_events", "SELECT to_jsonb(t) FROM consultation_events t"),
    (
        "files",
        "SELECT to_jsonb(t) - 'storage_key' FROM files t WHERE owner_user_id = app_user_id()",
    ),
    (
        "notifications",
        "SELECT to_jsonb(t) FROM notifications t WHERE user_id = app_user_id()",
    ),
    (
        "consents",
        "SELECT to_jsonb(t) FROM consents t WHERE user_id = app_user_id()",
    ),
    (
        "audit_logs",
        "SELECT to_jsonb(t) FROM audit_logs t WHERE user_id = app_user_id()",
    ),
    ("news", "SELECT to_jsonb(t) FROM news t WHERE author_id = app_user_id()"),
    (
        "articles",
        "SELECT to_jsonb(t) FROM articles t WHERE author_id = app_user_id()",
    ),
];

/// Confidential tables, exported decrypted: (table, query of id, key id, sealed content, extra json).
const SEALED: &[(&str, &str)] = &[
    (
        "messages",
        "SELECT id, key_id, content, to_jsonb(t) - 'content' FROM messages t",
    ),
    (
        "clinical_notes",
        "SELECT id, key_id, content, to_jsonb(t) - 'content' FROM clinical_notes t WHERE practitioner_id = app_practitioner_id()",
    ),
    (
        "journal_entries",
        "SELECT id, key_id, content, to_jsonb(t) - 'content' FROM journal_entries t WHERE employee_id = app_employee_id()",
    ),
];

/// Every table the export covers (plain and decrypted).
pub fn covered() -> Vec<&'static str> {
    COVERED_TABLES
        .iter()
        .map(|(t, _)| *t)
        .chain(SEALED.iter().map(|(t, _)| *t))
        .collect()
}

/// Everything about the caller, as one JSON document (confidential content decrypted for them).
#[utoipa::path(get, path = "/me/export", tag = "gdpr", security(("bearer" = [])), responses((status = 200, body = Object)))]
pub async fn export(State(state): State<AppState>, client: ClientMeta, mut auth: Auth) -> ApiResult<Json<Value>> {
    let mut document = serde_json::Map::new();
    document.insert("exportedAt".to_owned(), json!(Utc::now()));
    for (table, sql) in COVERED_TABLES {
        let rows: Vec<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(*sql))
            .fetch_all(&mut *auth.tx)
            .await?;
        document.insert((*table).to_owned(), Value::Array(rows));
    }
    for (table, sql) in SEALED {
        let rows: Vec<(Uuid, Uuid, Vec<u8>, Value)> = sqlx::query_as(sqlx::AssertSqlSafe(*sql))
            .fetch_all(&mut *auth.tx)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, key_id, sealed, mut row) in rows {
            let content = match data_keys::by_id(&mut auth.tx, &state.keyring, key_id).await? {
                Some(key) => Some(key.open_text(table, "content", id, &sealed)?),
                None => None,
            };
            row["content"] = json!(content);
            out.push(row);
        }
        document.insert((*table).to_owned(), Value::Array(out));
    }
    let actor = auth.principal.clone();
    Entry::new(Action::Export, "personal_data")
        .by(actor.user_id, actor.role, actor.company_id)
        .target(actor.user_id)
        .from_client(&client)
        .record(&mut auth.tx)
        .await?;
    auth.commit().await?;
    Ok(Json(Value::Object(document)))
}

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(consents, record_consent))
        .routes(routes!(export))
}
