//! TOTP (RFC 6238: SHA-1, 6 digits, 30 s, one step of skew) and recovery codes: reading a user's
//! second factor and checking a code. Used by sign-in, step-up and the 2FA routes.

use sqlx::PgConnection;
use totp_rs::{Builder, Secret, Totp};
use uuid::Uuid;

use crate::infra::crypto::{Keyring, aad};
use crate::infra::error::ApiError;
use crate::infra::sessions::hash_token;

const ISSUER: &str = "HuntZen Care";

pub(super) fn totp(secret: Vec<u8>, account: &str) -> Result<Totp, ApiError> {
    Builder::new()
        .with_secret(Secret::from(secret))
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| ApiError::internal(format!("totp: {e:?}")))
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct TwoFactorState {
    pub(super) email: String,
    pub(super) secret: Option<Vec<u8>>,
    pub(super) enabled: bool,
    pub(super) last_step: Option<i64>,
}

pub(super) async fn load(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<TwoFactorState, sqlx::Error> {
    sqlx::query_as!(
        TwoFactorState,
        r#"SELECT email, totp_secret AS secret, totp_enabled_at IS NOT NULL AS "enabled!",
             totp_last_step AS last_step
           FROM users
           WHERE id = $1
           FOR UPDATE"#,
        user_id
    )
    .fetch_one(conn)
    .await
}

pub(super) fn secret_aad(user_id: Uuid) -> Vec<u8> {
    aad("users", "totp_secret", user_id)
}

/// Checks a TOTP code (never twice the same step) or, with `allow_recovery`, spends a recovery
/// code. `conn` must be able to update the user's row and recovery codes.
pub async fn check_code(
    conn: &mut PgConnection,
    keyring: &Keyring,
    user_id: Uuid,
    code: &str,
    allow_recovery: bool,
) -> Result<bool, ApiError> {
    let state = load(&mut *conn, user_id).await?;
    let Some(sealed) = state.secret else {
        return Ok(false);
    };
    let secret = keyring
        .open(&secret_aad(user_id), &sealed)
        .map_err(ApiError::internal)?;
    let code = code.trim().replace(' ', "");
    if code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()) {
        let totp = totp(secret.to_vec(), &state.email)?;
        let Some(step) = totp.check_current(&code) else {
            return Ok(false);
        };
        let step = step as i64;
        if state.last_step.is_some_and(|last| step <= last) {
            return Ok(false);
        }
        sqlx::query!(
            r#"UPDATE users SET totp_last_step = $2 WHERE id = $1"#,
            user_id,
            step
        )
        .execute(&mut *conn)
        .await?;
        return Ok(true);
    }
    if !allow_recovery || !state.enabled {
        return Ok(false);
    }
    let spent = sqlx::query!(
        r#"UPDATE recovery_codes SET used_at = now()
           WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL"#,
        user_id,
        hash_token(&code.to_lowercase())
    )
    .execute(conn)
    .await?;
    Ok(spent.rows_affected() == 1)
}
