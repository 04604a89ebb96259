//! Throttling of authentication attempts, counted in PostgreSQL (`auth_throttle`) so that every
//! node shares the counts. Failures are counted per account and per client address; successes are
//! not, so an office behind one address can sign in freely while guessing is slowed on both keys.
//! Windows slide: once the oldest counted attempt leaves the window, attempts are allowed again —
//! there is no permanent lockout, and over a sign-in limit the owner still gets in (the right
//! password with a 2FA code, or with a mailed unlock link: see `login`).

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::infra::error::ApiError;

/// A limit: at most `max` counted attempts per key within `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Namespace of the counter.
    pub scope: &'static str,
    /// Attempts allowed in the window.
    pub max: i64,
    /// Window length in seconds.
    pub window_secs: i64,
}

/// Failed sign-ins per account (hashed email, known or not: the answer must not reveal which).
pub const LOGIN_PER_ACCOUNT: Limit = Limit {
    scope: "login:account",
    max: 10,
    window_secs: 15 * 60,
};
/// Failed sign-ins per client address.
pub const LOGIN_PER_ADDRESS: Limit = Limit {
    scope: "login:address",
    max: 100,
    window_secs: 15 * 60,
};
/// Unlock links mailed per account (one per window: the link stays valid for two hours).
pub const UNLOCK_MAIL_PER_ACCOUNT: Limit = Limit {
    scope: "unlock:account",
    max: 1,
    window_secs: 15 * 60,
};
/// Registrations per client address.
pub const REGISTER_PER_ADDRESS: Limit = Limit {
    scope: "register:address",
    max: 10,
    window_secs: 60 * 60,
};
/// Registrations per email domain.
pub const REGISTER_PER_DOMAIN: Limit = Limit {
    scope: "register:domain",
    max: 50,
    window_secs: 60 * 60,
};
/// Reset and verification requests per account.
pub const MAIL_REQUEST_PER_ACCOUNT: Limit = Limit {
    scope: "mail:account",
    max: 3,
    window_secs: 15 * 60,
};
/// Reset and verification requests per client address.
pub const MAIL_REQUEST_PER_ADDRESS: Limit = Limit {
    scope: "mail:address",
    max: 30,
    window_secs: 15 * 60,
};
/// Invalid one-time or refresh tokens per client address.
pub const TOKEN_FAILURE_PER_ADDRESS: Limit = Limit {
    scope: "token:address",
    max: 30,
    window_secs: 15 * 60,
};
/// Wrong step-up proofs (password or 2FA code) per user: a stolen token cannot guess the
/// password. A request that carries no password at all is refused without counting.
pub const STEP_UP_PER_USER: Limit = Limit {
    scope: "step-up:user",
    max: 10,
    window_secs: 15 * 60,
};
/// Wrong 2FA codes per user (enabling 2FA).
pub const TWO_FACTOR_PER_USER: Limit = Limit {
    scope: "2fa:user",
    max: 5,
    window_secs: 15 * 60,
};

/// The key of an account: SHA-256 of its lower-cased email (no address stored in clear).
pub fn account_key(email: &str) -> Vec<u8> {
    Sha256::digest(email.trim().to_lowercase().as_bytes()).to_vec()
}

/// 429 with `Retry-After` if `key` has used up `limit`.
pub async fn check(conn: &mut PgConnection, limit: Limit, key: &[u8]) -> Result<(), ApiError> {
    let (count, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query!(
        r#"SELECT count(*) AS "col0!", min(created_at) AS "col1?"
           FROM auth_throttle
           WHERE scope = $1 AND key = $2 AND created_at > now() - make_interval(secs => $3)"#,
        limit.scope,
        key,
        limit.window_secs as f64
    )
    .map(|r| (r.col0, r.col1))
    .fetch_one(conn)
    .await?;
    if count < limit.max {
        return Ok(());
    }
    let frees_at = oldest.unwrap_or_else(Utc::now) + Duration::seconds(limit.window_secs);
    Err(ApiError::rate_limited(
        (frees_at - Utc::now()).num_seconds().max(1) as u64,
    ))
}

/// Counts one attempt for `key`.
pub async fn record(conn: &mut PgConnection, limit: Limit, key: &[u8]) -> Result<(), ApiError> {
    sqlx::query!(
        r#"WITH purge AS (DELETE FROM auth_throttle WHERE random() < 0.01 AND created_at < now() - interval '1 day') INSERT INTO auth_throttle (scope, key)
           VALUES ($1, $2)"#,
        limit.scope,
        key
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Checks both the account and the address limits.
pub async fn check_both(
    conn: &mut PgConnection,
    per_account: Limit,
    account: &[u8],
    per_address: Limit,
    address: Option<&str>,
) -> Result<(), ApiError> {
    check(&mut *conn, per_account, account).await?;
    if let Some(address) = address {
        check(conn, per_address, address.as_bytes()).await?;
    }
    Ok(())
}

/// Records one attempt on both keys.
pub async fn record_both(
    conn: &mut PgConnection,
    per_account: Limit,
    account: &[u8],
    per_address: Limit,
    address: Option<&str>,
) -> Result<(), ApiError> {
    record(&mut *conn, per_account, account).await?;
    if let Some(address) = address {
        record(conn, per_address, address.as_bytes()).await?;
    }
    Ok(())
}
