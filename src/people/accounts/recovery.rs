//! Email verification and password recovery: `verify-email`, `resend-verification`,
//! `forgot-password`, `reset-password`. Requests that name an email always answer 202 and reveal
//! nothing; links carry single-use tokens (see `one_time`). A new password ends every session.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::one_time::{self, Purpose};
use super::throttle;
use crate::infra::audit::{Action, Entry};
use crate::infra::error::{ApiError, ApiResult, Validator};
use crate::infra::extract::ApiJson;
use crate::infra::identity::Role;
use crate::infra::jobs::enqueue_mail;
use crate::infra::mail::MailKind;
use crate::infra::passwords::check_strength;
use crate::infra::sessions::{self, ClientMeta, hash_token};
use crate::infra::state::AppState;

/// A mailed token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// The `token` query parameter of the mailed link.
    pub token: String,
}

/// An email address.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EmailRequest {
    /// The account's email.
    pub email: String,
}

/// A new password with its mailed token.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResetRequest {
    /// The `token` query parameter of the reset or invitation link.
    pub token: String,
    /// The new password.
    pub password: String,
}

/// Result of a verification.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    /// Always true.
    pub email_verified: bool,
}

/// The same answer whatever happened.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// A neutral message.
    pub message: &'static str,
}

fn bad_token() -> ApiError {
    ApiError::bad_request(
        "auth.token_invalid",
        "This link is invalid, expired or already used; ask for a new one.",
    )
}

/// Counts a bad token against the client address, then refuses.
async fn refuse_token(state: &AppState, client: &ClientMeta) -> ApiError {
    if let Some(address) = &client.ip
        && let Ok(mut conn) = state.db.system.acquire().await
    {
        throttle::record(
            &mut conn,
            throttle::TOKEN_FAILURE_PER_ADDRESS,
            address.as_bytes(),
        )
        .await
        .ok();
    }
    bad_token()
}

async fn check_token_throttle(state: &AppState, client: &ClientMeta) -> ApiResult<()> {
    if let Some(address) = &client.ip {
        let mut conn = state.db.system.acquire().await?;
        throttle::check(
            &mut conn,
            throttle::TOKEN_FAILURE_PER_ADDRESS,
            address.as_bytes(),
        )
        .await?;
    }
    Ok(())
}

/// Confirm an email address with the mailed token.
#[utoipa::path(post, path = "/auth/verify-email", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = Verified), (status = 400, body = crate::infra::error::Problem)))]
pub async fn verify_email(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<TokenRequest>,
) -> ApiResult<Json<Verified>> {
    check_token_throttle(&state, &client).await?;
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    let Some((user_id, purpose)) = one_time::consume(
        &mut tx,
        body.token.trim(),
        &[Purpose::VerifyEmail, Purpose::ChangeEmail],
    )
    .await?
    else {
        return Err(refuse_token(&state, &client).await);
    };
    if purpose == Purpose::ChangeEmail {
        // The new address takes over; another account may have taken it since the request.
        let taken = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM users o JOIN users u ON u.id = $1
                 WHERE o.id <> u.id AND lower(o.email) = lower(u.pending_email)) AS "taken!""#,
            user_id
        )
        .fetch_one(&mut *tx)
        .await?;
        if taken {
            return Err(ApiError::conflict(
                "user.email_taken",
                "This address is now used by another account.",
            ));
        }
        let changed = sqlx::query!(
            r#"UPDATE users SET email = lower(pending_email), pending_email = NULL,
                 email_verified = true
               WHERE id = $1 AND pending_email IS NOT NULL
               RETURNING role AS "role: Role", company_id"#,
            user_id
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(changed) = changed else {
            return Err(refuse_token(&state, &client).await);
        };
        Entry::new(Action::Security, "user")
            .by(user_id, changed.role, changed.company_id)
            .target(user_id)
            .from_client(&client)
            .details(serde_json::json!({ "event": "email_changed" }))
            .record(&mut tx)
            .await?;
    } else {
        sqlx::query!(
            r#"UPDATE users SET email_verified = true WHERE id = $1"#,
            user_id
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Json(Verified {
        email_verified: true,
    }))
}

/// Mail throttling: per account and per address; over the limit the answer is still 202.
async fn within_mail_limits(
    conn: &mut sqlx::PgConnection,
    email: &str,
    client: &ClientMeta,
) -> ApiResult<bool> {
    let account = throttle::account_key(email);
    let allowed = throttle::check_both(
        &mut *conn,
        throttle::MAIL_REQUEST_PER_ACCOUNT,
        &account,
        throttle::MAIL_REQUEST_PER_ADDRESS,
        client.ip.as_deref(),
    )
    .await;
    match allowed {
        Ok(()) => {
            throttle::record_both(
                conn,
                throttle::MAIL_REQUEST_PER_ACCOUNT,
                &account,
                throttle::MAIL_REQUEST_PER_ADDRESS,
                client.ip.as_deref(),
            )
            .await?;
            Ok(true)
        }
        Err(error) if error.status() == StatusCode::TOO_MANY_REQUESTS => Ok(false),
        Err(error) => Err(error),
    }
}

const ACCEPTED: Accepted = Accepted {
    message: "If an account matches, an email is on its way.",
};

/// Send the verification email again (always 202).
#[utoipa::path(post, path = "/auth/resend-verification", tag = "auth", request_body = EmailRequest,
    responses((status = 202, body = Accepted)))]
pub async fn resend_verification(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<EmailRequest>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let email = body.email.trim().to_lowercase();
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    if within_mail_limits(&mut tx, &email, &client).await? {
        let user: Option<Uuid> = sqlx::query_scalar!(
            r#"SELECT id
               FROM users
               WHERE lower(email) = $1 AND NOT email_verified AND erased_at IS NULL"#,
            &email
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(user_id) = user {
            enqueue_mail(&mut tx, MailKind::VerifyEmail, user_id).await?;
        }
    }
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(ACCEPTED)))
}

/// Mail a password-reset link (always 202, whether or not the account exists).
#[utoipa::path(post, path = "/auth/forgot-password", tag = "auth", request_body = EmailRequest,
    responses((status = 202, body = Accepted)))]
pub async fn forgot_password(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<EmailRequest>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let email = body.email.trim().to_lowercase();
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    if within_mail_limits(&mut tx, &email, &client).await? {
        let user: Option<Uuid> = sqlx::query_scalar!(
            r#"SELECT u.id
               FROM users u
                 LEFT
               JOIN companies c ON c.id = u.company_id
               WHERE lower(u.email) = $1 AND u.is_active AND u.erased_at IS NULL
                 AND (u.company_id IS NULL OR (c.is_active AND c.deleted_at IS NULL))"#,
            &email
        )
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(user_id) = user {
            enqueue_mail(&mut tx, MailKind::PasswordReset, user_id).await?;
        }
    }
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(ACCEPTED)))
}

#[derive(Debug, sqlx::FromRow)]
struct TokenOwner {
    user_id: Uuid,
    email: String,
    role: Role,
    company_id: Option<Uuid>,
    first_name: Option<String>,
    last_name: Option<String>,
    company_name: Option<String>,
}

/// Set a new password with a reset or invitation token. Ends every session of the account.
#[utoipa::path(post, path = "/auth/reset-password", tag = "auth", request_body = ResetRequest,
    responses((status = 204), (status = 400, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn reset_password(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<ResetRequest>,
) -> ApiResult<StatusCode> {
    let mut v = Validator::new();
    v.check(!body.token.trim().is_empty(), "token", "is required");
    v.finish()?;
    check_token_throttle(&state, &client).await?;
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    // Look first (the password rules need the account's context), spend only once the password passes.
    let owner = sqlx::query_as!(
        TokenOwner,
        r#"SELECT u.id AS user_id, u.email, u.role, u.company_id,
             coalesce(e.first_name, p.first_name) AS first_name,
             coalesce(e.last_name, p.last_name) AS last_name, c.name AS company_name
           FROM one_time_tokens t
           JOIN users u ON u.id = t.user_id
             LEFT
           JOIN employees e ON e.user_id = u.id
             LEFT
           JOIN practitioners p ON p.user_id = u.id
             LEFT
           JOIN companies c ON c.id = u.company_id
           WHERE t.token_hash = $1 AND t.purpose IN ('RESET_PASSWORD', 'INVITATION')
             AND t.used_at IS NULL AND t.expires_at > now() AND u.erased_at IS NULL"#,
        hash_token(body.token.trim())
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(owner) = owner else {
        return Err(refuse_token(&state, &client).await);
    };
    check_strength(
        "password",
        &body.password,
        &[
            &owner.email,
            owner.first_name.as_deref().unwrap_or(""),
            owner.last_name.as_deref().unwrap_or(""),
            owner.company_name.as_deref().unwrap_or(""),
        ],
    )?;
    let hash = state.passwords.hash(&body.password).await?;
    let Some((user_id, purpose)) = one_time::consume(
        &mut tx,
        body.token.trim(),
        &[Purpose::ResetPassword, Purpose::Invitation],
    )
    .await?
    else {
        return Err(bad_token());
    };
    // Following a mailed link proves the address.
    sqlx::query!(
        r#"UPDATE users SET password_hash = $2, password_changed_at = now(), email_verified = true
           WHERE id = $1"#,
        user_id,
        hash
    )
    .execute(&mut *tx)
    .await?;
    let ended = sessions::revoke_all(&mut tx, user_id, "password changed").await?;
    Entry::new(Action::Security, "user")
        .by(owner.user_id, owner.role, owner.company_id)
        .target(user_id)
        .from_client(&client)
        .details(serde_json::json!({ "event": "password_set", "via": format!("{purpose:?}") }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    state.realtime.end_sessions(&ended).await;
    Ok(StatusCode::NO_CONTENT)
}
