//! Jitsi rooms: `GET /api/consultations/{id}/room` (alias `room-link`) gives a participant the
//! room name and an HS256 JWT that Jitsi's token authentication accepts (see `docs/jitsi.md`).

use axum::Json;
use axum::extract::State;
use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use uuid::Uuid;

use super::consultations::load;
use super::model::Status;
use crate::infra::auth::Auth;
use crate::infra::auth::Participant;
use crate::infra::error::{ApiError, ApiResult};
use crate::infra::extract::Path;
use crate::infra::state::AppState;

/// What the front end needs to open the room.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Room {
    pub room_name: String,
    /// The room token (JWT, HS256 with `JITSI_APP_SECRET`).
    pub jwt: String,
    pub domain: String,
    /// `https://{domain}/{roomName}?jwt=…`
    pub url: String,
}

#[derive(Debug, Serialize)]
struct JitsiUser {
    id: String,
    name: String,
    email: String,
    avatar: String,
    moderator: bool,
    affiliation: &'static str,
}

#[derive(Debug, Serialize)]
struct JitsiContext {
    user: JitsiUser,
}

#[derive(Debug, Serialize)]
struct JitsiClaims {
    aud: &'static str,
    iss: String,
    sub: String,
    room: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    context: JitsiContext,
}

/// The room of a consultation (participants; CONFIRMED or IN_PROGRESS; from 15 minutes before the
/// start until 30 minutes after the planned end).
#[utoipa::path(get, path = "/consultations/{id}/room", tag = "consultations", security(("bearer" = [])),
    responses((status = 200, body = Room), (status = 404, body = crate::infra::error::Problem), (status = 409, body = crate::infra::error::Problem)))]
pub async fn get_room(
    State(state): State<AppState>,
    mut auth: Auth<Participant>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Room>> {
    let row = load(&mut auth.tx, id, false).await?;
    let (opens, closes) = (
        row.scheduled_at - Duration::minutes(15),
        row.ends_at() + Duration::minutes(30),
    );
    let now = Utc::now();
    if !matches!(row.status, Status::Confirmed | Status::InProgress) {
        return Err(ApiError::conflict(
            "consultation.room_unavailable",
            "The room opens once the consultation is confirmed.",
        ));
    }
    if now < opens || now > closes {
        return Err(ApiError::conflict(
            "consultation.room_unavailable",
            "The room is open from 15 minutes before the start until 30 minutes after the planned end.",
        ));
    }
    let is_practitioner = auth.principal.practitioner_id == Some(row.practitioner_id);
    let (name, email, avatar): (String, String, Option<String>) = if is_practitioner {
        sqlx::query!(
            r#"SELECT p.title || ' ' || p.first_name || ' ' || p.last_name AS "name!", u.email,
                 p.avatar_url
               FROM practitioners p
               JOIN users u ON u.id = p.user_id
               WHERE p.id = $1"#,
            row.practitioner_id
        )
        .map(|r| (r.name, r.email, r.avatar_url))
        .fetch_one(&mut *auth.tx)
        .await?
    } else {
        sqlx::query!(
            r#"SELECT e.first_name || ' ' || e.last_name AS "name!", u.email, e.avatar_url
               FROM employees e JOIN users u ON u.id = e.user_id WHERE e.id = $1"#,
            row.employee_id
        )
        .map(|r| (r.name, r.email, r.avatar_url))
        .fetch_one(&mut *auth.tx)
        .await?
    };
    let room_name = row
        .room_name
        .clone()
        .unwrap_or_else(|| super::consultations::room_name(&state.jitsi_secret, id));
    let claims = JitsiClaims {
        aud: "jitsi",
        iss: state.settings.jitsi_app_id.clone(),
        sub: state.settings.jitsi_domain.clone(),
        room: room_name.clone(),
        iat: now.timestamp(),
        nbf: opens.timestamp(),
        exp: closes.timestamp(),
        context: JitsiContext {
            user: JitsiUser {
                id: auth.principal.user_id.to_string(),
                name,
                email,
                avatar: avatar.unwrap_or_default(),
                moderator: is_practitioner,
                affiliation: if is_practitioner { "owner" } else { "member" },
            },
        },
    };
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("JWT".to_owned());
    let jwt = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(&state.jitsi_secret),
    )
    .map_err(ApiError::internal)?;
    auth.commit().await?;
    let domain = state.settings.jitsi_domain.clone();
    Ok(Json(Room {
        url: format!("https://{domain}/{room_name}?jwt={jwt}"),
        room_name,
        jwt,
        domain,
    }))
}
