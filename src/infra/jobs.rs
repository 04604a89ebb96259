//! Job payloads and their enqueueing on the durable PostgreSQL queue (apalis-postgres). Jobs are
//! enqueued in the same transaction as the change that causes them (the request role may insert
//! into the queue, not read it). The workers that run them live in `app::jobs`.

use apalis::prelude::TaskBuilder;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::infra::error::ApiError;
use crate::infra::mail::MailKind;

/// Queue of mail jobs.
pub const MAIL_QUEUE: &str = "mail";

/// Send `kind` to `user_id`. Carries ids only: the link's token is created when the job runs.
/// The one exception is a registration notice to an address that has no account (`to`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailJob {
    /// Which message.
    pub kind: MailKind,
    /// The recipient (nil with `to`).
    pub user_id: Uuid,
    /// An address with no account (registration notices only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The language of a mail to `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// Enqueues a mail to an address that has no account, in the caller's transaction.
pub async fn enqueue_mail_to_address(
    conn: &mut PgConnection,
    kind: MailKind,
    to: &str,
    locale: &str,
) -> Result<(), ApiError> {
    let job = MailJob {
        kind,
        user_id: Uuid::nil(),
        to: Some(to.to_owned()),
        locale: Some(locale.to_owned()),
    };
    let args = serde_json::to_vec(&job).map_err(ApiError::internal)?;
    apalis_postgres::queries::push_tasks(
        conn,
        MAIL_QUEUE,
        vec![TaskBuilder::new(args).max_attempts(8).build()],
    )
    .await
    .map_err(ApiError::internal)
}

/// Enqueues a mail job in the caller's transaction.
pub async fn enqueue_mail(
    conn: &mut PgConnection,
    kind: MailKind,
    user_id: Uuid,
) -> Result<(), ApiError> {
    enqueue_mails(conn, kind, &[user_id]).await
}

/// Enqueues one mail job per user, in one statement, in the caller's transaction.
pub async fn enqueue_mails(
    conn: &mut PgConnection,
    kind: MailKind,
    user_ids: &[Uuid],
) -> Result<(), ApiError> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let tasks = user_ids
        .iter()
        .map(|&user_id| {
            let args = serde_json::to_vec(&MailJob {
                kind,
                user_id,
                to: None,
                locale: None,
            })
            .map_err(ApiError::internal)?;
            Ok(TaskBuilder::new(args).max_attempts(8).build())
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    apalis_postgres::queries::push_tasks(conn, MAIL_QUEUE, tasks)
        .await
        .map_err(ApiError::internal)
}

/// Queue of backups.
pub const BACKUP_QUEUE: &str = "backups";

/// Take a backup with this id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupJob {
    pub id: Uuid,
}

/// Enqueues a backup in the caller's transaction.
pub async fn enqueue_backup(conn: &mut PgConnection, id: Uuid) -> Result<(), ApiError> {
    let args = serde_json::to_vec(&BackupJob { id }).map_err(ApiError::internal)?;
    let task = TaskBuilder::new(args).max_attempts(3).build();
    apalis_postgres::queries::push_tasks(conn, BACKUP_QUEUE, vec![task])
        .await
        .map_err(ApiError::internal)
}

/// Queue of consultation reminders.
pub const REMINDER_QUEUE: &str = "reminders";

/// Remind both participants of a consultation. Carries the start it was planned for: a reminder
/// whose consultation was cancelled or moved does nothing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReminderJob {
    pub consultation_id: Uuid,
    pub scheduled_at: chrono::DateTime<chrono::Utc>,
    pub hours_before: i64,
}

/// Hours before the start at which reminders go out.
pub const REMINDER_HOURS: [i64; 2] = [24, 1];

/// Schedules the reminders of a consultation (those still in the future), in the caller's transaction.
pub async fn schedule_reminders(
    conn: &mut PgConnection,
    consultation_id: Uuid,
    scheduled_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    let now = chrono::Utc::now();
    let mut tasks = Vec::new();
    for hours_before in REMINDER_HOURS {
        let run_at = scheduled_at - chrono::Duration::hours(hours_before);
        if run_at <= now {
            continue;
        }
        let args = serde_json::to_vec(&ReminderJob {
            consultation_id,
            scheduled_at,
            hours_before,
        })
        .map_err(ApiError::internal)?;
        let run_at = u64::try_from(run_at.timestamp()).unwrap_or_default();
        tasks.push(
            TaskBuilder::new(args)
                .run_at_timestamp(run_at)
                .max_attempts(5)
                .build(),
        );
    }
    if tasks.is_empty() {
        return Ok(());
    }
    apalis_postgres::queries::push_tasks(conn, REMINDER_QUEUE, tasks)
        .await
        .map_err(ApiError::internal)
}
