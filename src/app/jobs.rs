//! The job workers on the durable PostgreSQL queue (apalis-postgres): mail, reminders and
//! backups. A failing job is retried with exponential backoff; one that keeps failing stays in
//! `apalis.jobs` with its last error, for inspection.

use std::sync::Arc;
use std::time::Duration;

use apalis::layers::retry::RetryPolicy;
use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};
use uuid::Uuid;

use crate::infra::db::Db;
use crate::infra::jobs::{
    BACKUP_QUEUE, BackupJob, MAIL_QUEUE, MailJob, REMINDER_QUEUE, ReminderJob,
};
use crate::infra::mail::{MailKind, Mailer, templates};
use crate::infra::state::AppState;
use crate::people::accounts::one_time::{self, Purpose};

/// What jobs need.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// Database (jobs run on the system pool: they act for no user).
    pub db: Db,
    /// Outgoing mail.
    pub mailer: Mailer,
    /// Base of links.
    pub public_url: String,
    /// Master keyring (backups are sealed with it).
    pub keyring: Arc<crate::infra::crypto::Keyring>,
    /// Where backups go, and how pg_dump reaches the database.
    pub data_dir: std::path::PathBuf,
    /// `DATABASE_URL`, when the database is external.
    pub database_url: Option<String>,
    /// Days backups are kept (`BACKUP_RETENTION_DAYS`).
    pub backup_retention_days: u32,
    /// Retries of a failing job (with exponential backoff from 1 s) before it is left failed.
    pub retries: usize,
}

impl JobContext {
    /// What background jobs need from the state: the database (their own small owner pool, so
    /// that queue polling and listening never starve sign-ins), the mailer, the public URL.
    pub fn new(state: &AppState) -> anyhow::Result<Self> {
        let jobs_pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect_lazy_with((*state.db.system.connect_options()).clone());
        Ok(Self {
            db: Db {
                app: state.db.app.clone(),
                system: jobs_pool,
            },
            mailer: Mailer::new(
                state.settings.smtp_url.as_deref(),
                &state.settings.mail_from,
                &state.settings.data_dir,
            )?,
            public_url: state.settings.public_url.clone(),
            keyring: state.keyring.clone(),
            data_dir: state.settings.data_dir.clone(),
            database_url: state.settings.database_url.clone(),
            backup_retention_days: state.settings.backup_retention_days,
            retries: state.settings.job_retries,
        })
    }
}

async fn back_up(job: BackupJob, ctx: Data<Arc<JobContext>>) -> Result<(), BoxDynError> {
    let options = ctx.db.system.connect_options();
    let target = crate::governance::backup::Target {
        database_url: ctx.database_url.as_deref(),
        options: &options,
    };
    let written = crate::governance::backup::run(
        &ctx.db.system,
        target,
        &ctx.keyring,
        &ctx.data_dir,
        job.id,
        ctx.backup_retention_days,
    )
    .await?;
    tracing::info!(
        dump = %written.dump.display(),
        keys = written.key_rows,
        pruned = written.pruned,
        "backup written"
    );
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
struct Recipient {
    email: String,
    pending_email: Option<String>,
    locale: String,
    name: Option<String>,
    erased: bool,
}

async fn deliver(job: MailJob, ctx: Data<Arc<JobContext>>) -> Result<(), BoxDynError> {
    let base = ctx.public_url.trim_end_matches('/');
    if let Some(to) = job.to.as_deref() {
        // A registration notice to an address without an account: no token, no name.
        let link = format!("{base}/{}", job.kind.link_path());
        let locale = job.locale.as_deref().unwrap_or("fr");
        let rendered = templates::render(job.kind, locale, "", &link, 0);
        ctx.mailer.send(to, &rendered).await?;
        tracing::info!(kind = ?job.kind, "mail sent to an address without an account");
        return Ok(());
    }
    let mut tx = crate::infra::db::context::begin(&ctx.db.system).await?;
    let recipient = sqlx::query_as!(
        Recipient,
        r#"SELECT u.email, u.pending_email, u.locale,
             coalesce(e.first_name, p.first_name, u.first_name) AS name,
             u.erased_at IS NOT NULL AS "erased!"
           FROM users u
             LEFT
           JOIN employees e ON e.user_id = u.id
             LEFT
           JOIN practitioners p ON p.user_id = u.id
           WHERE u.id = $1"#,
        job.user_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(recipient) = recipient.filter(|r| !r.erased) else {
        // The account is gone: nothing to send, and nothing to retry.
        return Ok(());
    };
    let to = if job.kind == MailKind::ConfirmEmailChange {
        // The change was withdrawn or already applied: nothing to confirm.
        let Some(pending) = recipient.pending_email.clone() else {
            return Ok(());
        };
        pending
    } else {
        recipient.email.clone()
    };
    let purpose = match job.kind {
        MailKind::VerifyEmail => Some(Purpose::VerifyEmail),
        MailKind::Invitation => Some(Purpose::Invitation),
        MailKind::PasswordReset => Some(Purpose::ResetPassword),
        MailKind::ConfirmEmailChange => Some(Purpose::ChangeEmail),
        MailKind::AccountUnlock => Some(Purpose::Unlock),
        MailKind::EmailChangeRequested
        | MailKind::PractitionerValidated
        | MailKind::PractitionerRejected
        | MailKind::SupportReply
        | MailKind::ReportReady
        | MailKind::PasswordChanged
        | MailKind::RegistrationExists
        | MailKind::RegistrationNoCompany => None,
    };
    let path = job.kind.link_path();
    let (link, hours) = match purpose {
        // The token is committed before the mail leaves, so the link works as soon as it
        // arrives; a failed send is retried with a new token (issuing one retires the previous).
        Some(purpose) => {
            let token = one_time::issue(&mut tx, job.user_id, purpose).await?;
            tx.commit().await?;
            (
                format!("{base}/{path}?token={token}"),
                purpose.lifetime().num_hours(),
            )
        }
        None => {
            tx.rollback().await?;
            (format!("{base}/{path}"), 0)
        }
    };
    let name = recipient.name.as_deref().unwrap_or(&recipient.email);
    let rendered = if job.kind == MailKind::PractitionerRejected {
        // The reason is the reviewer's words to this practitioner, read now (the latest one).
        let reason: Option<String> = sqlx::query_scalar!(
            r#"SELECT rejection_reason FROM practitioners WHERE user_id = $1"#,
            job.user_id
        )
        .fetch_optional(&ctx.db.system)
        .await?
        .flatten();
        templates::practitioner_rejected(&recipient.locale, name, reason.as_deref(), &link)
    } else {
        templates::render(job.kind, &recipient.locale, name, &link, hours)
    };
    ctx.mailer.send(&to, &rendered).await?;
    tracing::info!(kind = ?job.kind, user_id = %job.user_id, "mail sent");
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
struct ReminderTarget {
    user_id: Uuid,
    email: String,
    locale: String,
    name: String,
}

async fn remind(job: ReminderJob, ctx: Data<Arc<JobContext>>) -> Result<(), BoxDynError> {
    let mut tx = crate::infra::db::context::begin(&ctx.db.system).await?;
    let current: Option<(chrono::DateTime<chrono::Utc>, String, String)> = sqlx::query!(
        r#"SELECT c.scheduled_at AS "scheduled_at!", c.status::text AS "col1!",
             p.time_zone AS "time_zone!"
           FROM consultations c
           JOIN practitioners p ON p.id = c.practitioner_id
           WHERE c.id = $1"#,
        job.consultation_id
    )
    .map(|r| (r.scheduled_at, r.col1, r.time_zone))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((scheduled_at, status, zone)) = current else {
        return Ok(());
    };
    if scheduled_at != job.scheduled_at || !matches!(status.as_str(), "SCHEDULED" | "CONFIRMED") {
        return Ok(());
    }
    let zone: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::Europe::Paris);
    let when = scheduled_at
        .with_timezone(&zone)
        .format("%Y-%m-%d %H:%M (%Z)")
        .to_string();
    let targets: Vec<ReminderTarget> = sqlx::query_as!(
        ReminderTarget,
        r#"SELECT u.id AS "user_id!", u.email AS "email!", u.locale AS "locale!",
             e.first_name AS "name!"
           FROM consultations c
           JOIN employees e ON e.id = c.employee_id
           JOIN users u ON u.id = e.user_id
           WHERE c.id = $1 AND u.erased_at IS NULL
           UNION ALL SELECT u.id, u.email, u.locale, p.first_name
           FROM consultations c
           JOIN practitioners p ON p.id = c.practitioner_id
           JOIN users u ON u.id = p.user_id
           WHERE c.id = $1 AND u.erased_at IS NULL"#,
        job.consultation_id
    )
    .fetch_all(&mut *tx)
    .await?;
    for target in &targets {
        let rendered = templates::reminder(&target.locale, &target.name, &when, job.hours_before);
        sqlx::query!(
            r#"INSERT INTO notifications (user_id, type, title, message, link_url)
               VALUES ($1, 'CONSULTATION_REMINDER', $2, $3, $4)"#,
            target.user_id,
            &rendered.subject,
            &when,
            format!("/consultations/{}", job.consultation_id)
        )
        .execute(&mut *tx)
        .await?;
        ctx.mailer.send(&target.email, &rendered).await?;
    }
    tx.commit().await?;
    tracing::info!(consultation_id = %job.consultation_id, hours_before = job.hours_before, "reminders sent");
    Ok(())
}

fn retry_policy(
    retries: usize,
) -> Option<apalis::layers::retry::BackoffRetryPolicy<tower::retry::backoff::ExponentialBackoff>> {
    use tower::retry::backoff::MakeBackoff;
    let mut maker = tower::retry::backoff::ExponentialBackoffMaker::new(
        Duration::from_secs(1),
        Duration::from_secs(300),
        0.5,
        tower::util::rng::HasherRng::default(),
    )
    .ok()?;
    Some(RetryPolicy::retries(retries).with_backoff(maker.make_backoff()))
}

/// Workers poll their queue every half second. (apalis-postgres's `Pubsub` wake-up stream was
/// tried and dropped: combined with the interval it made every worker re-fetch in a tight loop,
/// ~2,000 `get_jobs` transactions per second on an idle server; with the interval alone, and each
/// worker in its own task, it is 6: one per worker per tick. Half a second of latency on a mail or
/// a reminder costs nothing.)
fn wake_up(_pool: &sqlx::PgPool, _queue: &str) -> Strategy {
    Strategy::new().interval(Duration::from_millis(500))
}

/// How often a worker says it is alive.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Heartbeats a worker may miss before it counts as dead: the jobs it had claimed go back to the
/// queue for any replica's worker after `HEARTBEAT × MISSED_HEARTBEATS` (the lease, 30 s).
const MISSED_HEARTBEATS: usize = 3;

/// A worker's queue settings: the queue, and the lease after which a dead replica's claimed jobs
/// are re-queued (by the heartbeat of any live worker of that queue).
fn worker_config(queue: &str) -> Config {
    Config::default()
        .queue(queue)
        .heartbeat_interval(HEARTBEAT)
        .missed_heartbeats(MISSED_HEARTBEATS)
}

/// How often the monthly report notices are checked.
const REPORT_NOTICE_EVERY: Duration = Duration::from_secs(15 * 60);

type Shutdown = futures::future::Shared<futures::future::BoxFuture<'static, ()>>;

/// Keeps one job worker running until `shutdown`: a worker that stops (its database went away,
/// "pool timed out") is started again with backoff (1 s doubling to 30 s), forever. Each start
/// registers under a new name (`mailer@<instance>.<n>`): apalis refuses a name already
/// registered, and jobs the previous one had claimed are re-queued by the queue's heartbeat check.
async fn supervise<F, Fut>(kind: &'static str, instance: String, shutdown: Shutdown, start: F)
where
    F: Fn(String, Shutdown) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut delay = Duration::from_secs(1);
    for generation in 0u64.. {
        let name = format!("{kind}@{instance}.{generation}");
        let started = std::time::Instant::now();
        let result = start(name.clone(), shutdown.clone()).await;
        if shutdown.peek().is_some() {
            return;
        }
        match result {
            Ok(()) => tracing::warn!(worker = %name, "job worker stopped; starting it again"),
            Err(error) => {
                tracing::error!(%error, worker = %name, "job worker stopped; starting it again");
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            delay = Duration::from_secs(1);
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.clone() => return,
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

/// This process's part of the worker names: every replica runs every worker, under its own names.
fn instance_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_default();
    let suffix = Uuid::new_v4().simple().to_string();
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect();
    if host.is_empty() {
        format!("{}-{}", std::process::id(), &suffix[..8])
    } else {
        format!("{host}-{}-{}", std::process::id(), &suffix[..8])
    }
}

/// Runs the job workers (mail, reminders, backups) until `shutdown` resolves, each kept running
/// by [`supervise`]. Every replica runs all three: the queue hands each job to one of them.
pub async fn run(
    ctx: JobContext,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    use futures::FutureExt;
    let Some(policy) = retry_policy(ctx.retries) else {
        tracing::error!("invalid job retry backoff");
        return;
    };
    let shutdown: Shutdown = shutdown.boxed().shared();
    let stop = |shutdown: Shutdown| async move {
        shutdown.await;
        Ok::<(), std::io::Error>(())
    };
    let ctx = Arc::new(ctx);
    let instance = instance_name();
    tracing::info!(instance = %instance, "job workers starting");
    let mail = {
        let (ctx, policy) = (ctx.clone(), policy.clone());
        move |name: String, shutdown: Shutdown| {
            let worker = WorkerBuilder::new(name)
                .backend(
                    PostgresStorage::<MailJob>::new(&ctx.db.system)
                        .with_config(worker_config(MAIL_QUEUE))
                        .poll_with_strategy(wake_up(&ctx.db.system, MAIL_QUEUE)),
                )
                .data(ctx.clone())
                .retry(policy.clone())
                .build(deliver);
            worker
                .run_until(stop(shutdown))
                .map(|r| r.map_err(|e| e.to_string()))
        }
    };
    let reminders = {
        let ctx = ctx.clone();
        move |name: String, shutdown: Shutdown| {
            let worker = WorkerBuilder::new(name)
                .backend(
                    PostgresStorage::<ReminderJob>::new(&ctx.db.system)
                        .with_config(worker_config(REMINDER_QUEUE))
                        .poll_with_strategy(wake_up(&ctx.db.system, REMINDER_QUEUE)),
                )
                .data(ctx.clone())
                .retry(policy.clone())
                .build(remind);
            worker
                .run_until(stop(shutdown))
                .map(|r| r.map_err(|e| e.to_string()))
        }
    };
    let backups = {
        let ctx = ctx.clone();
        move |name: String, shutdown: Shutdown| {
            let worker = WorkerBuilder::new(name)
                .backend(
                    PostgresStorage::<BackupJob>::new(&ctx.db.system)
                        .with_config(worker_config(BACKUP_QUEUE))
                        .poll_with_strategy(wake_up(&ctx.db.system, BACKUP_QUEUE)),
                )
                .data(ctx.clone())
                .build(back_up);
            worker
                .run_until(stop(shutdown))
                .map(|r| r.map_err(|e| e.to_string()))
        }
    };
    // Not a queue: a check every few minutes that enqueues the monthly "report ready" mails once
    // per company and month (governance::reports::notify_reports_ready is idempotent).
    let notices = {
        let ctx = ctx.clone();
        move |_name: String, shutdown: Shutdown| {
            let db = ctx.db.system.clone();
            async move {
                loop {
                    match crate::governance::reports::notify_reports_ready(&db).await {
                        Ok(0) => {}
                        Ok(mails) => tracing::info!(mails, "monthly report notices enqueued"),
                        Err(error) => return Err(format!("{error:?}")),
                    }
                    tokio::select! {
                        () = tokio::time::sleep(REPORT_NOTICE_EVERY) => {}
                        () = shutdown.clone() => return Ok(()),
                    }
                }
            }
        }
    };
    // Each worker in a task of its own (a `JoinSet`: dropping `run` aborts them). Joined in one
    // task, any worker's wake-up (its fetch finishing) polled the other two, and a worker polled
    // between ticks fetches again: the three kept each other fetching in a loop, hundreds of
    // `get_jobs` a second on an idle server.
    let mut workers = tokio::task::JoinSet::new();
    workers.spawn(supervise("mailer", instance.clone(), shutdown.clone(), mail).boxed());
    workers.spawn(supervise("reminders", instance.clone(), shutdown.clone(), reminders).boxed());
    workers.spawn(supervise("backups", instance.clone(), shutdown.clone(), backups).boxed());
    workers.spawn(supervise("report-notices", instance, shutdown, notices).boxed());
    while let Some(joined) = workers.join_next().await {
        if let Err(error) = joined {
            tracing::error!(%error, "job worker task ended");
        }
    }
}
