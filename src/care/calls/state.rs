//! Call state in PostgreSQL (`live_calls`), so that every node sees the same calls: one row per
//! consultation while it rings (`connected_at` NULL) or is connected. Changes that decide between
//! callers (initiate) are serialised by one advisory lock; the others are single statements.

use sqlx::PgPool;
use uuid::Uuid;

/// What `call:initiate` led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiated {
    /// A new call rings the other side; its id tells a later timeout which call it was.
    Ring(Uuid),
    /// One side is already in another call.
    Busy,
    /// The other side was already calling me: that call is now connected.
    Glare,
    /// This consultation already has a call (initiate twice): nothing to do.
    Again,
}

/// A call that ended (hung up, dropped or cleared).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Ended {
    pub consultation_id: Uuid,
    pub caller: Uuid,
    pub callee: Uuid,
    /// Seconds it was connected (`None`: it never was).
    pub seconds: Option<i64>,
}

impl Ended {
    /// The participant who is not `me`.
    pub fn other(&self, me: Uuid) -> Uuid {
        if self.caller == me {
            self.callee
        } else {
            self.caller
        }
    }
}

/// Starts a call from `me` to `other`, or connects the one `other` already started (glare).
/// Ringing rows older than `ring_seconds` (left by a node that stopped) are dropped first.
pub async fn initiate(
    db: &PgPool,
    consultation: Uuid,
    me: Uuid,
    other: Uuid,
    ring_seconds: u64,
) -> Result<Initiated, sqlx::Error> {
    let mut tx = crate::infra::db::context::begin(db).await?;
    sqlx::query!(r#"SELECT pg_advisory_xact_lock(hashtext('huntzen.live_calls'))"#)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        r#"DELETE
           FROM live_calls
           WHERE connected_at IS NULL
             AND created_at < now() - make_interval(secs => $1::double precision + 5)"#,
        ring_seconds as f64
    )
    .execute(&mut *tx)
    .await?;
    let existing: Option<(Uuid, bool)> = sqlx::query!(
        r#"SELECT callee AS "callee!", connected_at IS NULL AS "col1!"
               FROM live_calls
               WHERE consultation_id = $1"#,
        consultation
    )
    .map(|r| (r.callee, r.col1))
    .fetch_optional(&mut *tx)
    .await?;
    let outcome = match existing {
        Some((callee, true)) if callee == me => {
            sqlx::query!(
                r#"UPDATE live_calls SET connected_at = now() WHERE consultation_id = $1"#,
                consultation
            )
            .execute(&mut *tx)
            .await?;
            Initiated::Glare
        }
        Some(_) => Initiated::Again,
        None => {
            let pair = [me, other];
            let busy: bool = sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM live_calls WHERE caller = ANY($1) OR callee = ANY($1)) AS "value!""#,
                &pair[..]
            )
            .fetch_one(&mut *tx)
            .await?;
            if busy {
                Initiated::Busy
            } else {
                let call = Uuid::now_v7();
                sqlx::query!(
                    r#"INSERT INTO live_calls (consultation_id, call_id, caller, callee)
                       VALUES ($1, $2, $3, $4)"#,
                    consultation,
                    call,
                    me,
                    other
                )
                .execute(&mut *tx)
                .await?;
                Initiated::Ring(call)
            }
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// The callee answers a ringing call: true when there was one.
pub async fn accept(db: &PgPool, consultation: Uuid, me: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        r#"UPDATE live_calls SET connected_at = now()
           WHERE consultation_id = $1 AND callee = $2 AND connected_at IS NULL"#,
        consultation,
        me
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The callee declines a ringing call: true when there was one.
pub async fn reject(db: &PgPool, consultation: Uuid, me: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        r#"DELETE
           FROM live_calls
           WHERE consultation_id = $1 AND callee = $2 AND connected_at IS NULL"#,
        consultation,
        me
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Either side hangs up.
pub async fn end(db: &PgPool, consultation: Uuid, me: Uuid) -> Result<Option<Ended>, sqlx::Error> {
    sqlx::query_as!(
        Ended,
        r#"DELETE
           FROM live_calls
           WHERE consultation_id = $1 AND $2 IN (caller, callee)
           RETURNING consultation_id, caller, callee,
             EXTRACT(EPOCH FROM now() - connected_at)::bigint AS seconds"#,
        consultation,
        me
    )
    .fetch_optional(db)
    .await
}

/// The ring timeout: ends call `call` if it is still ringing.
pub async fn expire(
    db: &PgPool,
    consultation: Uuid,
    call: Uuid,
) -> Result<Option<Ended>, sqlx::Error> {
    sqlx::query_as!(
        Ended,
        r#"DELETE
           FROM live_calls
           WHERE consultation_id = $1 AND call_id = $2 AND connected_at IS NULL
           RETURNING consultation_id, caller, callee,
             EXTRACT(EPOCH FROM now() - connected_at)::bigint AS seconds"#,
        consultation,
        call
    )
    .fetch_optional(db)
    .await
}

/// Ends every call of a user who has no socket left (or whose node stopped).
pub async fn drop_user(db: &PgPool, me: Uuid) -> Result<Vec<Ended>, sqlx::Error> {
    sqlx::query_as!(
        Ended,
        r#"DELETE
           FROM live_calls
           WHERE $1 IN (caller, callee)
           RETURNING consultation_id, caller, callee,
             EXTRACT(EPOCH FROM now() - connected_at)::bigint AS seconds"#,
        me
    )
    .fetch_all(db)
    .await
}

/// Ends `me`'s calls created before `before` (left by a node that stopped).
pub async fn drop_stale(
    db: &PgPool,
    me: Uuid,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Ended>, sqlx::Error> {
    sqlx::query_as!(
        Ended,
        r#"DELETE
           FROM live_calls
           WHERE $1 IN (caller, callee) AND created_at < $2
           RETURNING consultation_id, caller, callee,
             EXTRACT(EPOCH FROM now() - connected_at)::bigint AS seconds"#,
        me,
        before
    )
    .fetch_all(db)
    .await
}

/// The other participant of `me`'s call in this consultation (for relaying WebRTC messages).
pub async fn peer(db: &PgPool, consultation: Uuid, me: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT CASE WHEN caller = $2 THEN callee ELSE caller END AS "peer!"
           FROM live_calls
           WHERE consultation_id = $1 AND $2 IN (caller, callee)"#,
        consultation,
        me
    )
    .fetch_optional(db)
    .await
}
