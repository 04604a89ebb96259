//! Login sessions and refresh tokens. A refresh token is 32 random bytes (base64url); only its
//! SHA-256 is stored. Each login is one session: every refresh token descends from it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::Rng as _;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

/// Lifetime of a login session and of each refresh token.
pub const REFRESH_TTL: Duration = Duration::days(30);

/// Where a request came from (stored on sessions and audit rows).
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    /// Client IP address.
    pub ip: Option<String>,
    /// `User-Agent` header.
    pub user_agent: Option<String>,
}

/// A new random opaque token and its stored hash.
pub fn new_opaque_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// SHA-256 of an opaque token (tokens are random, so no salt or slow hash is needed).
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A newly opened session.
#[derive(Debug)]
pub struct OpenedSession {
    /// Session id (the access token's `sid`).
    pub session_id: Uuid,
    /// The first refresh token, to hand to the client once.
    pub refresh_token: String,
    /// When the session ends at the latest.
    pub expires_at: DateTime<Utc>,
}

/// Opens a session for `user_id` with its first refresh token.
pub async fn open(
    conn: &mut PgConnection,
    user_id: Uuid,
    meta: &ClientMeta,
) -> Result<OpenedSession, sqlx::Error> {
    let expires_at = Utc::now() + REFRESH_TTL;
    let session_id: Uuid = sqlx::query_scalar!(
        r#"INSERT INTO login_sessions (user_id, ip_address, user_agent, expires_at)
           VALUES ($1, $2, $3, $4)
           RETURNING id"#,
        user_id,
        meta.ip.as_deref(),
        meta.user_agent.as_deref(),
        expires_at
    )
    .fetch_one(&mut *conn)
    .await?;
    let (refresh_token, hash) = new_opaque_token();
    sqlx::query!(
        r#"INSERT INTO refresh_tokens (session_id, user_id, token_hash, expires_at)
           VALUES ($1, $2, $3, $4)"#,
        session_id,
        user_id,
        hash,
        expires_at
    )
    .execute(&mut *conn)
    .await?;
    Ok(OpenedSession {
        session_id,
        refresh_token,
        expires_at,
    })
}

/// Ends every live session of a user (password or role change, 2FA disabled, deactivation);
/// returns their ids (to disconnect their sockets).
pub async fn revoke_all(
    conn: &mut PgConnection,
    user_id: Uuid,
    reason: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    revoke_others(conn, user_id, None, reason).await
}

/// Ends every live session of a user but `keep` (the caller's own, when they stay signed in);
/// returns their ids.
pub async fn revoke_others(
    conn: &mut PgConnection,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"UPDATE login_sessions SET revoked_at = now(), revoked_reason = $3
           WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2
           RETURNING id"#,
        user_id,
        keep,
        reason
    )
    .fetch_all(conn)
    .await
}

/// Ends every live session of every user of a company (company deactivated or deleted).
pub async fn revoke_company(
    conn: &mut PgConnection,
    company_id: Uuid,
    reason: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        r#"UPDATE login_sessions SET revoked_at = now(), revoked_reason = $2
           WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users WHERE company_id = $1)"#,
        company_id,
        reason
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Outcome of presenting a refresh token.
#[derive(Debug)]
pub enum Rotation {
    /// A new refresh token for the same session.
    Rotated {
        /// The user.
        user_id: Uuid,
        /// The session.
        session_id: Uuid,
        /// The new refresh token.
        refresh_token: String,
    },
    /// The token had already been spent: the whole session was revoked.
    Reused {
        /// The user.
        user_id: Uuid,
        /// The revoked session.
        session_id: Uuid,
    },
    /// Unknown token, ended session, or inactive account.
    Invalid,
}

#[derive(Debug, sqlx::FromRow)]
struct Presented {
    id: Uuid,
    session_id: Uuid,
    user_id: Uuid,
    spent: bool,
    usable: bool,
}

/// Spends `token` and issues its successor, in the caller's transaction. The token row is locked,
/// so of concurrent presentations exactly one rotates; the others find it spent.
pub async fn rotate(conn: &mut PgConnection, token: &str) -> Result<Rotation, sqlx::Error> {
    let presented = sqlx::query_as!(
        Presented,
        r#"SELECT rt.id, rt.session_id, rt.user_id, rt.used_at IS NOT NULL AS "spent!",
             (rt.expires_at > now() AND s.revoked_at IS NULL AND s.expires_at > now() AND u.is_active AND NOT u.awaiting_approval AND u.erased_at IS NULL AND (u.company_id IS NULL OR (c.is_active AND c.deleted_at IS NULL))) AS "usable!"
           FROM refresh_tokens rt
           JOIN login_sessions s ON s.id = rt.session_id
           JOIN users u ON u.id = rt.user_id
             LEFT
           JOIN companies c ON c.id = u.company_id
           WHERE rt.token_hash = $1
           FOR UPDATE OF rt"#,
        hash_token(token)
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(presented) = presented else {
        return Ok(Rotation::Invalid);
    };
    if presented.spent {
        sqlx::query!(
            r#"UPDATE login_sessions SET revoked_at = coalesce(revoked_at, now()),
                 revoked_reason = coalesce(revoked_reason, 'refresh token reused')
               WHERE id = $1"#,
            presented.session_id
        )
        .execute(&mut *conn)
        .await?;
        return Ok(Rotation::Reused {
            user_id: presented.user_id,
            session_id: presented.session_id,
        });
    }
    if !presented.usable {
        return Ok(Rotation::Invalid);
    }
    sqlx::query!(
        r#"UPDATE refresh_tokens SET used_at = now() WHERE id = $1"#,
        presented.id
    )
    .execute(&mut *conn)
    .await?;
    let expires_at = Utc::now() + REFRESH_TTL;
    sqlx::query!(
        r#"UPDATE login_sessions SET expires_at = $2, last_used_at = now() WHERE id = $1"#,
        presented.session_id,
        expires_at
    )
    .execute(&mut *conn)
    .await?;
    let (refresh_token, hash) = new_opaque_token();
    sqlx::query!(
        r#"INSERT INTO refresh_tokens (session_id, user_id, token_hash, parent_id, expires_at)
           VALUES ($1, $2, $3, $4, $5)"#,
        presented.session_id,
        presented.user_id,
        hash,
        presented.id,
        expires_at
    )
    .execute(&mut *conn)
    .await?;
    Ok(Rotation::Rotated {
        user_id: presented.user_id,
        session_id: presented.session_id,
        refresh_token,
    })
}
