//! Per-request transactions. `begin_as` opens a transaction on the request pool and, in the same
//! round trip as the session check, sets the transaction-local context (`app.user_id`,
//! `app.role`, `app.company_id`, `app.employee_id`, `app.practitioner_id`) that every policy reads.
//! The settings end with the transaction, so a pooled connection never carries them further.

use sqlx::PgPool;
use uuid::Uuid;

use crate::infra::identity::Principal;

/// A transaction on the request pool.
pub type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

/// Opens a transaction on `pool`, in a task of its own so that it cannot be cancelled half-way.
///
/// A request future is dropped when its client goes away. If that happened while sqlx waited for
/// the answer to `BEGIN`, sqlx had not counted the transaction yet, and its rollback guard does
/// nothing at depth 0: the connection went back to the pool inside an open transaction, and the
/// next user's `BEGIN` only warned ("there is already a transaction in progress"); a statement run
/// outside a transaction on it would not have been committed. In a task, `BEGIN` always
/// completes, and a transaction nobody awaits any more is dropped, so rolled back, normally.
#[expect(
    clippy::disallowed_methods,
    reason = "the one place a transaction is opened: in its own task, so it cannot be cancelled half-way"
)]
pub async fn begin(pool: &PgPool) -> Result<Tx, sqlx::Error> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin().await })
        .await
        .map_err(|error| sqlx::Error::Io(std::io::Error::other(error)))?
}

/// Opens a transaction for a live login session, or `None` when the session has ended or the user
/// or their company is no longer active.
pub async fn begin_as(
    pool: &PgPool,
    session_id: Uuid,
) -> Result<Option<(Tx, Principal)>, sqlx::Error> {
    let mut tx = begin(pool).await?;
    let principal = sqlx::query_as!(
        Principal,
        r#"SELECT user_id AS "user_id!", role AS "role!", company_id, employee_id, practitioner_id
           FROM app_begin($1)"#,
        session_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(principal.map(|principal| (tx, principal)))
}

/// Opens a transaction with no user context: policies grant it only public rows.
pub async fn begin_anonymous(pool: &PgPool) -> Result<Tx, sqlx::Error> {
    begin(pool).await
}
