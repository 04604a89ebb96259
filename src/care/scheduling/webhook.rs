//! `POST /api/webhooks/jitsi/events`: room and occupant events from Jitsi's event_sync prosody
//! component (jitsi-contrib), recorded as consultation events with Jitsi's own timestamps. The
//! component posts to `{api_prefix}/events/room/created` etc.; those paths are aliases of this one.
//! Authenticated by `Authorization: Bearer JITSI_WEBHOOK_SECRET`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::model::EventType;
use crate::infra::error::{ApiError, ApiResult};
use crate::infra::extract::ApiJson;
use crate::infra::identity::Role;
use crate::infra::state::AppState;

/// An occupant, as event_sync reports it (`id` is our user id from the room token).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct Occupant {
    pub id: Option<String>,
    pub name: Option<String>,
    pub occupant_jid: Option<String>,
    #[serde(default, deserialize_with = "unix_seconds")]
    pub joined_at: Option<i64>,
    #[serde(default, deserialize_with = "unix_seconds")]
    pub left_at: Option<i64>,
}

/// Unix seconds as JSON Schema's `integer` has them: `1700000000` or `1700000000.0` (a number
/// with no fraction is an integer there, and a Lua sender may well write one).
fn unix_seconds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    // 2^53: beyond it a float no longer holds every integer exactly.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let integral = number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() <= EXACT)
            .map(|f| f as i64)
    });
    integral
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("must be a whole number of seconds"))
}

/// An event_sync payload.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct JitsiEvent {
    /// `muc-room-created`, `muc-room-destroyed`, `muc-occupant-joined` or `muc-occupant-left`.
    pub event_name: String,
    pub room_name: String,
    #[serde(default)]
    pub is_breakout: bool,
    #[serde(default, deserialize_with = "unix_seconds")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "unix_seconds")]
    pub destroyed_at: Option<i64>,
    pub occupant: Option<Occupant>,
}

fn authorised(headers: &HeaderMap, secret: Option<&str>) -> bool {
    let (Some(secret), Some(given)) = (
        secret,
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    ) else {
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
    responses((status = 204), (status = 401, body = crate::infra::error::Problem), (status = 404, body = crate::infra::error::Problem),
              (status = 422, body = crate::infra::error::Problem)))]
pub async fn receive_jitsi_events(
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
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    let found = sqlx::query!(
        r#"SELECT c.id, e.user_id AS employee_user, p.user_id AS practitioner_user
           FROM consultations c JOIN employees e ON e.id = c.employee_id
           JOIN practitioners p ON p.id = c.practitioner_id WHERE c.room_name = lower($1)"#,
        event.room_name
    )
    .map(|r| (r.id, r.employee_user, r.practitioner_user))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((consultation, employee_user, practitioner_user)) = found else {
        return Err(ApiError::not_found("consultation.not_found"));
    };
    let occupant_id = occupant
        .id
        .as_deref()
        .and_then(|id| id.parse::<Uuid>().ok());
    let actor = match occupant_id {
        Some(id) if id == employee_user => Some((id, Role::Employee)),
        Some(id) if id == practitioner_user => Some((id, Role::Practitioner)),
        _ => None,
    };
    let metadata = serde_json::json!({
        "isBreakout": event.is_breakout,
        "knownParticipant": actor.is_some(),
    });
    sqlx::query!(
        r#"INSERT INTO consultation_events (consultation_id, event_type, actor_id, actor_role, timestamp, metadata, source)
           VALUES ($1, $2, $3, $4, coalesce(to_timestamp($5), now()), $6, 'jitsi')"#,
        consultation,
        kind,
        actor.map(|a| a.0),
        actor.map(|a| a.1),
        at.map(|t| t as f64),
        metadata
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::JitsiEvent;

    fn parse(value: serde_json::Value) -> Result<JitsiEvent, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn timestamps_are_whole_seconds_written_as_integers_or_integral_numbers() {
        let event = parse(json!({ "event_name": "muc-occupant-left", "room_name": "r",
            "created_at": 1.7e9, "occupant": { "joined_at": 1_700_000_001, "left_at": -311.0 } }))
        .expect("integral numbers");
        assert_eq!(event.created_at, Some(1_700_000_000));
        assert_eq!(event.destroyed_at, None);
        let occupant = event.occupant.expect("occupant");
        assert_eq!(
            (occupant.joined_at, occupant.left_at),
            (Some(1_700_000_001), Some(-311))
        );
        assert!(parse(json!({ "event_name": "e", "room_name": "r", "created_at": 1.5 })).is_err());
        assert!(
            parse(json!({ "event_name": "e", "room_name": "r", "created_at": 1e300 })).is_err()
        );
        assert!(parse(json!({ "event_name": "e", "room_name": "r", "created_at": null })).is_ok());
    }
}
