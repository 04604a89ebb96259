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

use crate::infra::audit::{Action, Entry};
use crate::infra::auth::{Auth, PlatformStaff};
use crate::infra::backup_files::{BackupDir, LedgerEntry};
use crate::infra::crypto::data_keys;
use crate::infra::error::{ApiError, ApiResult, OrNotFound, Validator};
use crate::infra::extract::{ApiJson, Path};
use crate::infra::fields::required;
use crate::infra::identity::Role;
use crate::infra::sessions::ClientMeta;
use crate::infra::state::AppState;
use crate::people::accounts::step_up::{self, StepUp};

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
    #[schema(pattern = "^[A-Za-z0-9_]{1,50}$")]
    pub kind: String,
    /// The version of the text consented to (at most 20 characters).
    #[schema(min_length = 1, max_length = 20, pattern = "\\S")]
    pub version: String,
    /// `true` gives, `false` withdraws.
    pub given: bool,
}

/// The caller's consent history, newest first.
#[utoipa::path(get, path = "/me/consents", tag = "gdpr", security(("bearer" = [])), responses((status = 200, body = [Consent])))]
pub async fn list_consents(mut auth: Auth) -> ApiResult<Json<Vec<Consent>>> {
    let items = sqlx::query_as!(
        Consent,
        r#"SELECT id, type AS kind, version, given, created_at FROM consents
           WHERE user_id = app_user_id() ORDER BY created_at DESC, id"#
    )
    .fetch_all(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    Ok(Json(items))
}

/// Record a consent or its withdrawal (history is kept).
#[utoipa::path(post, path = "/me/consents", tag = "gdpr", security(("bearer" = [])), request_body = ConsentInput,
    responses((status = 201, body = Consent), (status = 422, body = crate::infra::error::Problem)))]
pub async fn record_consent(
    mut auth: Auth,
    ApiJson(input): ApiJson<ConsentInput>,
) -> ApiResult<(StatusCode, Json<Consent>)> {
    let kind = input.kind.trim().to_uppercase();
    let version = input.version.trim().to_owned();
    let mut v = Validator::new();
    v.check(
        !kind.is_empty()
            && kind.len() <= 50
            && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "type",
        "use a code like TERMS or DATA_PROCESSING",
    );
    v.check(
        !version.is_empty() && version.chars().count() <= 20,
        "version",
        "is required (at most 20 characters)",
    );
    v.finish()?;
    let consent: Consent = sqlx::query_as!(
        Consent,
        r#"INSERT INTO consents (user_id, type, version, given)
           VALUES (app_user_id(), $1, $2, $3)
           RETURNING id, type AS kind, version, given, created_at"#,
        &kind,
        &version,
        input.given
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    if input.given && kind == "DATA_PROCESSING" {
        sqlx::query!(
            r#"UPDATE employees SET consent_given_at = coalesce(consent_given_at, now())
               WHERE user_id = app_user_id()"#
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
    (
        "consultations",
        "SELECT to_jsonb(t) - 'room_name' FROM consultations t",
    ),
    (
        "consultation_events",
        "SELECT to_jsonb(t) FROM consultation_events t",
    ),
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
    (
        "news",
        "SELECT to_jsonb(t) FROM news t WHERE author_id = app_user_id()",
    ),
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
        .chain(super::support::EXPORTED.iter().copied())
        .collect()
}

/// Everything about the caller, as one JSON document (confidential content decrypted for them).
///
/// `exportedAt`, then one key per table in camelCase (`users`, `employees`, `consultations`,
/// `messages`, `clinicalNotes`, `journalEntries`, `auditLogs`, …), each an array of rows with
/// camelCase column names and instants in UTC. Secrets (password, token and code hashes) are left out.
#[utoipa::path(get, path = "/me/export", tag = "gdpr", security(("bearer" = [])), responses((status = 200, body = Object)))]
pub async fn export_my_data(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth,
) -> ApiResult<Json<Value>> {
    let mut document = serde_json::Map::new();
    document.insert("exportedAt".to_owned(), json!(Utc::now()));
    // Dynamic on purpose: one fixed statement per covered table (`COVERED_TABLES`, `SEALED`), so
    // that the export and the test of its coverage (`covered`) read the same list.
    for (table, sql) in COVERED_TABLES {
        let rows: Vec<Value> = sqlx::query_scalar(sqlx::AssertSqlSafe(*sql))
            .fetch_all(&mut *auth.tx)
            .await?;
        document.insert(
            camel_case(table),
            Value::Array(rows.into_iter().map(api_row).collect()),
        );
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
            out.push(api_row(row));
        }
        document.insert(camel_case(table), Value::Array(out));
    }
    let (tickets, replies) = super::support::export_own(&state, &mut auth.tx).await?;
    document.insert(
        "supportTickets".to_owned(),
        Value::Array(tickets.into_iter().map(api_row).collect()),
    );
    document.insert(
        "supportTicketReplies".to_owned(),
        Value::Array(replies.into_iter().map(api_row).collect()),
    );
    // Their own reads of chats, notes and files are stored under their pseudonym: shown here with
    // the real ids. An employee's export also lists who read their items.
    let candidates: Vec<Uuid> = ["consultations", "files", "clinicalNotes"]
        .iter()
        .filter_map(|table| document.get(*table).and_then(Value::as_array))
        .flatten()
        .filter_map(|row| row.get("id").and_then(Value::as_str)?.parse().ok())
        .collect();
    if let Some(Value::Array(rows)) = document.get_mut("auditLogs") {
        super::access_log::reveal_own_reads(&state, auth.principal.user_id, rows, candidates);
    }
    if auth.principal.role == Role::Employee {
        let reads = super::access_log::reads_of_mine(&state, &mut auth.tx).await?;
        document.insert("accessLog".to_owned(), json!(reads));
    }
    auth.audit(
        &client,
        Action::Export,
        "personal_data",
        Some(auth.principal.user_id),
        None,
    )
    .await?;
    auth.commit().await?;
    Ok(Json(Value::Object(document)))
}

/// A row as the rest of the API writes it: column names in camelCase, instants (columns named
/// `…_at`) in UTC with `Z`. Values inside JSON columns are left as stored.
fn api_row(row: Value) -> Value {
    let Value::Object(columns) = row else {
        return row;
    };
    let columns = columns
        .into_iter()
        .map(|(column, value)| {
            let value = match &value {
                Value::String(text) if column.ends_with("_at") => {
                    DateTime::parse_from_rfc3339(text)
                        .map_or(value, |instant| json!(instant.with_timezone(&Utc)))
                }
                _ => value,
            };
            (camel_case(&column), value)
        })
        .collect();
    Value::Object(columns)
}

/// `journal_entries` → `journalEntries`.
fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_consents, record_consent))
        .routes(routes!(export_my_data))
        .routes(routes!(super::access_log::list_my_access_log))
        .routes(routes!(erase_me))
        .routes(routes!(erase_user_account))
}

/// Erases a person, in one transaction on the owner pool (it touches rows no request context may
/// write), then copies the erasure to the ledger beside the backups and applies it to every kept
/// key snapshot (docs/backup.md). What is destroyed and kept, per kind of account: docs/gdpr.md.
pub async fn erase_user(state: &AppState, user_id: Uuid, by: Eraser) -> ApiResult<()> {
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    let erased = erase_in(
        &mut tx,
        user_id,
        by,
        state.settings.clinical_note_retention_years,
        Uuid::new_v4(),
    )
    .await?;
    tx.commit().await?;
    for key in &erased.storage_keys {
        state.store.delete(key).await.ok();
    }
    let backups = BackupDir::new(&state.settings.data_dir);
    let keyring = state.keyring.clone();
    let entry = erased.entry;
    // The database row is the record: if this fails (or the process dies first), the next start
    // copies it to the ledger (`governance::backup::reconcile`).
    match tokio::task::spawn_blocking(move || backups.record(&keyring, &[entry])).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => {
            tracing::error!(error = %format!("{error:#}"), "erasure not yet applied to the backups")
        }
        Err(error) => tracing::error!(%error, "erasure not yet applied to the backups"),
    }
    Ok(())
}

/// What an erasure did, for the caller to finish after the commit.
#[derive(Debug)]
pub struct Erased {
    /// Stored objects to delete.
    pub storage_keys: Vec<String>,
    /// Its ledger entry.
    pub entry: LedgerEntry,
}

/// The erasure itself, in the caller's transaction (owner connection):
/// - everyone: credentials, sessions, tokens, 2FA, notifications and consents removed, email and
///   name replaced, audit rows stripped of address and agent;
/// - an employee: journal, files and the chats of their consultations (keys destroyed), profile
///   anonymised; the practitioners' notes of those consultations stay (their own key);
/// - a practitioner: profile anonymised, files other than chat attachments deleted; the patients'
///   chats stay; the notes' key is sealed: readable by no request, destroyed by the retention job
///   `note_retention_years` later;
/// - both: upcoming consultations cancelled (the slot frees) and the other side told, unnamed.
pub async fn erase_in(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    by: Eraser,
    note_retention_years: u32,
    erasure_id: Uuid,
) -> ApiResult<Erased> {
    let target = sqlx::query!(
        r#"SELECT role FROM users WHERE id = $1 AND erased_at IS NULL FOR UPDATE"#,
        user_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .or_not_found("user.not_found")?;
    let platform = matches!(target.role, Role::AdminHuntzen | Role::SuperAdmin);
    if let Eraser::Admin(actor) = by {
        // ADMIN_HUNTZEN erases employees, practitioners and HR admins; a SUPER_ADMIN erases
        // platform admins (and only them).
        if platform != (actor == Role::SuperAdmin) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "auth.forbidden",
                "Platform admins are erased by a SUPER_ADMIN; other accounts by an ADMIN_HUNTZEN.",
            ));
        }
    }
    if target.role == Role::SuperAdmin && by != Eraser::Replay {
        // Serialises erasures of super admins, so two at once cannot remove the last two.
        sqlx::query!("SELECT pg_advisory_xact_lock(hashtext('huntzen.super_admins'))")
            .execute(&mut *conn)
            .await?;
        let others: i64 = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM users
               WHERE role = 'SUPER_ADMIN' AND erased_at IS NULL AND is_active AND id <> $1"#,
            user_id
        )
        .fetch_one(&mut *conn)
        .await?;
        if others == 0 {
            return Err(ApiError::conflict(
                "user.last_super_admin",
                "The last active SUPER_ADMIN cannot be erased.",
            ));
        }
    }
    let employee: Option<Uuid> = sqlx::query_scalar!(
        r#"SELECT id
           FROM employees
           WHERE user_id = $1"#,
        user_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let practitioner: Option<Uuid> = sqlx::query_scalar!(
        r#"SELECT id
           FROM practitioners
           WHERE user_id = $1"#,
        user_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    // The files that go: everything the person stored, except a practitioner's chat attachments
    // (part of their patients' chats); and every attachment of an erased employee's chats.
    let files: Vec<(Uuid, String)> = sqlx::query!(
        r#"SELECT id AS "id!", storage_key AS "storage_key!"
           FROM files
           WHERE (owner_user_id = $1 AND ($2::uuid IS NULL OR consultation_id IS NULL))
              OR (purpose = 'CHAT_ATTACHMENT'
                  AND consultation_id IN (SELECT id FROM consultations WHERE employee_id = $3))"#,
        user_id,
        practitioner,
        employee
    )
    .map(|r| (r.id, r.storage_key))
    .fetch_all(&mut *conn)
    .await?;
    let file_ids: Vec<Uuid> = files.iter().map(|f| f.0).collect();
    // Keys first: what they protect becomes unreadable whatever happens to the rows. A
    // practitioner's own key (their notes) is sealed instead, below.
    let destroyed_keys: Vec<Uuid> = sqlx::query_scalar!(
        r#"UPDATE data_keys SET wrapped_key = NULL, destroyed_at = now(), sealed_at = NULL,
                  purge_after = NULL
           WHERE destroyed_at IS NULL
             AND ( (subject_type = 'EMPLOYEE' AND subject_id = $1)
                OR (subject_type = 'USER' AND subject_id = $2 AND $3::uuid IS NULL)
                OR (subject_type = 'FILE' AND subject_id = ANY($4))
                OR (subject_type = 'CONSULTATION'
                    AND subject_id IN (SELECT id FROM consultations WHERE employee_id = $1))
                OR (subject_type = 'TICKET'
                    AND subject_id IN (SELECT id FROM support_tickets WHERE creator_id = $2)))
           RETURNING id"#,
        employee,
        user_id,
        practitioner,
        &file_ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let purge_after = Utc::now() + chrono::Duration::days(365 * i64::from(note_retention_years));
    let sealed_keys: Vec<Uuid> = sqlx::query_scalar!(
        r#"UPDATE data_keys SET sealed_at = now(), purge_after = $3
           WHERE subject_type = 'USER' AND subject_id = $1 AND $2::uuid IS NOT NULL
             AND destroyed_at IS NULL AND sealed_at IS NULL
           RETURNING id"#,
        user_id,
        practitioner,
        purge_after
    )
    .fetch_all(&mut *conn)
    .await?;
    // Their upcoming consultations are cancelled (the slots free again) and the other participant
    // told, without a name: the erased person's reason stays theirs.
    sqlx::query!(
        r#"WITH cancelled AS (
             UPDATE consultations SET status = 'CANCELLED', cancelled_at = now(), cancelled_by = $3,
                    cancel_reason = NULL
             WHERE (employee_id = $1 OR practitioner_id = $2) AND status IN ('SCHEDULED', 'CONFIRMED')
               AND scheduled_at > now()
             RETURNING id, employee_id, practitioner_id, scheduled_at
           ), events AS (
             INSERT INTO consultation_events (consultation_id, event_type, actor_id, actor_role, metadata)
             SELECT id, 'CANCELLED', $3, $4, '{"reason": "erasure"}' FROM cancelled
           )
           INSERT INTO notifications (user_id, type, title, message, link_url)
           SELECT other.user_id, 'CONSULTATION_CANCELLED', 'Consultation annulée',
                  'Consultation du ' || to_char(c.scheduled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC',
                  '/consultations/' || c.id
           FROM cancelled c
           JOIN LATERAL (
             SELECT e.user_id FROM employees e WHERE e.id = c.employee_id AND c.employee_id IS DISTINCT FROM $1
             UNION ALL
             SELECT p.user_id FROM practitioners p WHERE p.id = c.practitioner_id AND c.practitioner_id IS DISTINCT FROM $2
           ) other ON true"#,
        employee,
        practitioner,
        user_id,
        target.role
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM refresh_tokens WHERE user_id = $1", user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query!("DELETE FROM one_time_tokens WHERE user_id = $1", user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query!("DELETE FROM recovery_codes WHERE user_id = $1", user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query!("DELETE FROM notifications WHERE user_id = $1", user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query!("DELETE FROM consents WHERE user_id = $1", user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "UPDATE login_sessions SET revoked_at = coalesce(revoked_at, now()), revoked_reason = 'erased', ip_address = NULL, user_agent = NULL WHERE user_id = $1",
        user_id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE messages SET attachment_file_id = NULL WHERE attachment_file_id = ANY($1)",
        &file_ids
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM files WHERE id = ANY($1)", &file_ids)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "UPDATE audit_logs SET ip_address = NULL, user_agent = NULL WHERE user_id = $1",
        user_id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE users SET email = 'erased-' || id || '@erased.invalid', password_hash = NULL, totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL, first_name = NULL, last_name = NULL, is_active = false, email_verified = false, erased_at = now() WHERE id = $1",
        user_id
    )
    .execute(&mut *conn)
    .await?;
    if let Some(employee) = employee {
        sqlx::query!(
            r#"DELETE FROM journal_entries WHERE employee_id = $1"#,
            employee
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query!(
            r#"UPDATE employees SET first_name = 'Anonyme', last_name = '', department = NULL,
                 position = NULL, phone_number = NULL, bio = NULL, avatar_url = NULL,
                 cover_url = NULL, removed_at = coalesce(removed_at, now())
               WHERE id = $1"#,
            employee
        )
        .execute(&mut *conn)
        .await?;
    }
    if let Some(practitioner) = practitioner {
        sqlx::query!(
            r#"UPDATE practitioners SET first_name = 'Anonyme', last_name = '', bio = '',
                 diplomas = '{}', avatar_url = NULL, cover_url = NULL, is_active = false
               WHERE id = $1"#,
            practitioner
        )
        .execute(&mut *conn)
        .await?;
    }
    let entry = sqlx::query!(
        r#"INSERT INTO erasures (id, user_id, destroyed_keys, sealed_keys, purge_after)
           VALUES ($1, $2, $3, $4, $5)
           RETURNING id, erased_at"#,
        erasure_id,
        user_id,
        &destroyed_keys,
        &sealed_keys,
        (!sealed_keys.is_empty()).then_some(purge_after)
    )
    .fetch_one(&mut *conn)
    .await?;
    Entry::new(Action::Delete, "user")
        .target(user_id)
        .details(json!({ "event": "erased", "replayed": by == Eraser::Replay }))
        .record(&mut *conn)
        .await?;
    Ok(Erased {
        storage_keys: files.into_iter().map(|(_, key)| key).collect(),
        entry: LedgerEntry {
            id: entry.id,
            user_id: Some(user_id),
            erased_at: entry.erased_at,
            destroyed_keys,
            purge_after: (!sealed_keys.is_empty()).then_some(purge_after),
            sealed_keys,
        },
    })
}

/// Replays a ledger entry into a restored database: erases the account when the backup brought it
/// back, destroys and seals the keys the entry lists, and records the entry. Returns `false` when
/// the database already knew it.
pub async fn replay(
    conn: &mut sqlx::PgConnection,
    entry: &LedgerEntry,
    note_retention_years: u32,
) -> anyhow::Result<bool> {
    let known: bool = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM erasures WHERE id = $1) AS "known!""#,
        entry.id
    )
    .fetch_one(&mut *conn)
    .await?;
    if known {
        return Ok(false);
    }
    if let Some(user_id) = entry.user_id {
        match erase_in(
            &mut *conn,
            user_id,
            Eraser::Replay,
            note_retention_years,
            entry.id,
        )
        .await
        {
            Ok(_) => {}
            // Created after the backup, or already erased in it.
            Err(error) if error.code() == "user.not_found" => {}
            Err(error) => anyhow::bail!("replaying the erasure {}: {error}", entry.id),
        }
    }
    sqlx::query!(
        r#"UPDATE data_keys SET wrapped_key = NULL, destroyed_at = $2, sealed_at = NULL,
                  purge_after = NULL
           WHERE id = ANY($1) AND destroyed_at IS NULL"#,
        &entry.destroyed_keys,
        entry.erased_at
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"UPDATE data_keys SET sealed_at = $2, purge_after = $3
           WHERE id = ANY($1) AND destroyed_at IS NULL AND sealed_at IS NULL"#,
        &entry.sealed_keys,
        entry.erased_at,
        entry.purge_after.unwrap_or(entry.erased_at)
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"INSERT INTO erasures (id, user_id, erased_at, destroyed_keys, sealed_keys, purge_after)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (id) DO NOTHING"#,
        entry.id,
        entry.user_id,
        entry.erased_at,
        &entry.destroyed_keys,
        &entry.sealed_keys,
        entry.purge_after
    )
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// Who asks for an erasure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eraser {
    /// The person themselves (`DELETE /api/me`).
    Themselves,
    /// A platform admin of this role, on a request received otherwise.
    Admin(Role),
    /// A ledger entry replayed into a restored database (the erasure was authorised when made).
    Replay,
}

/// What an admin erasure carries: why, and the admin's own proof (step-up).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminErasure {
    /// Why (the request received, its date): kept in the audit trail, at most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    /// The admin's current password, and a 2FA code when theirs is on.
    #[serde(flatten)]
    pub step_up: StepUp,
}

/// Erase your account (GDPR), confirmed with your current password (and a 2FA code when it is
/// on). Counters stay as anonymous numbers.
#[utoipa::path(delete, path = "/me", tag = "gdpr", security(("bearer" = [])), request_body = StepUp,
    responses((status = 204), (status = 401, body = crate::infra::error::Problem),
              (status = 409, body = crate::infra::error::Problem)))]
pub async fn erase_me(
    State(state): State<AppState>,
    mut auth: Auth,
    body: Option<ApiJson<StepUp>>,
) -> ApiResult<StatusCode> {
    step_up::confirm(&state, &mut auth, body.as_ref().map(|b| &b.0)).await?;
    let user_id = auth.principal.user_id;
    auth.commit().await?;
    erase_user(&state, user_id, Eraser::Themselves).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Erase a person on a request received otherwise: ADMIN_HUNTZEN for employees, practitioners
/// and HR admins, a SUPER_ADMIN for platform admins (never the last SUPER_ADMIN). Carries a reason
/// and the admin's own step-up proof.
#[utoipa::path(post, path = "/admin-huntzen/users/{id}/erase", tag = "gdpr", security(("bearer" = [])),
    request_body = AdminErasure,
    responses((status = 204), (status = 401, body = crate::infra::error::Problem),
              (status = 404, body = crate::infra::error::Problem), (status = 409, body = crate::infra::error::Problem),
              (status = 422, body = crate::infra::error::Problem)))]
pub async fn erase_user_account(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<PlatformStaff>,
    Path(id): Path<Uuid>,
    body: Option<ApiJson<AdminErasure>>,
) -> ApiResult<StatusCode> {
    step_up::confirm(&state, &mut auth, body.as_ref().map(|b| &b.0.step_up)).await?;
    let mut v = Validator::new();
    let reason = required(
        &mut v,
        "reason",
        body.as_ref()
            .and_then(|b| b.0.reason.as_deref())
            .unwrap_or(""),
        500,
    );
    v.finish()?;
    let actor = auth.principal.role;
    auth.audit(
        &client,
        Action::Delete,
        "user",
        Some(id),
        Some(json!({ "event": "erasure_requested", "reason": reason })),
    )
    .await?;
    // The step-up (a recovery code it spent) and the request's audit row commit first; the
    // erasure itself is one transaction of its own (owner pool), all or nothing.
    auth.commit().await?;
    erase_user(&state, id, Eraser::Admin(actor)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_rows_read_like_the_rest_of_the_api() {
        let row = json!({
            "journal_id": "x",
            "created_at": "2026-11-26T10:14:34.073238+00:00",
            "scheduled_at": "2026-11-26T11:14:34+01:00",
            "status_note": "2026-11-26T10:14:34+00:00",
            "details": { "session_id": "kept" },
            "ended_at": null,
        });
        assert_eq!(
            api_row(row),
            json!({
                "journalId": "x",
                "createdAt": "2026-11-26T10:14:34.073238Z",
                "scheduledAt": "2026-11-26T10:14:34Z",
                "statusNote": "2026-11-26T10:14:34+00:00",
                "details": { "session_id": "kept" },
                "endedAt": null,
            })
        );
        assert_eq!(camel_case("audit_logs"), "auditLogs");
        assert_eq!(camel_case("users"), "users");
    }
}
