//! Background jobs on a durable PostgreSQL queue (apalis-postgres). Jobs are enqueued in the same
//! transaction as the change that causes them (the request role may insert into the queue, not
//! read it). A failing job is retried with exponential backoff; one that keeps failing stays in
//! `apalis.jobs` with its last error, for inspection.

use std::sync::Arc;
use std::time::Duration;

use apalis::layers::retry::RetryPolicy;
use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::one_time::{self, Purpose};
use crate::db::Db;
use crate::mail::{MailKind, Mailer, templates};

/// Queue of mail jobs.
pub const MAIL_QUEUE: &str = "mail";

/// Send `kind` to `user_id`. Carries ids only: the link's token is created when the job runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailJob {
    /// Which message.
    pub kind: MailKind,
    /// The recipient.
    pub user_id: Uuid,
}

/// Enqueues a mail job in the caller's transaction.
pub async fn enqueue_mail(
    conn: &mut PgConnection,
    kind: MailKind,
    user_id: Uuid,
) -> Result<(), crate::error::ApiError> {
    enqueue_mails(conn, kind, &[user_id]).await
}

/// Enqueues one mail job per user, in one statement, in the caller's transaction.
pub async fn enqueue_mails(
    conn: &mut PgConnection,
    kind: MailKind,
    user_ids: &[Uuid],
) -> Result<(), crate::error::ApiError> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let tasks = user_ids
        .iter()
        .map(|&user_id| {
            let args = serde_json::to_vec(&MailJob { kind, user_id }).map_err(crate::error::ApiError::internal)?;
            Ok(TaskBuilder::new(args).max_attempts(8).build())
        })
        .collect::<Result<Vec<_>, crate::error::ApiError>>()?;
    apalis_postgres::queries::push_tasks(conn, MAIL_QUEUE, tasks)
        .await
        .map_err(crate::error::ApiError::internal)
}

/// What jobs need.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// Database (jobs run on the system pool: they act for no user).
    pub db: Db,
    /// Outgoing mail.
    pub mailer: Mailer,
    /// Base of links.
    pub public_url: String,
}

#[derive(Debug, sqlx::FromRow)]
struct Recipient {
    email: String,
    locale: String,
    name: Option<String>,
    erased: bool,
}

async fn deliver(job: MailJob, ctx: Data<Arc<JobContext>>) -> Result<(), BoxDynError> {
    let mut tx = ctx.db.system.begin().await?;
    let recipient = sqlx::query_as::<_, Recipient>(
        "SELECT u.email, u.locale, coalesce(e.first_name, p.first_name, u.first_name) AS name, u.erased_at IS NOT NULL AS erased \
         FROM users u LEFT JOIN employees e ON e.user_id = u.id LEFT JOIN practitioners p ON p.user_id = u.id \
         WHERE u.id = $1",
    )
    .bind(job.user_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(recipient) = recipient.filter(|r| !r.erased) else {
        // The account is gone: nothing to send, and nothing to retry.
        return Ok(());
    };
    let (purpose, path) = match job.kind {
        MailKind::VerifyEmail => (Purpose::VerifyEmail, "verify-email"),
        MailKind::Invitation => (Purpose::Invitation, "reset-password"),
        MailKind::PasswordReset => (Purpose::ResetPassword, "reset-password"),
    };
    let token = one_time::issue(&mut tx, job.user_id, purpose).await?;
    let link = format!("{}/{path}?token={token}", ctx.public_url.trim_end_matches('/'));
    let name = recipient.name.as_deref().unwrap_or(&recipient.email);
    let rendered = templates::render(job.kind, &recipient.locale, name, &link, purpose.lifetime().num_hours());
    ctx.mailer.send(&recipient.email, &rendered).await?;
    tx.commit().await?;
    tracing::info!(kind = ?job.kind, user_id = %job.user_id, "mail sent");
    Ok(())
}

/// Runs the job workers until `shutdown` resolves.
pub async fn run(ctx: JobContext, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
    let backend = PostgresStorage::<MailJob>::new(&ctx.db.system)
        .with_config(Config::default().queue(MAIL_QUEUE))
        .with_pubsub();
    let backoff = tower::retry::backoff::ExponentialBackoffMaker::new(
        Duration::from_secs(1),
        Duration::from_secs(300),
        0.5,
        tower::util::rng::HasherRng::default(),
    )
    .map(|maker| {
        use tower::retry::backoff::MakeBackoff;
        let mut maker = maker;
        maker.make_backoff()
    });
    let Ok(backoff) = backoff else {
        tracing::error!("invalid mail retry backoff");
        return;
    };
    let worker = WorkerBuilder::new("mailer")
        .backend(backend)
        .data(Arc::new(ctx))
        .retry(RetryPolicy::retries(5).with_backoff(backoff))
        .build(deliver);
    if let Err(error) = worker
        .run_until(async move {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        })
        .await
    {
        tracing::error!(%error, "mail worker stopped");
    }
}
