//! `POST /api/auth/login`: password sign-in. An unknown email and a wrong password get the same
//! answer after the same work (a dummy hash is verified when the account does not exist).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::one_time::{self, Purpose};
use super::{throttle, totp};
use crate::infra::audit::{Action, Entry};
use crate::infra::error::{ApiError, ApiResult, Validator};
use crate::infra::extract::ApiJson;
use crate::infra::identity::Role;
use crate::infra::jobs::enqueue_mail;
use crate::infra::mail::MailKind;
use crate::infra::passwords::Verified;
use crate::infra::sessions::{self, ClientMeta};
use crate::infra::state::AppState;
use crate::infra::tokens::ACCESS_TTL_SECS;

/// Sign-in request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    /// Account email (case-insensitive).
    #[schema(min_length = 1, pattern = "\\S")]
    pub email: String,
    /// Password.
    #[schema(min_length = 1)]
    pub password: String,
    /// Current TOTP code or a recovery code, when 2FA is enabled.
    #[serde(default)]
    pub totp_code: Option<String>,
    /// The `token` of a mailed unlock link: lets the owner (right password) in while wrong
    /// passwords slow the account.
    #[serde(default)]
    pub unlock_token: Option<String>,
}

/// The signed-in user, as returned with tokens.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenUser {
    /// User id.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Company (HR admins and employees).
    pub company_id: Option<Uuid>,
}

/// Tokens for a session.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    /// Bearer token for API calls (JWT, 15 minutes).
    pub access_token: String,
    /// Opaque token for `POST /api/auth/refresh` (30 days, single use).
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The user.
    pub user: TokenUser,
}

#[derive(Debug, sqlx::FromRow)]
struct Account {
    id: Uuid,
    email: String,
    password_hash: Option<String>,
    role: Role,
    company_id: Option<Uuid>,
    is_active: bool,
    email_verified: bool,
    awaiting_approval: bool,
    company_usable: bool,
    totp_enabled: bool,
}

/// A throttled account without 2FA: mail its owner an unlock link, at most once per window.
async fn offer_unlock(conn: &mut sqlx::PgConnection, account: &Account) -> ApiResult<()> {
    let key = account.id.as_bytes();
    if throttle::check(&mut *conn, throttle::UNLOCK_MAIL_PER_ACCOUNT, key)
        .await
        .is_ok()
    {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        throttle::record(&mut tx, throttle::UNLOCK_MAIL_PER_ACCOUNT, key).await?;
        enqueue_mail(&mut tx, MailKind::AccountUnlock, account.id).await?;
        tx.commit().await?;
    }
    Ok(())
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("auth.invalid_credentials", "Invalid email or password.")
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = crate::infra::error::Problem),
              (status = 422, body = crate::infra::error::Problem)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenPair>> {
    let mut v = Validator::new();
    v.check(!body.email.trim().is_empty(), "email", "is required");
    v.check(!body.password.is_empty(), "password", "is required");
    v.check(body.password.len() <= 1024, "password", "is too long");
    v.finish()?;

    // Sign-in happens before any user context exists: it runs on the system pool. The reads use a
    // connection that goes back to the pool before the password check, which can wait behind
    // other sign-ins; the writes that follow are one transaction.
    let mut conn = state.db.system.acquire().await?;
    let account_key = throttle::account_key(&body.email);
    let address = client.ip.as_deref();
    let (per_account, per_address) = (throttle::LOGIN_PER_ACCOUNT, throttle::LOGIN_PER_ADDRESS);
    // Over a limit, only the owner's proof gets in: the right password with a valid 2FA code, or
    // (without 2FA) with a mailed unlock link. Nobody else's attempt is even checked.
    let limited = throttle::check_both(&mut conn, per_account, &account_key, per_address, address)
        .await
        .err();
    let account = sqlx::query_as!(
        Account,
        r#"SELECT u.id, u.email, u.password_hash, u.role, u.company_id, u.is_active,
             u.email_verified, u.awaiting_approval,
             (u.company_id IS NULL OR (c.is_active AND c.deleted_at IS NULL)) AS "company_usable!",
             u.totp_enabled_at IS NOT NULL AS "totp_enabled!"
           FROM users u
             LEFT
           JOIN companies c ON c.id = u.company_id
           WHERE lower(u.email) = lower($1) AND u.erased_at IS NULL"#,
        body.email.trim().to_lowercase()
    )
    .fetch_optional(&mut *conn)
    .await?;
    let has_code = body
        .totp_code
        .as_deref()
        .is_some_and(|c| !c.trim().is_empty());
    let has_unlock = body
        .unlock_token
        .as_deref()
        .is_some_and(|t| !t.trim().is_empty());
    let mut limited = match limited {
        Some(limited) if !has_code && !has_unlock => {
            if let Some(a) = account.as_ref().filter(|a| !a.totp_enabled) {
                offer_unlock(&mut conn, a).await?;
            }
            return Err(limited);
        }
        other => other,
    };
    drop(conn);

    let stored_hash = account.as_ref().and_then(|a| a.password_hash.as_deref());
    let verified = state.passwords.verify(&body.password, stored_hash).await?;
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    let account = match (account, verified) {
        (Some(account), Verified::Yes | Verified::YesRehash) => account,
        (account, _) => {
            throttle::record_both(&mut tx, per_account, &account_key, per_address, address).await?;
            let mut entry = Entry::new(Action::LoginFailed, "user").from_client(&client);
            if let Some(a) = &account {
                entry = entry.by(a.id, a.role, a.company_id).target(a.id);
            }
            entry.record(&mut tx).await?;
            tx.commit().await?;
            return Err(limited.unwrap_or_else(invalid_credentials));
        }
    };
    if !account.totp_enabled
        && let Some(limited) = limited.take()
    {
        let unlocked = match body.unlock_token.as_deref() {
            Some(token) => one_time::consume(&mut tx, token.trim(), &[Purpose::Unlock])
                .await?
                .is_some_and(|(owner, _)| owner == account.id),
            None => false,
        };
        if !unlocked {
            tx.commit().await?;
            return Err(limited);
        }
    }
    if !account.email_verified {
        return Err(ApiError::unauthorized(
            "auth.email_unverified",
            "Confirm your email address with the link we sent you first (or ask for a new one).",
        ));
    }
    if account.awaiting_approval {
        return Err(ApiError::unauthorized(
            "auth.account_pending",
            "This account is waiting for approval by your company's HR administrator.",
        ));
    }
    if !account.is_active || !account.company_usable {
        return Err(ApiError::unauthorized(
            "auth.account_disabled",
            "This account is disabled.",
        ));
    }
    if account.totp_enabled {
        let Some(code) = body.totp_code.as_deref().filter(|c| !c.trim().is_empty()) else {
            return Err(ApiError::unauthorized(
                "auth.totp_required",
                "Enter the code from your authenticator app.",
            ));
        };
        if !totp::check_code(&mut tx, &state.keyring, account.id, code, true).await? {
            throttle::record_both(&mut tx, per_account, &account_key, per_address, address).await?;
            Entry::new(Action::LoginFailed, "user")
                .by(account.id, account.role, account.company_id)
                .target(account.id)
                .from_client(&client)
                .details(serde_json::json!({ "reason": "totp" }))
                .record(&mut tx)
                .await?;
            tx.commit().await?;
            return Err(limited.unwrap_or_else(|| {
                ApiError::unauthorized(
                    "auth.totp_invalid",
                    "This code is not valid (or was already used).",
                )
            }));
        }
    }
    if verified == Verified::YesRehash {
        let new_hash = state.passwords.hash(&body.password).await?;
        sqlx::query!(
            r#"UPDATE users SET password_hash = $2 WHERE id = $1"#,
            account.id,
            new_hash
        )
        .execute(&mut *tx)
        .await?;
    }
    let opened = sessions::open(&mut tx, account.id, &client).await?;
    sqlx::query!(
        r#"UPDATE users SET last_login_at = now() WHERE id = $1"#,
        account.id
    )
    .execute(&mut *tx)
    .await?;
    Entry::new(Action::Login, "user")
        .by(account.id, account.role, account.company_id)
        .target(account.id)
        .from_client(&client)
        .details(serde_json::json!({ "sessionId": opened.session_id }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;

    let access_token = state
        .tokens
        .issue(account.id, opened.session_id, account.role)?;
    Ok(Json(TokenPair {
        access_token,
        refresh_token: opened.refresh_token,
        expires_in: ACCESS_TTL_SECS,
        user: TokenUser {
            id: account.id,
            email: account.email,
            role: account.role,
            company_id: account.company_id,
        },
    }))
}
