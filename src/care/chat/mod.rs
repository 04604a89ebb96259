//! Chat beside a consultation: REST here, Socket.IO in `realtime`. Messages are sealed at rest.

pub mod messages;
pub mod socket;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::care::files::{self, Upload};
use crate::infra::audit::Action;
use crate::infra::auth::Auth;
use crate::infra::auth::Participant;
use crate::infra::error::{ApiResult, Validator};
use crate::infra::extract::{ApiJson, ApiQuery, Path};
use crate::infra::sessions::ClientMeta;
use crate::infra::state::AppState;
use messages::Message;

/// History cursor.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// A message id: return messages before it.
    pub before: Option<Uuid>,
    /// At most 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// A page of history, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct History {
    pub items: Vec<Message>,
    /// Pass as `before` for the page before this one; `null` at the beginning.
    pub next_cursor: Option<Uuid>,
}

/// A new message.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendRequest {
    pub content: String,
    /// The client's id for this message: a retry with the same id returns the first message.
    pub client_message_id: Option<String>,
}

/// Messages of a consultation (participants only). Each read is audited (`READ messages`).
#[utoipa::path(get, path = "/chat/{consultationId}/messages", tag = "chat", security(("bearer" = [])), params(HistoryQuery),
    responses((status = 200, body = History), (status = 404, body = crate::infra::error::Problem)))]
pub async fn list_messages(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<Participant>,
    Path(consultation_id): Path<Uuid>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<History>> {
    let limit = query.limit.unwrap_or(50);
    let mut v = Validator::new();
    v.check(
        (1..=100).contains(&limit),
        "limit",
        "must be between 1 and 100",
    );
    v.finish()?;
    let (items, next_cursor) = messages::history(
        &mut auth.tx,
        &state.keyring,
        consultation_id,
        query.before,
        limit,
    )
    .await?;
    // Named by the reader's pseudonym: the two participants' rows share no id.
    let pseudonym = state.pseudonyms.of(auth.principal.user_id, consultation_id);
    auth.audit(&client, Action::Read, "messages", Some(pseudonym), None)
        .await?;
    auth.commit().await?;
    Ok(Json(History { items, next_cursor }))
}

/// Send a message.
#[utoipa::path(post, path = "/chat/{consultationId}/messages", tag = "chat", security(("bearer" = [])), request_body = SendRequest,
    responses((status = 201, body = Message), (status = 404, body = crate::infra::error::Problem), (status = 409, body = crate::infra::error::Problem)))]
pub async fn send_message(
    State(state): State<AppState>,
    mut auth: Auth<Participant>,
    Path(consultation_id): Path<Uuid>,
    ApiJson(body): ApiJson<SendRequest>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let principal = auth.principal.clone();
    let (message, _) = messages::send(
        &mut auth.tx,
        &state.keyring,
        &principal,
        consultation_id,
        &body.content,
        body.client_message_id.as_deref(),
        None,
    )
    .await?;
    auth.commit().await?;
    crate::care::chat::socket::broadcast_message(&state, &message).await;
    Ok((StatusCode::CREATED, Json(message)))
}

/// Mark a message read (by its recipient).
#[utoipa::path(put, path = "/chat/messages/{id}/read", tag = "chat", security(("bearer" = [])),
    responses((status = 200, body = Message), (status = 404, body = crate::infra::error::Problem)))]
pub async fn mark_messages_read(
    State(state): State<AppState>,
    mut auth: Auth<Participant>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Message>> {
    let principal = auth.principal.clone();
    let message = messages::mark_read(&mut auth.tx, &state.keyring, &principal, id).await?;
    auth.commit().await?;
    crate::care::chat::socket::broadcast_read(&state, &message, principal.user_id).await;
    Ok(Json(message))
}

/// Send a file (PNG, JPEG, WebP or PDF, at most 10 MiB) as a message; optional fields `content`
/// and `clientMessageId`.
#[utoipa::path(post, path = "/chat/{consultationId}/upload", tag = "chat", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", content = String),
    responses((status = 201, body = Message), (status = 413, body = crate::infra::error::Problem), (status = 415, body = crate::infra::error::Problem)))]
pub async fn upload_chat_attachment(
    State(state): State<AppState>,
    mut auth: Auth<Participant>,
    Path(consultation_id): Path<Uuid>,
    upload: Upload,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let principal = auth.principal.clone();
    messages::ensure_open(&mut auth.tx, consultation_id).await?;
    let stored = files::store(
        &state,
        &mut auth.tx,
        &principal,
        &upload,
        files::Link::Consultation(consultation_id),
        files::Purpose::ChatAttachment,
    )
    .await?;
    let caption = upload
        .fields
        .get("content")
        .map(String::as_str)
        .unwrap_or("");
    let (message, _) = messages::send(
        &mut auth.tx,
        &state.keyring,
        &principal,
        consultation_id,
        caption,
        upload.fields.get("clientMessageId").map(String::as_str),
        Some(stored.id),
    )
    .await?;
    auth.commit().await?;
    crate::care::chat::socket::broadcast_message(&state, &message).await;
    Ok((StatusCode::CREATED, Json(message)))
}

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(upload_chat_attachment))
        .route_layer(files::upload_body_limit());
    OpenApiRouter::new()
        .merge(uploads)
        .routes(routes!(list_messages, send_message))
        .routes(routes!(mark_messages_read))
        .routes(routes!(files::download_file, files::delete_file))
}
