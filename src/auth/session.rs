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
    let session_id: Uuid = sqlx::query_scalar(
        "INSERT INTO login_sessions (user_id, ip_address, user_agent, expires_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(user_id)
    .bind(&meta.ip)
    .bind(&meta.user_agent)
    .bind(expires_at)
    .fetch_one(&mut *conn)
    .await?;
    let (refresh_token, hash) = new_opaque_token();
    sqlx::query(
        "INSERT INTO refresh_tokens (session_id, user_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(hash)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(OpenedSession {
        session_id,
        refresh_token,
        expires_at,
    })
}
