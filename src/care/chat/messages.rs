//! Chat messages: stored sealed with the consultation's data key (bound to the message id), read
//! and written under the caller's RLS context — so only the two participants ever reach them.
//! Used by the REST routes and by the Socket.IO `/chat` namespace alike.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::care::scheduling::model::Status;
use crate::infra::crypto::Keyring;
use crate::infra::crypto::data_keys::{self, Subject};
use crate::infra::db::{Principal, Tx};
use crate::infra::error::{ApiError, ApiResult, OrNotFound, Validator};
use crate::infra::identity::Role;

/// Longest message, in characters.
pub const MAX_CHARS: usize = 5000;
const _: () = assert!(
    MAX_CHARS < crate::infra::extract::MAX_TEXT_FIELD_CHARS,
    "a caption sent with a file must reach the length check whole enough to fail it"
);

/// A file attached to a message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub id: Uuid,
    /// `GET` it with a bearer token.
    pub url: String,
    pub content_type: String,
    pub size: i64,
}

/// The brief's `attachmentType` of a stored file: `pdf` or `image`.
fn attachment_kind(content_type: &str) -> &'static str {
    if content_type == "application/pdf" {
        "pdf"
    } else {
        "image"
    }
}

/// A message as its participants see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: Uuid,
    pub consultation_id: Uuid,
    pub sender_id: Uuid,
    pub sender_role: Role,
    /// The text (`null` once its keys were destroyed by an erasure).
    pub content: Option<String>,
    pub client_message_id: Option<String>,
    /// Position in the consultation (1, 2, …): commit order, no gaps; replay cursors use it.
    pub seq: i64,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    pub attachment: Option<Attachment>,
    /// The brief's name for `attachment.url`.
    pub attachment_url: Option<String>,
    /// The brief's kind of attachment: `image` or `pdf`.
    pub attachment_type: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: Uuid,
    consultation_id: Uuid,
    sender_id: Uuid,
    sender_role: Role,
    content: Vec<u8>,
    key_id: Uuid,
    client_message_id: Option<String>,
    seq: i64,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
    attachment_file_id: Option<Uuid>,
    attachment_type: Option<String>,
    attachment_size: Option<i64>,
}

async fn decrypt(tx: &mut Tx, keyring: &Keyring, rows: Vec<Row>) -> ApiResult<Vec<Message>> {
    let mut keys: std::collections::HashMap<Uuid, Option<data_keys::DataKey>> =
        std::collections::HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if let std::collections::hash_map::Entry::Vacant(slot) = keys.entry(row.key_id) {
            slot.insert(data_keys::by_id(tx, keyring, row.key_id).await?);
        }
        let content = match keys.get(&row.key_id).and_then(Option::as_ref) {
            Some(key) => Some(key.open_text("messages", "content", row.id, &row.content)?),
            None => None,
        };
        let attachment = match (
            row.attachment_file_id,
            row.attachment_type,
            row.attachment_size,
        ) {
            (Some(id), Some(content_type), Some(size)) => Some(Attachment {
                id,
                url: format!("/api/files/{id}"),
                content_type,
                size,
            }),
            _ => None,
        };
        let (attachment_url, attachment_type) = match &attachment {
            Some(file) => (
                Some(file.url.clone()),
                Some(attachment_kind(&file.content_type).to_owned()),
            ),
            None => (None, None),
        };
        out.push(Message {
            id: row.id,
            consultation_id: row.consultation_id,
            sender_id: row.sender_id,
            sender_role: row.sender_role,
            content,
            client_message_id: row.client_message_id,
            seq: row.seq,
            created_at: row.created_at,
            read_at: row.read_at,
            attachment,
            attachment_url,
            attachment_type,
        });
    }
    Ok(out)
}

/// The consultation's status and end, if the caller takes part in it (else 404).
async fn consultation(
    tx: &mut Tx,
    id: Uuid,
) -> ApiResult<(Status, DateTime<Utc>, Option<DateTime<Utc>>)> {
    sqlx::query!(
        r#"SELECT status, add_minutes(scheduled_at, duration) AS "planned_end!", ended_at
           FROM consultations
           WHERE id = $1"#,
        id
    )
    .map(|r| (r.status, r.planned_end, r.ended_at))
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found("consultation.not_found")
}

/// 404 unless the caller takes part in the consultation (reading is always open to them).
pub async fn ensure_participant(tx: &mut Tx, id: Uuid) -> ApiResult<()> {
    consultation(tx, id).await.map(drop)
}

/// Sending is open from booking until 7 days after the end; never on CANCELLED or NO_SHOW.
pub async fn ensure_open(tx: &mut Tx, id: Uuid) -> ApiResult<()> {
    let (status, planned_end, ended_at) = consultation(tx, id).await?;
    if is_closed(status, planned_end, ended_at) {
        return Err(closed());
    }
    Ok(())
}

fn is_closed(status: Status, planned_end: DateTime<Utc>, ended_at: Option<DateTime<Utc>>) -> bool {
    match status {
        Status::Cancelled | Status::NoShow => true,
        Status::Completed => Utc::now() > ended_at.unwrap_or(planned_end) + Duration::days(7),
        _ => false,
    }
}

fn closed() -> ApiError {
    ApiError::conflict(
        "chat.closed",
        "This conversation is closed to new messages.",
    )
}

/// What sending needs, in one round trip: the consultation's state (404 when the caller does not
/// take part) and its data key's row, when it has one.
async fn for_sending(tx: &mut Tx, id: Uuid) -> ApiResult<(bool, Option<(Uuid, Option<Vec<u8>>)>)> {
    let row = sqlx::query!(
        r#"SELECT c.status, add_minutes(c.scheduled_at, c.duration) AS "planned_end!", c.ended_at,
             k.id AS "key_id?", k.wrapped_key AS "wrapped?"
           FROM consultations c
             LEFT
           JOIN data_keys k ON k.subject_type = 'CONSULTATION' AND k.subject_id = c.id
           WHERE c.id = $1"#,
        id
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found("consultation.not_found")?;
    Ok((
        is_closed(row.status, row.planned_end, row.ended_at),
        row.key_id.map(|key| (key, row.wrapped)),
    ))
}

/// Checks a message text.
pub fn check_content(content: &str, attachment: bool) -> ApiResult<String> {
    let text = content.trim().to_owned();
    let mut v = Validator::new();
    v.check(attachment || !text.is_empty(), "content", "is required");
    v.check(
        text.chars().count() <= MAX_CHARS,
        "content",
        format!("must have at most {MAX_CHARS} characters"),
    );
    v.finish()?;
    Ok(text)
}

/// Stores a message (sealed). With a `client_message_id` already used by this sender in this
/// consultation, nothing is stored and the first message is returned with `false`.
pub async fn send(
    tx: &mut Tx,
    keyring: &Keyring,
    sender: &Principal,
    consultation_id: Uuid,
    content: &str,
    client_message_id: Option<&str>,
    attachment: Option<Uuid>,
) -> ApiResult<(Message, bool)> {
    let content = check_content(content, attachment.is_some())?;
    let client_message_id = client_message_id.map(str::trim).filter(|c| !c.is_empty());
    let mut v = Validator::new();
    v.check(
        client_message_id.is_none_or(|c| c.len() <= 100),
        "clientMessageId",
        "must have at most 100 characters",
    );
    v.finish()?;
    let (closed_now, key_row) = for_sending(tx, consultation_id).await?;
    if closed_now {
        // A retry of a message stored while it was open still gets its first answer.
        if let Some(client_id) = client_message_id
            && let Some(first) =
                by_client_id(tx, keyring, consultation_id, sender.user_id, client_id).await?
        {
            return Ok((first, false));
        }
        return Err(closed());
    }
    let key = match key_row {
        Some((id, Some(wrapped))) => data_keys::unwrap(keyring, id, &wrapped)?,
        // No key yet (the first message), or a destroyed one (which this reports).
        _ => data_keys::get_or_create(tx, keyring, Subject::Consultation, consultation_id).await?,
    };
    let id = Uuid::new_v4();
    let sealed = key.seal("messages", "content", id, content.as_bytes());
    let stored = sqlx::query!(
        r#"INSERT INTO messages (id, consultation_id, sender_id, sender_role, content, key_id, client_message_id, attachment_file_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (consultation_id, sender_id, client_message_id) DO NOTHING
           RETURNING created_at, seq"#,
        id,
        consultation_id,
        sender.user_id,
        sender.role,
        sealed,
        key.id,
        client_message_id,
        attachment
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(stored) = stored else {
        // Already stored by an earlier try (the `messages_seq` trigger skips the retry).
        let client_id = client_message_id.unwrap_or_default();
        let first = by_client_id(tx, keyring, consultation_id, sender.user_id, client_id).await?;
        return first
            .map(|m| (m, false))
            .ok_or_else(|| ApiError::internal("message vanished"));
    };
    if attachment.is_some() {
        // The file's type and size come from its row.
        return Ok((one(tx, keyring, id).await?, true));
    }
    // Everything else is known here: no reload (and no second key lookup) per message.
    let message = Message {
        id,
        consultation_id,
        sender_id: sender.user_id,
        sender_role: sender.role,
        content: Some(content),
        client_message_id: client_message_id.map(str::to_owned),
        seq: stored.seq,
        created_at: stored.created_at,
        read_at: None,
        attachment: None,
        attachment_url: None,
        attachment_type: None,
    };
    Ok((message, true))
}

async fn by_client_id(
    tx: &mut Tx,
    keyring: &Keyring,
    consultation: Uuid,
    sender: Uuid,
    client_id: &str,
) -> ApiResult<Option<Message>> {
    let rows: Vec<Row> = sqlx::query_as!(
        Row,
        r#"SELECT m.id, m.consultation_id, m.sender_id, m.sender_role, m.content, m.key_id,
             m.client_message_id, m.seq, m.created_at, m.read_at, m.attachment_file_id,
             f.content_type AS attachment_type, f.size AS attachment_size
           FROM messages m
             LEFT
           JOIN files f ON f.id = m.attachment_file_id
           WHERE m.consultation_id = $1 AND m.sender_id = $2 AND m.client_message_id = $3"#,
        consultation,
        sender,
        client_id
    )
    .fetch_all(&mut **tx)
    .await?;
    Ok(decrypt(tx, keyring, rows).await?.into_iter().next())
}

/// One message the caller may read (else 404).
pub async fn one(tx: &mut Tx, keyring: &Keyring, id: Uuid) -> ApiResult<Message> {
    let rows: Vec<Row> = sqlx::query_as!(
        Row,
        r#"SELECT m.id, m.consultation_id, m.sender_id, m.sender_role, m.content, m.key_id,
             m.client_message_id, m.seq, m.created_at, m.read_at, m.attachment_file_id,
             f.content_type AS attachment_type, f.size AS attachment_size
           FROM messages m
             LEFT
           JOIN files f ON f.id = m.attachment_file_id
           WHERE m.id = $1"#,
        id
    )
    .fetch_all(&mut **tx)
    .await?;
    decrypt(tx, keyring, rows)
        .await?
        .into_iter()
        .next()
        .or_not_found("message.not_found")
}

/// A page of history ending before `before` (oldest first), and the cursor of the page before it.
pub async fn history(
    tx: &mut Tx,
    keyring: &Keyring,
    consultation_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> ApiResult<(Vec<Message>, Option<Uuid>)> {
    ensure_participant(tx, consultation_id).await?;
    let mut rows: Vec<Row> = sqlx::query_as!(
        Row,
        r#"SELECT m.id, m.consultation_id, m.sender_id, m.sender_role, m.content, m.key_id,
             m.client_message_id, m.seq, m.created_at, m.read_at, m.attachment_file_id,
             f.content_type AS "attachment_type?", f.size AS "attachment_size?"
           FROM messages m
             LEFT
           JOIN files f ON f.id = m.attachment_file_id
           WHERE m.consultation_id = $1
             AND ($2::uuid IS NULL OR m.seq < (SELECT seq FROM messages WHERE id = $2 AND consultation_id = $1))
           ORDER BY m.seq DESC
           LIMIT $3"#,
        consultation_id,
        before,
        limit + 1
    )
    .fetch_all(&mut **tx)
    .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    rows.reverse();
    let next = if more {
        rows.first().map(|r| r.id)
    } else {
        None
    };
    Ok((decrypt(tx, keyring, rows).await?, next))
}

/// Most messages one replay answers; `hasMore` says when more wait after it.
pub const REPLAY_PAGE: i64 = 200;

/// Where a replay starts: after a message the client saw, or after a position.
#[derive(Debug, Clone, Copy)]
pub enum After {
    /// After this message (its position is looked up; an unknown id replays nothing).
    Message(Uuid),
    /// After this position (`seq`).
    Seq(i64),
}

/// Messages after `after`, oldest first (what a client missed), at most `limit`; and whether
/// more wait after them (ask again from the last one).
pub async fn since(
    tx: &mut Tx,
    keyring: &Keyring,
    consultation_id: Uuid,
    after: After,
    limit: i64,
) -> ApiResult<(Vec<Message>, bool)> {
    let (message, position) = match after {
        After::Message(id) => (Some(id), None),
        After::Seq(seq) => (None, Some(seq)),
    };
    let mut rows: Vec<Row> = sqlx::query_as!(
        Row,
        r#"SELECT m.id, m.consultation_id, m.sender_id, m.sender_role, m.content, m.key_id,
             m.client_message_id, m.seq, m.created_at, m.read_at, m.attachment_file_id,
             f.content_type AS "attachment_type?", f.size AS "attachment_size?"
           FROM messages m
             LEFT
           JOIN files f ON f.id = m.attachment_file_id
           WHERE m.consultation_id = $1
             AND m.seq > coalesce($3, (SELECT seq FROM messages WHERE id = $2 AND consultation_id = $1))
           ORDER BY m.seq
           LIMIT $4"#,
        consultation_id,
        message,
        position,
        limit + 1
    )
    .fetch_all(&mut **tx)
    .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok((decrypt(tx, keyring, rows).await?, more))
}

/// Marks a message read by its recipient (the sender's own messages stay as they are).
pub async fn mark_read(
    tx: &mut Tx,
    keyring: &Keyring,
    reader: &Principal,
    id: Uuid,
) -> ApiResult<Message> {
    sqlx::query!(
        r#"UPDATE messages SET is_read = true, read_at = coalesce(read_at, now())
           WHERE id = $1 AND sender_id <> $2"#,
        id,
        reader.user_id
    )
    .execute(&mut **tx)
    .await?;
    one(tx, keyring, id).await
}
