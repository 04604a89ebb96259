//! The signed-in person's own credentials and logins under `/api/me`: change the password (every
//! other login ends), change the email address (confirmed by a link to the new one; the old one
//! is told), list the logins and end some or all of them (their sockets at once). Changes of
//! credentials need step-up.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::step_up::{self, StepUp};
use crate::infra::audit::Action;
use crate::infra::auth::Auth;
use crate::infra::error::{ApiError, ApiResult, Validator};
use crate::infra::extract::{ApiJson, Path};
use crate::infra::fields::email;
use crate::infra::identity::Role;
use crate::infra::jobs::enqueue_mail;
use crate::infra::mail::MailKind;
use crate::infra::passwords::check_strength;
use crate::infra::sessions::{self, ClientMeta};
use crate::infra::state::AppState;

/// A new password, with step-up.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChange {
    /// 12 to 128 characters, not guessable.
    #[serde(default)]
    #[schema(min_length = 12, max_length = 128)]
    pub new_password: String,
    /// The current password, and a 2FA code when 2FA is on.
    #[serde(flatten)]
    pub step_up: StepUp,
}

/// A new email address, with step-up.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailChange {
    /// The new address; an employee's stays in one of their company's domains.
    #[serde(default)]
    pub new_email: String,
    /// The current password, and a 2FA code when 2FA is on.
    #[serde(flatten)]
    pub step_up: StepUp,
}

/// The change waits for the link mailed to the new address.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmailChangePending {
    /// Always `confirmation_sent`.
    pub status: &'static str,
}

/// One login of the caller.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginSession {
    /// Session id.
    pub id: Uuid,
    /// The login this request comes from.
    pub current: bool,
    /// `User-Agent` at sign-in.
    pub user_agent: Option<String>,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// Last sign-in or token refresh (access tokens live 15 minutes, so at most that behind).
    pub last_used_at: DateTime<Utc>,
}

/// The caller's live logins, newest use first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginSessions {
    /// Live (not ended, not expired) logins.
    pub items: Vec<LoginSession>,
}

/// Change your password. Step-up: `currentPassword` (and `totpCode` with 2FA). Every other login
/// ends (their sockets at once); this one stays; the address is told.
#[utoipa::path(put, path = "/me/password", tag = "me", security(("bearer" = [])), request_body = PasswordChange,
    responses((status = 204), (status = 401, body = crate::infra::error::Problem),
              (status = 422, body = crate::infra::error::Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth,
    body: Option<ApiJson<PasswordChange>>,
) -> ApiResult<StatusCode> {
    step_up::confirm(&state, &mut auth, body.as_ref().map(|b| &b.0.step_up)).await?;
    let new_password = body.map(|b| b.0.new_password).unwrap_or_default();
    let user_id = auth.principal.user_id;
    let owner = sqlx::query!(
        r#"SELECT u.email, coalesce(e.first_name, p.first_name, u.first_name) AS first_name,
             coalesce(e.last_name, p.last_name, u.last_name) AS last_name
           FROM users u
             LEFT
           JOIN employees e ON e.user_id = u.id
             LEFT
           JOIN practitioners p ON p.user_id = u.id
           WHERE u.id = $1"#,
        user_id
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    check_strength(
        "newPassword",
        &new_password,
        &[
            &owner.email,
            owner.first_name.as_deref().unwrap_or(""),
            owner.last_name.as_deref().unwrap_or(""),
        ],
    )?;
    let hash = state.passwords.hash(&new_password).await?;
    sqlx::query!(
        r#"UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1"#,
        user_id,
        hash
    )
    .execute(&mut *auth.tx)
    .await?;
    let ended = sessions::revoke_others(
        &mut auth.tx,
        user_id,
        Some(auth.session_id),
        "password changed",
    )
    .await?;
    enqueue_mail(&mut auth.tx, MailKind::PasswordChanged, user_id).await?;
    auth.audit(
        &client,
        Action::Security,
        "user",
        Some(user_id),
        Some(serde_json::json!({ "event": "password_changed", "endedSessions": ended.len() })),
    )
    .await?;
    auth.commit().await?;
    state.realtime.end_sessions(&ended).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Change your email address. Step-up: `currentPassword` (and `totpCode` with 2FA). A link goes
/// to the new address and the change applies when it is used (until then you sign in with the
/// current one); the current address is told. 409 `user.email_taken` when another account has it.
#[utoipa::path(put, path = "/me/email", tag = "me", security(("bearer" = [])), request_body = EmailChange,
    responses((status = 202, body = EmailChangePending), (status = 401, body = crate::infra::error::Problem),
              (status = 409, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn change_email(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth,
    body: Option<ApiJson<EmailChange>>,
) -> ApiResult<(StatusCode, Json<EmailChangePending>)> {
    step_up::confirm(&state, &mut auth, body.as_ref().map(|b| &b.0.step_up)).await?;
    let mut v = Validator::new();
    let new_email = email(
        &mut v,
        "newEmail",
        body.as_ref().map(|b| b.0.new_email.as_str()).unwrap_or(""),
    );
    v.finish()?;
    let user_id = auth.principal.user_id;
    let mut conn = state.db.system.acquire().await?;
    let current = sqlx::query!(
        r#"SELECT u.email, c.domains AS "domains?" FROM users u LEFT JOIN companies c ON c.id = u.company_id
           WHERE u.id = $1"#,
        user_id
    )
    .fetch_one(&mut *conn)
    .await?;
    if current.email.eq_ignore_ascii_case(&new_email) {
        return Err(ApiError::invalid_field(
            "newEmail",
            "is already your address",
        ));
    }
    let domain = new_email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    if auth.principal.role == Role::Employee
        && !current
            .domains
            .unwrap_or_default()
            .iter()
            .any(|d| d == domain)
    {
        return Err(ApiError::invalid_field(
            "newEmail",
            "must be in one of your company's email domains",
        ));
    }
    let taken = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = $1 AND id <> $2) AS "taken!""#,
        new_email,
        user_id
    )
    .fetch_one(&mut *conn)
    .await?;
    drop(conn);
    if taken {
        return Err(ApiError::conflict(
            "user.email_taken",
            "Another account already uses this address.",
        ));
    }
    sqlx::query!(
        r#"UPDATE users SET pending_email = $2 WHERE id = $1"#,
        user_id,
        new_email
    )
    .execute(&mut *auth.tx)
    .await?;
    enqueue_mail(&mut auth.tx, MailKind::ConfirmEmailChange, user_id).await?;
    enqueue_mail(&mut auth.tx, MailKind::EmailChangeRequested, user_id).await?;
    auth.audit(
        &client,
        Action::Security,
        "user",
        Some(user_id),
        Some(serde_json::json!({ "event": "email_change_requested" })),
    )
    .await?;
    auth.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(EmailChangePending {
            status: "confirmation_sent",
        }),
    ))
}

/// Your live logins: device, address, sign-in and last use.
#[utoipa::path(get, path = "/me/sessions", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = LoginSessions), (status = 401, body = crate::infra::error::Problem)))]
pub async fn list_sessions(mut auth: Auth) -> ApiResult<Json<LoginSessions>> {
    let current = auth.session_id;
    let items = sqlx::query!(
        r#"SELECT id, user_agent, ip_address, created_at, last_used_at
           FROM login_sessions
           WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
           ORDER BY last_used_at DESC, created_at DESC
           LIMIT 200"#,
        auth.principal.user_id
    )
    .map(|r| LoginSession {
        id: r.id,
        current: r.id == current,
        user_agent: r.user_agent,
        ip: r.ip_address,
        created_at: r.created_at,
        last_used_at: r.last_used_at,
    })
    .fetch_all(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    Ok(Json(LoginSessions { items }))
}

/// End one of your logins (this one too, if named): its tokens stop working and its sockets
/// close at once. Another person's or an ended login → 404.
#[utoipa::path(delete, path = "/me/sessions/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses((status = 204), (status = 404, body = crate::infra::error::Problem)))]
pub async fn delete_session(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let ended = sqlx::query_scalar!(
        r#"UPDATE login_sessions SET revoked_at = now(), revoked_reason = 'signed out by its owner'
           WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL
           RETURNING id"#,
        id,
        auth.principal.user_id
    )
    .fetch_optional(&mut *auth.tx)
    .await?
    .ok_or_else(|| ApiError::not_found("session.not_found"))?;
    auth.audit(&client, Action::Logout, "login_session", Some(ended), None)
        .await?;
    auth.commit().await?;
    state.realtime.end_sessions(&[ended]).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Sign out everywhere else: every login but this one ends, with its sockets, at once.
#[utoipa::path(delete, path = "/me/sessions", tag = "me", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::infra::error::Problem)))]
pub async fn delete_other_sessions(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth,
) -> ApiResult<StatusCode> {
    let user_id = auth.principal.user_id;
    let ended = sessions::revoke_others(
        &mut auth.tx,
        user_id,
        Some(auth.session_id),
        "signed out everywhere by its owner",
    )
    .await?;
    auth.audit(
        &client,
        Action::Logout,
        "login_session",
        None,
        Some(serde_json::json!({ "endedSessions": ended.len() })),
    )
    .await?;
    auth.commit().await?;
    state.realtime.end_sessions(&ended).await;
    Ok(StatusCode::NO_CONTENT)
}
