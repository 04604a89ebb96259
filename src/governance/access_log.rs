//! `GET /api/me/access-log`: who read the calling employee's confidential items (their chats, the
//! notes written about them, their chat attachments), and when. Audit rows name those reads by a
//! per-reader pseudonym (`infra::audit::Pseudonyms`), so nothing in the trail pairs two people;
//! here the employee's own items are listed, their pseudonyms for each possible reader computed,
//! and only the matching rows read back (`access_log_reads`, migration 0018).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::infra::auth::{Auth, Employee};
use crate::infra::error::ApiResult;
use crate::infra::extract::ApiQuery;
use crate::infra::identity::Role;
use crate::infra::pagination::{Page, PageQuery};
use crate::infra::state::AppState;

/// One read of one of the caller's items by someone else.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessRead {
    /// When.
    pub read_at: DateTime<Utc>,
    /// The reader's role.
    pub reader_role: Role,
    /// The reader's name (as the caller knows them; `Anonyme` once erased).
    pub reader_name: String,
    /// What was read: `messages` (a page of the chat), `clinical_note` or `file`.
    pub resource: String,
    /// The chat's consultation, the note or the file.
    pub resource_id: Uuid,
    /// The consultation it belongs to.
    pub consultation_id: Uuid,
    /// `socket` when read over Socket.IO, else absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

struct Item {
    resource: &'static str,
    id: Uuid,
    consultation_id: Uuid,
    reader: Uuid,
}

/// Who read the caller's chats, the notes about them and their attachments, newest first. The
/// caller's own reads are not listed.
#[utoipa::path(get, path = "/me/access-log", tag = "gdpr", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<AccessRead>), (status = 403, body = crate::infra::error::Problem)))]
pub async fn list_my_access_log(
    State(state): State<AppState>,
    mut auth: Auth<Employee>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<AccessRead>>> {
    let paging = page.paging()?;
    let mut reads = reads_of_mine(&state, &mut auth.tx).await?;
    auth.commit().await?;
    let total = reads.len() as i64;
    reads.sort_by_key(|r| std::cmp::Reverse(r.read_at));
    let items = reads
        .into_iter()
        .skip(usize::try_from(paging.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(paging.limit()).unwrap_or(0))
        .collect();
    Ok(Json(Page::new(items, total, paging)))
}

/// Every read of the calling employee's items by another person (none for other roles), in the
/// caller's request transaction.
pub async fn reads_of_mine(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
) -> ApiResult<Vec<AccessRead>> {
    let consultations = sqlx::query!(
        r#"SELECT c.id, p.user_id AS practitioner_user,
                  trim(p.first_name || ' ' || p.last_name) AS "name!"
           FROM consultations c JOIN practitioners p ON p.id = c.practitioner_id
           WHERE c.employee_id = app_employee_id()"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut names: HashMap<Uuid, String> = HashMap::new();
    let mut practitioner_of: HashMap<Uuid, Uuid> = HashMap::new();
    let mut items = Vec::new();
    for c in &consultations {
        names.insert(c.practitioner_user, c.name.clone());
        practitioner_of.insert(c.id, c.practitioner_user);
        items.push(Item {
            resource: "messages",
            id: c.id,
            consultation_id: c.id,
            reader: c.practitioner_user,
        });
    }
    let files = sqlx::query!(
        r#"SELECT id, consultation_id AS "consultation_id!" FROM files
           WHERE owner_user_id = app_user_id() AND consultation_id IS NOT NULL"#
    )
    .fetch_all(&mut *tx)
    .await?;
    for f in files {
        if let Some(reader) = practitioner_of.get(&f.consultation_id) {
            items.push(Item {
                resource: "file",
                id: f.id,
                consultation_id: f.consultation_id,
                reader: *reader,
            });
        }
    }
    let notes = sqlx::query!(
        r#"SELECT note_id AS "note_id!", consultation_id AS "consultation_id!",
                  author_user_id AS "author!"
           FROM my_consultation_notes()"#
    )
    .fetch_all(&mut *tx)
    .await?;
    for n in notes {
        items.push(Item {
            resource: "clinical_note",
            id: n.note_id,
            consultation_id: n.consultation_id,
            reader: n.author,
        });
    }
    // Each item under its reader's pseudonym, and under its plain id (rows written before
    // pseudonyms existed).
    let mut wanted: HashMap<(Uuid, String), usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        wanted.insert(
            (
                item.reader,
                state.pseudonyms.of(item.reader, item.id).to_string(),
            ),
            i,
        );
        wanted.insert((item.reader, item.id.to_string()), i);
    }
    let (readers, ids): (Vec<Uuid>, Vec<String>) = wanted.keys().cloned().unzip();
    let rows = sqlx::query!(
        r#"SELECT read_at AS "read_at!", reader_id AS "reader_id!",
                  reader_role AS "reader_role!: Role", resource AS "resource!",
                  resource_id AS "resource_id!", via
           FROM access_log_reads($1, $2)"#,
        &readers,
        &ids
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let item = &items[*wanted.get(&(row.reader_id, row.resource_id))?];
            (item.resource == row.resource).then(|| AccessRead {
                read_at: row.read_at,
                reader_role: row.reader_role,
                reader_name: names
                    .get(&row.reader_id)
                    .cloned()
                    .unwrap_or_else(|| "Anonyme".to_owned()),
                resource: row.resource,
                resource_id: item.id,
                consultation_id: item.consultation_id,
                via: row.via,
            })
        })
        .collect())
}

/// In the caller's own exported audit rows, replaces the pseudonyms of their reads by the ids of
/// what they read (`candidates`: every item id the export shows them).
pub fn reveal_own_reads(
    state: &AppState,
    user_id: Uuid,
    audit_rows: &mut [Value],
    candidates: impl IntoIterator<Item = Uuid>,
) {
    let real: HashMap<String, Uuid> = candidates
        .into_iter()
        .map(|id| (state.pseudonyms.of(user_id, id).to_string(), id))
        .collect();
    for row in audit_rows {
        let Some(pseudonym) = row.get("resourceId").and_then(Value::as_str) else {
            continue;
        };
        if let Some(id) = real.get(pseudonym) {
            row["resourceId"] = Value::String(id.to_string());
        }
    }
}
