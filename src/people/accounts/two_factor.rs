//! Two-factor sign-in with TOTP (RFC 6238: SHA-1, 6 digits, 30 s, one step of skew). The secret
//! is sealed with the master keyring (bound to the user id); an accepted step is remembered so a
//! code never works twice; 10 single-use recovery codes (stored as SHA-256) stand in for a code.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::step_up::{self, StepUp};
use super::throttle;
use super::totp::{check_code, load, secret_aad, totp};
use crate::infra::audit::Action;
use crate::infra::auth::Auth;

use crate::infra::error::{ApiError, ApiResult};
use crate::infra::extract::ApiJson;
use crate::infra::sessions::{self, ClientMeta, hash_token};
use crate::infra::state::AppState;

const RECOVERY_CODES: usize = 10;

/// A fresh secret to add to an authenticator app.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Setup {
    /// Base32 secret, for manual entry.
    pub secret: String,
    /// `otpauth://` URL.
    pub otpauth_url: String,
    /// The URL as a QR code: `data:image/png;base64,…`.
    pub qr_code_png: String,
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CodeRequest {
    /// Six digits.
    pub code: String,
}

/// Turning 2FA off: the current password and a current TOTP or recovery code (as `code` or
/// `totpCode`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisableRequest {
    /// The caller's current password.
    #[serde(default)]
    pub current_password: Option<String>,
    /// Six digits, or a recovery code.
    #[serde(default)]
    pub code: Option<String>,
    /// Same as `code` (the step-up field name).
    #[serde(default)]
    pub totp_code: Option<String>,
}

/// Recovery codes, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodes {
    /// Ten single-use codes; each signs in once in place of a TOTP code.
    pub recovery_codes: Vec<String>,
}

async fn guarded(auth: &mut Auth, state: &AppState) -> ApiResult<()> {
    let mut conn = state.db.system.acquire().await?;
    throttle::check(
        &mut conn,
        throttle::TWO_FACTOR_PER_USER,
        auth.principal.user_id.as_bytes(),
    )
    .await
}

async fn count_failure(state: &AppState, user_id: Uuid) -> ApiError {
    if let Ok(mut conn) = state.db.system.acquire().await {
        throttle::record(&mut conn, throttle::TWO_FACTOR_PER_USER, user_id.as_bytes())
            .await
            .ok();
    }
    ApiError::invalid_field("code", "this code is not valid (or was already used)")
}

/// Start enabling 2FA: a new secret, not active until `verify` confirms a code from it. Step-up:
/// the body carries `currentPassword` (401 `auth.reauth_required` otherwise), so a stolen access
/// token cannot enrol the thief's authenticator.
#[utoipa::path(post, path = "/auth/2fa/setup", tag = "auth", security(("bearer" = [])), request_body = StepUp,
    responses((status = 200, body = Setup), (status = 401, body = crate::infra::error::Problem),
              (status = 409, body = crate::infra::error::Problem)))]
pub async fn setup_two_factor(
    State(state): State<AppState>,
    mut auth: Auth,
    body: Option<ApiJson<StepUp>>,
) -> ApiResult<Json<Setup>> {
    step_up::confirm(&state, &mut auth, body.as_ref().map(|b| &b.0)).await?;
    let user_id = auth.principal.user_id;
    let current = load(&mut auth.tx, user_id).await?;
    if current.enabled {
        return Err(ApiError::conflict(
            "auth.2fa_already_enabled",
            "Two-factor sign-in is already on; disable it first.",
        ));
    }
    let mut raw = vec![0u8; 20];
    rand::rng().fill_bytes(&mut raw);
    let totp = totp(raw.clone(), &current.email)?;
    let sealed = state.keyring.seal(&secret_aad(user_id), &raw);
    sqlx::query!(
        r#"UPDATE users SET totp_secret = $2, totp_last_step = NULL WHERE id = $1"#,
        user_id,
        sealed
    )
    .execute(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    let png = totp
        .to_qr_png()
        .map_err(|e| ApiError::internal(format!("qr: {e:?}")))?;
    Ok(Json(Setup {
        secret: totp.secret().to_base32(),
        otpauth_url: totp
            .to_url()
            .map_err(|e| ApiError::internal(format!("otpauth: {e:?}")))?,
        qr_code_png: format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        ),
    }))
}

/// Confirm a code from the new secret: 2FA is on, and ten recovery codes are returned once.
#[utoipa::path(post, path = "/auth/2fa/verify", tag = "auth", security(("bearer" = [])), request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 409, body = crate::infra::error::Problem),
              (status = 422, body = crate::infra::error::Problem), (status = 429, body = crate::infra::error::Problem)))]
pub async fn verify_two_factor(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth,
    ApiJson(body): ApiJson<CodeRequest>,
) -> ApiResult<Json<RecoveryCodes>> {
    guarded(&mut auth, &state).await?;
    let user_id = auth.principal.user_id;
    let current = load(&mut auth.tx, user_id).await?;
    if current.enabled {
        return Err(ApiError::conflict(
            "auth.2fa_already_enabled",
            "Two-factor sign-in is already on.",
        ));
    }
    if current.secret.is_none() {
        return Err(ApiError::conflict(
            "auth.2fa_not_set_up",
            "Call /api/auth/2fa/setup first.",
        ));
    }
    if !check_code(&mut auth.tx, &state.keyring, user_id, &body.code, false).await? {
        auth.commit().await?;
        return Err(count_failure(&state, user_id).await);
    }
    let codes = replace_recovery_codes(&mut auth.tx, user_id).await?;
    sqlx::query!(
        r#"UPDATE users SET totp_enabled_at = now() WHERE id = $1"#,
        user_id
    )
    .execute(&mut *auth.tx)
    .await?;
    auth.audit(
        &client,
        Action::Security,
        "user",
        Some(user_id),
        Some(serde_json::json!({ "event": "2fa_enabled" })),
    )
    .await?;
    auth.commit().await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Turn 2FA off. Step-up: the current password and a current code or a recovery code; else 401
/// `auth.reauth_required` and 2FA stays on. Every session of the account ends.
#[utoipa::path(post, path = "/auth/2fa/disable", tag = "auth", security(("bearer" = [])), request_body = DisableRequest,
    responses((status = 204), (status = 401, body = crate::infra::error::Problem), (status = 409, body = crate::infra::error::Problem)))]
pub async fn disable_two_factor(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth,
    ApiJson(body): ApiJson<DisableRequest>,
) -> ApiResult<StatusCode> {
    let user_id = auth.principal.user_id;
    if !load(&mut auth.tx, user_id).await?.enabled {
        return Err(ApiError::conflict(
            "auth.2fa_not_enabled",
            "Two-factor sign-in is not on.",
        ));
    }
    let proof = StepUp {
        current_password: body.current_password,
        totp_code: body.totp_code.or(body.code),
    };
    step_up::confirm(&state, &mut auth, Some(&proof)).await?;
    sqlx::query!(
        r#"UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL
           WHERE id = $1"#,
        user_id
    )
    .execute(&mut *auth.tx)
    .await?;
    sqlx::query!(r#"DELETE FROM recovery_codes WHERE user_id = $1"#, user_id)
        .execute(&mut *auth.tx)
        .await?;
    auth.audit(
        &client,
        Action::Security,
        "user",
        Some(user_id),
        Some(serde_json::json!({ "event": "2fa_disabled" })),
    )
    .await?;
    auth.commit().await?;
    let mut conn = state.db.system.acquire().await?;
    let ended = sessions::revoke_all(&mut conn, user_id, "2fa disabled").await?;
    state.realtime.end_sessions(&ended).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the recovery codes: the earlier ones stop working, ten new ones are shown once.
/// Step-up: the current password and a current TOTP or recovery code.
#[utoipa::path(post, path = "/auth/2fa/recovery-codes", tag = "auth", security(("bearer" = [])), request_body = StepUp,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = crate::infra::error::Problem),
              (status = 409, body = crate::infra::error::Problem)))]
pub async fn regenerate_recovery_codes(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth,
    body: Option<ApiJson<StepUp>>,
) -> ApiResult<Json<RecoveryCodes>> {
    let user_id = auth.principal.user_id;
    if !load(&mut auth.tx, user_id).await?.enabled {
        return Err(ApiError::conflict(
            "auth.2fa_not_enabled",
            "Two-factor sign-in is not on.",
        ));
    }
    step_up::confirm(&state, &mut auth, body.as_ref().map(|b| &b.0)).await?;
    let codes = replace_recovery_codes(&mut auth.tx, user_id).await?;
    auth.audit(
        &client,
        Action::Security,
        "user",
        Some(user_id),
        Some(serde_json::json!({ "event": "recovery_codes_replaced" })),
    )
    .await?;
    auth.commit().await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Deletes the user's recovery codes and stores ten new ones (hashed); returns them.
async fn replace_recovery_codes(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Vec<String>, sqlx::Error> {
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    sqlx::query!(r#"DELETE FROM recovery_codes WHERE user_id = $1"#, user_id)
        .execute(&mut *conn)
        .await?;
    let hashes: Vec<Vec<u8>> = codes.iter().map(|code| hash_token(code)).collect();
    sqlx::query!(
        r#"INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, unnest($2::bytea[])"#,
        user_id,
        &hashes
    )
    .execute(conn)
    .await?;
    Ok(codes)
}

/// `xxxxx-xxxxx` from an unambiguous lower-case alphabet.
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let mut code = String::with_capacity(11);
    for i in 0..10 {
        if i == 5 {
            code.push('-');
        }
        let index = (rng.next_u32() as usize) % ALPHABET.len();
        code.push(char::from(ALPHABET[index]));
    }
    code
}
