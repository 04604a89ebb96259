//! Step-up: a sensitive request (erasure, and later every change of credentials or of another
//! person's access) proves the caller is the account's owner now, not only the holder of a bearer
//! token: it carries the current password and, with 2FA on, a TOTP or recovery code. Wrong or
//! missing → 401 `auth.reauth_required` and nothing changes. Wrong proofs count against a per-user
//! limit (`throttle::STEP_UP_PER_USER`), so a stolen token cannot guess the password.

use serde::Deserialize;

use super::throttle;
use super::totp::check_code;
use crate::infra::auth::{Auth, RoleSet};
use crate::infra::error::{ApiError, ApiResult};
use crate::infra::passwords::Verified;
use crate::infra::state::AppState;

/// The proof a sensitive request carries in its body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepUp {
    /// The caller's current password.
    #[serde(default)]
    pub current_password: Option<String>,
    /// With 2FA on: a TOTP code or an unused recovery code.
    #[serde(default)]
    pub totp_code: Option<String>,
}

fn reauth_required() -> ApiError {
    ApiError::unauthorized(
        "auth.reauth_required",
        "Confirm this action with your current password (and a two-factor code when 2FA is on).",
    )
}

/// Checks the proof for the caller of `auth`; a recovery code it uses is spent in `auth`'s
/// transaction (so it stays spent only if the action commits).
pub async fn confirm<R: RoleSet>(
    state: &AppState,
    auth: &mut Auth<R>,
    proof: Option<&StepUp>,
) -> ApiResult<()> {
    let user_id = auth.principal.user_id;
    let password = proof
        .and_then(|p| p.current_password.as_deref())
        .unwrap_or("");
    if password.is_empty() {
        // Nothing was guessed: refused, and not counted.
        return Err(reauth_required());
    }
    let mut conn = state.db.system.acquire().await?;
    throttle::check(&mut conn, throttle::STEP_UP_PER_USER, user_id.as_bytes()).await?;
    let account = sqlx::query!(
        r#"SELECT password_hash, totp_enabled_at IS NOT NULL AS "two_factor!" FROM users WHERE id = $1"#,
        user_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let verified = state
        .passwords
        .verify(password, account.password_hash.as_deref())
        .await?;
    let mut ok = verified != Verified::No;
    if ok && account.two_factor {
        let code = proof.and_then(|p| p.totp_code.as_deref()).unwrap_or("");
        ok = !code.trim().is_empty()
            && check_code(&mut auth.tx, &state.keyring, user_id, code, true).await?;
    }
    if !ok {
        throttle::record(&mut conn, throttle::STEP_UP_PER_USER, user_id.as_bytes()).await?;
        return Err(reauth_required());
    }
    Ok(())
}
