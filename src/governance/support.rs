//! Support tickets ("Support N2"): any signed-in user opens a ticket, follows it and replies;
//! platform admins (ADMIN_HUNTZEN) list, assign, answer and close. Subjects and messages are
//! sealed with the ticket's own data key, readable where the ticket is (its creator, platform
//! admins: RLS); the agent sees what the creator wrote and their role, nothing else about them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::infra::audit::Action;
use crate::infra::auth::{AnyRole, Auth, PlatformAdmin, RoleSet};
use crate::infra::crypto::data_keys::{self, DataKey, Subject};
use crate::infra::error::{ApiError, ApiResult, OrNotFound, Validator};
use crate::infra::extract::{ApiJson, ApiQuery, Path};
use crate::infra::identity::Role;
use crate::infra::mail::templates::MailKind;
use crate::infra::pagination::{Page, PageQuery};
use crate::infra::sessions::ClientMeta;
use crate::infra::state::AppState;

/// What a ticket is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(as = TicketCategory)]
pub enum Category {
    Account,
    Booking,
    Technical,
    Billing,
    Privacy,
    Other,
}

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(as = TicketStatus)]
pub enum Status {
    /// New, or answered again by its creator.
    Open,
    /// A platform admin is on it.
    InProgress,
    /// Waiting for the creator.
    Waiting,
    Resolved,
    /// Closed: no more replies.
    Closed,
}

fn label<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn parse<T: for<'de> Deserialize<'de>>(stored: &str) -> ApiResult<T> {
    serde_json::from_value(serde_json::Value::String(stored.to_owned()))
        .map_err(|_| ApiError::internal(format!("stored ticket value {stored:?} is unknown")))
}

/// A ticket, as its creator and platform admins see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    pub id: Uuid,
    pub subject: String,
    pub body: String,
    pub category: Category,
    pub status: Status,
    /// The creator's account id (nothing else about them is shown to the agent).
    pub creator_id: Uuid,
    pub creator_role: Role,
    /// The platform admin in charge, if any.
    pub assignee_id: Option<Uuid>,
    pub last_reply_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new ticket.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTicket {
    #[schema(min_length = 3, max_length = 200)]
    pub subject: String,
    #[schema(min_length = 1, max_length = 10000)]
    pub body: String,
    pub category: Category,
}

/// A platform admin's change of a ticket (absent fields stay; `assigneeId: null` unassigns).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TicketChange {
    pub status: Option<Status>,
    #[serde(default, deserialize_with = "crate::infra::extract::patch")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_id: Option<Option<Uuid>>,
}

/// A message in a ticket's thread.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewReply {
    #[schema(min_length = 1, max_length = 10000)]
    pub body: String,
}

/// A reply.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    pub id: Uuid,
    pub ticket_id: Uuid,
    /// `null` once the author's account is gone.
    pub author_id: Option<Uuid>,
    pub author_role: Role,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// List filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    pub status: Option<Status>,
    /// Platform admins: only the tickets assigned to them.
    pub mine: Option<bool>,
}

struct TicketRow {
    id: Uuid,
    creator_id: Uuid,
    creator_role: Role,
    category: String,
    status: String,
    assignee_id: Option<Uuid>,
    key_id: Uuid,
    subject: Vec<u8>,
    body: Vec<u8>,
    last_reply_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const TABLE: &str = "support_tickets";
const REPLIES: &str = "support_ticket_replies";

async fn key_of<R: RoleSet>(
    state: &AppState,
    auth: &mut Auth<R>,
    key_id: Uuid,
) -> ApiResult<DataKey> {
    data_keys::by_id(&mut auth.tx, &state.keyring, key_id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::GONE,
                "support.ticket_erased",
                "This ticket's content was erased with its creator's account.",
            )
        })
}

async fn open_ticket<R: RoleSet>(
    state: &AppState,
    auth: &mut Auth<R>,
    row: TicketRow,
) -> ApiResult<Ticket> {
    let key = key_of(state, auth, row.key_id).await?;
    Ok(Ticket {
        id: row.id,
        subject: key.open_text(TABLE, "subject", row.id, &row.subject)?,
        body: key.open_text(TABLE, "body", row.id, &row.body)?,
        category: parse(&row.category)?,
        status: parse(&row.status)?,
        creator_id: row.creator_id,
        creator_role: row.creator_role,
        assignee_id: row.assignee_id,
        last_reply_at: row.last_reply_at,
        closed_at: row.closed_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The ticket the caller may see (the creator, platform admins), or 404; `lock`: for update.
async fn load<R: RoleSet>(auth: &mut Auth<R>, id: Uuid, lock: bool) -> ApiResult<TicketRow> {
    let row = if lock {
        sqlx::query_as!(
            TicketRow,
            r#"SELECT id, creator_id, creator_role AS "creator_role: Role", category, status, assignee_id,
                 key_id, subject, body, last_reply_at, closed_at, created_at, updated_at
               FROM support_tickets WHERE id = $1 FOR UPDATE"#,
            id
        )
        .fetch_optional(&mut *auth.tx)
        .await?
    } else {
        sqlx::query_as!(
            TicketRow,
            r#"SELECT id, creator_id, creator_role AS "creator_role: Role", category, status, assignee_id,
                 key_id, subject, body, last_reply_at, closed_at, created_at, updated_at
               FROM support_tickets WHERE id = $1"#,
            id
        )
        .fetch_optional(&mut *auth.tx)
        .await?
    };
    row.or_not_found("support.ticket_not_found")
}

/// Trimmed text of 1..=`max` characters (at least `min`), or a field error.
fn text(v: &mut Validator, field: &str, value: &str, min: usize, max: usize) -> String {
    let value = value.trim();
    let length = value.chars().count();
    v.check(
        (min..=max).contains(&length),
        field,
        format!("must have {min} to {max} characters"),
    );
    value.to_owned()
}

/// Open a support ticket (any signed-in user). Its subject and body are sealed at rest.
#[utoipa::path(post, path = "/support/tickets", tag = "support", security(("bearer" = [])), request_body = NewTicket,
    responses((status = 201, body = Ticket), (status = 422, body = crate::infra::error::Problem)))]
pub async fn create_support_ticket(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<AnyRole>,
    ApiJson(input): ApiJson<NewTicket>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    let mut v = Validator::new();
    let subject = text(&mut v, "subject", &input.subject, 3, 200);
    let body = text(&mut v, "body", &input.body, 1, 10_000);
    v.finish()?;
    let id = Uuid::new_v4();
    let key = data_keys::create_for_new_subject(&mut auth.tx, &state.keyring, Subject::Ticket, id)
        .await?;
    let row = sqlx::query_as!(
        TicketRow,
        r#"INSERT INTO support_tickets (id, creator_id, creator_role, category, key_id, subject, body)
           VALUES ($1, app_user_id(), app_role(), $2, $3, $4, $5)
           RETURNING id, creator_id, creator_role AS "creator_role: Role", category, status, assignee_id,
             key_id, subject, body, last_reply_at, closed_at, created_at, updated_at"#,
        id,
        label(input.category),
        key.id,
        key.seal(TABLE, "subject", id, subject.as_bytes()),
        key.seal(TABLE, "body", id, body.as_bytes())
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    // Names and ids only: the text is the creator's, never the audit trail's.
    auth.audit(
        &client,
        Action::Create,
        "support_ticket",
        Some(id),
        Some(serde_json::json!({ "category": label(input.category) })),
    )
    .await?;
    let ticket = open_ticket(&state, &mut auth, row).await?;
    auth.commit().await?;
    Ok((StatusCode::CREATED, Json(ticket)))
}

/// The caller's tickets, newest first; a platform admin's list is every ticket (the queue), with
/// `?status=` and `?mine=true` (assigned to them).
#[utoipa::path(get, path = "/support/tickets", tag = "support", security(("bearer" = [])), params(TicketQuery, PageQuery),
    responses((status = 200, body = Page<Ticket>)))]
pub async fn list_support_tickets(
    State(state): State<AppState>,
    mut auth: Auth<AnyRole>,
    ApiQuery(query): ApiQuery<TicketQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Ticket>>> {
    let paging = page.paging()?;
    let status = query.status.map(label);
    let mine = query.mine.unwrap_or(false);
    // RLS narrows a non-admin to their own tickets; the filter says so for everyone else too.
    let rows = sqlx::query!(
        r#"SELECT id, creator_id, creator_role AS "creator_role: Role", category, status, assignee_id,
             key_id, subject, body, last_reply_at, closed_at, created_at, updated_at,
             count(*) OVER () AS "total!"
           FROM support_tickets
           WHERE (app_role() = 'ADMIN_HUNTZEN' OR creator_id = app_user_id())
             AND ($1::text IS NULL OR status = $1)
             AND (NOT $2 OR assignee_id = app_user_id())
           ORDER BY created_at DESC, id
           LIMIT $3 OFFSET $4"#,
        status,
        mine,
        paging.limit(),
        paging.offset()
    )
    .fetch_all(&mut *auth.tx)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        let row = TicketRow {
            id: r.id,
            creator_id: r.creator_id,
            creator_role: r.creator_role,
            category: r.category,
            status: r.status,
            assignee_id: r.assignee_id,
            key_id: r.key_id,
            subject: r.subject,
            body: r.body,
            last_reply_at: r.last_reply_at,
            closed_at: r.closed_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        };
        items.push(open_ticket(&state, &mut auth, row).await?);
    }
    auth.commit().await?;
    Ok(Json(Page::new(items, total, paging)))
}

/// One ticket (its creator, platform admins; anyone else 404).
#[utoipa::path(get, path = "/support/tickets/{id}", tag = "support", security(("bearer" = [])),
    responses((status = 200, body = Ticket), (status = 404, body = crate::infra::error::Problem)))]
pub async fn get_support_ticket(
    State(state): State<AppState>,
    mut auth: Auth<AnyRole>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Ticket>> {
    let row = load(&mut auth, id, false).await?;
    let ticket = open_ticket(&state, &mut auth, row).await?;
    auth.commit().await?;
    Ok(Json(ticket))
}

/// Assign, reassign or unassign a ticket (`assigneeId`: a platform admin) and move its status
/// (platform admins). Resolving or closing tells the creator.
#[utoipa::path(put, path = "/support/tickets/{id}", tag = "support", security(("bearer" = [])), request_body = TicketChange,
    responses((status = 200, body = Ticket), (status = 404, body = crate::infra::error::Problem),
              (status = 422, body = crate::infra::error::Problem)))]
pub async fn update_support_ticket(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<PlatformAdmin>,
    Path(id): Path<Uuid>,
    ApiJson(change): ApiJson<TicketChange>,
) -> ApiResult<Json<Ticket>> {
    let current = load(&mut auth, id, true).await?;
    let mut v = Validator::new();
    v.check(
        change.status.is_some() || change.assignee_id.is_some(),
        "status",
        "give a status, an assigneeId or both",
    );
    let assignee = match change.assignee_id {
        Some(Some(user)) => {
            let agent = sqlx::query_scalar!(
                r#"SELECT count(*) AS "n!" FROM users
                   WHERE id = $1 AND role = 'ADMIN_HUNTZEN' AND is_active AND erased_at IS NULL"#,
                user
            )
            .fetch_one(&mut *auth.tx)
            .await?;
            v.check(agent == 1, "assigneeId", "must be an active platform admin");
            Some(user)
        }
        Some(None) => None,
        None => current.assignee_id,
    };
    v.finish()?;
    let status = change.status.map_or(current.status.clone(), label);
    let row = sqlx::query_as!(
        TicketRow,
        r#"UPDATE support_tickets SET status = $2, assignee_id = $3,
             closed_at = CASE WHEN $2 = 'CLOSED' THEN coalesce(closed_at, now()) ELSE NULL END
           WHERE id = $1
           RETURNING id, creator_id, creator_role AS "creator_role: Role", category, status, assignee_id,
             key_id, subject, body, last_reply_at, closed_at, created_at, updated_at"#,
        id,
        &status,
        assignee
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    if status != current.status && matches!(status.as_str(), "RESOLVED" | "CLOSED") {
        tell_creator(&mut auth, &row, "Votre demande d'assistance a été traitée").await?;
    }
    auth.audit(
        &client,
        Action::Update,
        "support_ticket",
        Some(id),
        Some(serde_json::json!({ "status": status, "assigneeId": assignee })),
    )
    .await?;
    let ticket = open_ticket(&state, &mut auth, row).await?;
    auth.commit().await?;
    Ok(Json(ticket))
}

/// The creator's notification and mail: that something happened, never what was written (a
/// platform admin's request; the database refuses anyone else).
async fn tell_creator<R: RoleSet>(
    auth: &mut Auth<R>,
    row: &TicketRow,
    title: &str,
) -> ApiResult<()> {
    sqlx::query!(
        "SELECT FROM notify_ticket_creator($1, $2, $3)",
        row.id,
        title,
        "Ouvrez la demande dans l'application pour la lire."
    )
    .execute(&mut *auth.tx)
    .await?;
    crate::infra::jobs::enqueue_mail(&mut auth.tx, MailKind::SupportReply, row.creator_id).await?;
    Ok(())
}

/// A ticket's thread, oldest first (the creator, platform admins; anyone else 404).
#[utoipa::path(get, path = "/support/tickets/{id}/replies", tag = "support", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<Reply>), (status = 404, body = crate::infra::error::Problem)))]
pub async fn list_support_ticket_replies(
    State(state): State<AppState>,
    mut auth: Auth<AnyRole>,
    Path(id): Path<Uuid>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Reply>>> {
    let paging = page.paging()?;
    let ticket = load(&mut auth, id, false).await?;
    let key = key_of(&state, &mut auth, ticket.key_id).await?;
    let rows = sqlx::query!(
        r#"SELECT id, author_id, author_role AS "author_role: Role", body, created_at,
             count(*) OVER () AS "total!"
           FROM support_ticket_replies
           WHERE ticket_id = $1
           ORDER BY created_at, id
           LIMIT $2 OFFSET $3"#,
        id,
        paging.limit(),
        paging.offset()
    )
    .fetch_all(&mut *auth.tx)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let items = rows
        .into_iter()
        .map(|r| {
            Ok(Reply {
                id: r.id,
                ticket_id: id,
                author_id: r.author_id,
                author_role: r.author_role,
                body: key.open_text(REPLIES, "body", r.id, &r.body)?,
                created_at: r.created_at,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    auth.commit().await?;
    Ok(Json(Page::new(items, total, paging)))
}

/// Reply in a ticket's thread: its creator or a platform admin (anyone else 404; a closed ticket
/// 409 `support.ticket_closed`). A platform admin's answer puts an open ticket in progress and
/// tells the creator; the creator's reply reopens a resolved or waiting ticket.
#[utoipa::path(post, path = "/support/tickets/{id}/replies", tag = "support", security(("bearer" = [])), request_body = NewReply,
    responses((status = 201, body = Reply), (status = 404, body = crate::infra::error::Problem),
              (status = 409, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn create_support_ticket_reply(
    State(state): State<AppState>,
    mut auth: Auth<AnyRole>,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<NewReply>,
) -> ApiResult<(StatusCode, Json<Reply>)> {
    let mut v = Validator::new();
    let body = text(&mut v, "body", &input.body, 1, 10_000);
    v.finish()?;
    // Locked: replies and status changes of one ticket happen one after the other.
    let ticket = load(&mut auth, id, true).await?;
    if ticket.status == "CLOSED" {
        return Err(ApiError::conflict(
            "support.ticket_closed",
            "This ticket is closed; open a new one.",
        ));
    }
    let key = key_of(&state, &mut auth, ticket.key_id).await?;
    let agent =
        auth.principal.role == Role::AdminHuntzen && ticket.creator_id != auth.principal.user_id;
    let reply_id = Uuid::new_v4();
    let created_at: DateTime<Utc> = sqlx::query_scalar!(
        r#"INSERT INTO support_ticket_replies (id, ticket_id, author_id, author_role, body)
           VALUES ($1, $2, app_user_id(), app_role(), $3)
           RETURNING created_at"#,
        reply_id,
        id,
        key.seal(REPLIES, "body", reply_id, body.as_bytes())
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    let status = match (agent, ticket.status.as_str()) {
        (true, "OPEN") => "IN_PROGRESS",
        (false, "RESOLVED" | "WAITING") => "OPEN",
        (_, current) => current,
    };
    sqlx::query!(
        "UPDATE support_tickets SET last_reply_at = $2, status = $3 WHERE id = $1",
        id,
        created_at,
        status
    )
    .execute(&mut *auth.tx)
    .await?;
    if agent {
        tell_creator(&mut auth, &ticket, "Réponse à votre demande d'assistance").await?;
    }
    let author = (auth.principal.user_id, auth.principal.role);
    auth.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Reply {
            id: reply_id,
            ticket_id: id,
            author_id: Some(author.0),
            author_role: author.1,
            body,
            created_at,
        }),
    ))
}

/// The tables [`export_own`] covers (for the GDPR export's coverage list).
pub const EXPORTED: &[&str] = &["support_tickets", "support_ticket_replies"];

/// The caller's own tickets and their threads, decrypted, as rows with snake_case keys (for the
/// GDPR export). Content whose key was destroyed is `null`.
pub async fn export_own(
    state: &AppState,
    tx: &mut crate::infra::db::Tx,
) -> ApiResult<(Vec<serde_json::Value>, Vec<serde_json::Value>)> {
    let tickets = sqlx::query!(
        r#"SELECT id, key_id, subject, body,
             to_jsonb(t) - 'subject' - 'body' - 'key_id' AS "row!"
           FROM support_tickets t WHERE creator_id = app_user_id() ORDER BY created_at, id"#
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut ticket_rows = Vec::with_capacity(tickets.len());
    let mut reply_rows = Vec::new();
    for t in tickets {
        let key = data_keys::by_id(&mut *tx, &state.keyring, t.key_id).await?;
        let mut row = t.row;
        row["subject"] = serde_json::json!(
            key.as_ref()
                .map(|k| k.open_text(TABLE, "subject", t.id, &t.subject))
                .transpose()?
        );
        row["body"] = serde_json::json!(
            key.as_ref()
                .map(|k| k.open_text(TABLE, "body", t.id, &t.body))
                .transpose()?
        );
        ticket_rows.push(row);
        let replies = sqlx::query!(
            r#"SELECT id, body, to_jsonb(r) - 'body' AS "row!"
               FROM support_ticket_replies r WHERE ticket_id = $1 ORDER BY created_at, id"#,
            t.id
        )
        .fetch_all(&mut **tx)
        .await?;
        for r in replies {
            let mut row = r.row;
            row["body"] = serde_json::json!(
                key.as_ref()
                    .map(|k| k.open_text(REPLIES, "body", r.id, &r.body))
                    .transpose()?
            );
            reply_rows.push(row);
        }
    }
    Ok((ticket_rows, reply_rows))
}

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_support_ticket, list_support_tickets))
        .routes(routes!(get_support_ticket, update_support_ticket))
        .routes(routes!(
            list_support_ticket_replies,
            create_support_ticket_reply
        ))
}
