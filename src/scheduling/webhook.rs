//! `POST /api/webhooks/jitsi/events`: room and occupant events from Jitsi's event_sync prosody
//! component (jitsi-contrib), recorded as consultation events with Jitsi's own timestamps. The
//! component posts to `{api_prefix}/events/room/created` etc.; those paths are aliases of this one.
//! Authenticated by `Authorization: Bearer JITSI_WEBHOOK_SECRET`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::model::EventType;
use crate::auth::Role;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;

/// An occupant, as event_sync reports it (`id` is our user id from the room token).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct Occupant {
    pub id: Option<String>,
    pub name: Option<String>,
    pub occupant_jid: Option<String>,
    pub joined_at: Option<i64>,
    pub left_at: Option<i64>,
}

/// An event_sync payload.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct JitsiEvent {
    /// `muc-room-created`, `muc-room-destroyed`, `muc-occupant-joined` or `muc-occupant-left`.
    pub event_name: String,
    pub room_name: String,
    #[serde(default)]
    pub is_breakout: bool,
    pub created_at: Option<i64>,
    pub destroyed_at: Option<i64>,
    pub occupant: Option<Occupant>,
}

fn authorised(headers: &HeaderMap, secret: Option<&str>) -> bool {
    let (Some(secret), Some(given)) = (secret, headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())) else {
        return false;
    };
    let Some(token) = given.strip_prefix("Bearer ") else {
        return false;
    };
    // Compare digests: equal length, and no early exit on the secret itself.
    Sha256::digest(token.trim().as_bytes()) == Sha256::digest(secret.as_bytes())
}

/// Record a Jitsi room or occupant event.
#[utoipa::path(post, path = "/webhooks/jitsi/events", tag = "webhooks", request_body = JitsiEvent,
    responses((status = 204), (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn jitsi_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(event): ApiJson<JitsiEvent>,
) -> ApiResult<StatusCode> {
    if !authorised(&headers, state.settings.jitsi_webhook_secret.as_deref()) {
        return Err(ApiError::unauthorized(
            "webhook.unauthorized",
            "Missing or wrong webhook secret.",
        ));
    }
    let occupant = event.occupant.unwrap_or_default();
    let (kind, at) = match event.event_name.as_str() {
        "muc-room-created" => (EventType::RoomCreated, event.created_at),
        "muc-room-destroyed" => (EventType::RoomDestroyed, event.destroyed_at),
        "muc-occupant-joined" => (EventType::RoomJoined, occupant.joined_at),
        "muc-occupant-left" => (EventType::RoomLeft, occupant.left_at),
        _ => return Err(ApiError::invalid_field("event_name", "unknown event")),
    };
    // Jitsi acts for no user: the system pool maps the room to its consultation.
    let mut tx = crate::db::context::begin(&state.db.system).await?;
    let found: Option<(Uuid, Uuid, Uuid)> = sqlx::query_as(
        "SELECT c.id, e.user_id, p.user_id FROM consultations c JOIN employees e ON e.id = c.employee_id \
         JOIN practitioners p ON p.id = c.practitioner_id WHERE c.room_name = lower($1)",
    )
    .bind(&event.room_name)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((consultation, employee_user, practitioner_user)) = found else {
        return Err(ApiError::not_found("consultation.not_found"));
    };
    let occupant_id = occupant.id.as_deref().and_then(|id| id.parse::<Uuid>().ok());
    let actor = match occupant_id {
        Some(id) if id == employee_user => Some((id, Role::Employee)),
        Some(id) if id == practitioner_user => Some((id, Role::Practitioner)),
        _ => None,
    };
    let metadata = serde_json::json!({
        "isBreakout": event.is_breakout,
        "knownParticipant": actor.is_some(),
    });
    sqlx::query(
        "INSERT INTO consultation_events (consultation_id, event_type, actor_id, actor_role, timestamp, metadata, source) \
         VALUES ($1, $2, $3, $4, coalesce(to_timestamp($5), now()), $6, 'jitsi')",
    )
    .bind(consultation)
    .bind(kind)
    .bind(actor.map(|a| a.0))
    .bind(actor.map(|a| a.1))
    .bind(at.map(|t| t as f64))
    .bind(metadata)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
