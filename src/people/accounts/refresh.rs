//! `POST /api/auth/refresh` (rotation with reuse detection) and `POST /api/auth/logout`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use super::login::{TokenPair, TokenUser};
use super::throttle;
use crate::infra::audit::{Action, Entry};
use crate::infra::error::{ApiError, ApiResult};
use crate::infra::extract::ApiJson;
use crate::infra::identity::Role;
use crate::infra::sessions::{self, ClientMeta, Rotation, hash_token};
use crate::infra::state::AppState;
use crate::infra::tokens::ACCESS_TTL_SECS;

/// A refresh token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    /// The refresh token from sign-in or the previous refresh.
    pub refresh_token: String,
}

/// Exchange a refresh token for a new pair. The presented token is spent; presenting a spent
/// token again ends the whole login (`auth.refresh_reused`).
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = crate::infra::error::Problem)))]
pub async fn refresh_session(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenPair>> {
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    if let Some(address) = &client.ip {
        throttle::check(
            &mut tx,
            throttle::TOKEN_FAILURE_PER_ADDRESS,
            address.as_bytes(),
        )
        .await?;
    }
    match sessions::rotate(&mut tx, body.refresh_token.trim()).await? {
        Rotation::Rotated {
            user_id,
            session_id,
            refresh_token,
        } => {
            let user: (String, Role, Option<Uuid>) = sqlx::query!(
                r#"SELECT email AS "email!", role AS "role!", company_id AS "company_id?"
                       FROM users
                       WHERE id = $1"#,
                user_id
            )
            .map(|r| (r.email, r.role, r.company_id))
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Json(TokenPair {
                access_token: state.tokens.issue(user_id, session_id, user.1)?,
                refresh_token,
                expires_in: ACCESS_TTL_SECS,
                user: TokenUser {
                    id: user_id,
                    email: user.0,
                    role: user.1,
                    company_id: user.2,
                },
            }))
        }
        Rotation::Reused {
            user_id,
            session_id,
        } => {
            Entry::new(Action::Security, "session")
                .target(session_id)
                .from_client(&client)
                .details(serde_json::json!({ "event": "refresh_token_reused", "userId": user_id }))
                .record(&mut tx)
                .await?;
            tx.commit().await?;
            Err(ApiError::unauthorized(
                "auth.refresh_reused",
                "This refresh token was already used: the session has been ended for safety. Sign in again.",
            ))
        }
        Rotation::Invalid => {
            if let Some(address) = &client.ip {
                throttle::record(
                    &mut tx,
                    throttle::TOKEN_FAILURE_PER_ADDRESS,
                    address.as_bytes(),
                )
                .await?;
            }
            tx.commit().await?;
            Err(ApiError::unauthorized(
                "auth.invalid_refresh_token",
                "The refresh token is invalid or expired.",
            ))
        }
    }
}

/// End the session of this refresh token, at once (its access tokens stop working too).
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshRequest, responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    let ended: Option<(Uuid, Uuid, Role, Option<Uuid>)> = sqlx::query!(
        r#"UPDATE login_sessions s SET revoked_at = coalesce(s.revoked_at, now()),
                  revoked_reason = coalesce(s.revoked_reason, 'logout')
           FROM refresh_tokens rt, users u
           WHERE rt.token_hash = $1 AND s.id = rt.session_id AND u.id = s.user_id
           RETURNING s.id AS session_id, u.id AS user_id, u.role, u.company_id"#,
        hash_token(body.refresh_token.trim())
    )
    .map(|r| (r.session_id, r.user_id, r.role, r.company_id))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((session_id, user_id, role, company_id)) = ended {
        Entry::new(Action::Logout, "session")
            .by(user_id, role, company_id)
            .target(session_id)
            .from_client(&client)
            .record(&mut tx)
            .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
