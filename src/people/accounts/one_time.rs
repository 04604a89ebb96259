//! One-time tokens for email verification, password reset and invitations: 32 random bytes
//! (base64url, safe in a URL), stored as SHA-256, single use, expiring. Issuing a new token of a
//! purpose retires the user's earlier unused ones.

use chrono::Duration;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::infra::sessions::{hash_token, new_opaque_token};

/// What a token is for (`one_time_token_purpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type, serde::Serialize, serde::Deserialize)]
#[sqlx(
    type_name = "one_time_token_purpose",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum Purpose {
    /// Confirms an email address.
    VerifyEmail,
    /// Sets a new password.
    ResetPassword,
    /// Sets the first password of an invited account.
    Invitation,
    /// Confirms the new address of `PUT /api/me/email` (`users.pending_email`).
    ChangeEmail,
    /// Lets the owner sign in while wrong passwords slow their account.
    Unlock,
}

impl Purpose {
    /// How long a token stays valid.
    pub fn lifetime(self) -> Duration {
        match self {
            Purpose::VerifyEmail => Duration::hours(48),
            Purpose::ResetPassword => Duration::hours(2),
            Purpose::Invitation => Duration::days(7),
            Purpose::ChangeEmail => Duration::hours(24),
            Purpose::Unlock => Duration::hours(2),
        }
    }

    /// As stored (`one_time_token_purpose`).
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "VERIFY_EMAIL",
            Purpose::ResetPassword => "RESET_PASSWORD",
            Purpose::Invitation => "INVITATION",
            Purpose::ChangeEmail => "CHANGE_EMAIL",
            Purpose::Unlock => "UNLOCK",
        }
    }
}

/// Issues a token and returns its raw value (to be mailed, never stored).
pub async fn issue(
    conn: &mut PgConnection,
    user_id: Uuid,
    purpose: Purpose,
) -> Result<String, sqlx::Error> {
    sqlx::query!(
        r#"UPDATE one_time_tokens SET used_at = now()
           WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL"#,
        user_id,
        purpose
    )
    .execute(&mut *conn)
    .await?;
    let (token, hash) = new_opaque_token();
    sqlx::query!(
        r#"INSERT INTO one_time_tokens (user_id, purpose, token_hash, expires_at)
           VALUES ($1, $2, $3, now() + make_interval(secs => $4))"#,
        user_id,
        purpose,
        hash,
        purpose.lifetime().as_seconds_f64()
    )
    .execute(&mut *conn)
    .await?;
    Ok(token)
}

/// Spends a token of one of `purposes`; `None` when unknown, used, expired or of another purpose.
/// Atomic: of concurrent attempts with one token, one succeeds.
pub async fn consume(
    conn: &mut PgConnection,
    token: &str,
    purposes: &[Purpose],
) -> Result<Option<(Uuid, Purpose)>, sqlx::Error> {
    sqlx::query!(
        "UPDATE one_time_tokens SET used_at = now()
         WHERE token_hash = $1 AND purpose = ANY($2::text[]::one_time_token_purpose[]) AND used_at IS NULL AND expires_at > now()
         RETURNING user_id, purpose",
        hash_token(token),
        &purposes.iter().map(|p| p.as_str()).collect::<Vec<_>>() as &[&str]
    )
    .map(|r| (r.user_id, r.purpose))
    .fetch_optional(conn)
    .await
}
