//! Retention: chat messages and their attachments are purged a configurable number of months
//! after their consultation ended (or was due, when cancelled or missed); audit rows after a
//! configurable number of months. Runs once a day in the job runner; `purge` is the whole job.

use chrono::{Duration, Utc};
use uuid::Uuid;

use crate::infra::db::Db;
use crate::infra::storage::Store;

/// What a purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Chat messages deleted.
    pub messages: u64,
    /// Attachments deleted (rows, keys destroyed, bytes removed).
    pub files: u64,
    /// Audit rows deleted.
    pub audit_rows: u64,
}

/// Purges what is past retention (owner pool: it acts for no user).
pub async fn purge(
    db: &Db,
    store: &Store,
    message_months: u32,
    audit_months: u32,
) -> anyhow::Result<Purged> {
    let message_cutoff = Utc::now() - Duration::days(30 * i64::from(message_months));
    let audit_cutoff = Utc::now() - Duration::days(30 * i64::from(audit_months));
    let mut tx = crate::infra::db::context::begin(&db.system).await?;
    let files = sqlx::query!(
        "DELETE FROM files WHERE purpose = 'CHAT_ATTACHMENT' AND consultation_id IN
             (SELECT id FROM consultations WHERE coalesce(ended_at, add_minutes(scheduled_at, duration)) < $1
              AND status IN ('COMPLETED', 'CANCELLED', 'NO_SHOW'))
         RETURNING id, storage_key",
        message_cutoff
    )
    .map(|r| (r.id, r.storage_key))
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<Uuid> = files.iter().map(|f| f.0).collect();
    sqlx::query!(
        r#"UPDATE data_keys SET wrapped_key = NULL, destroyed_at = now()
           WHERE subject_type = 'FILE' AND subject_id = ANY($1) AND destroyed_at IS NULL"#,
        &ids
    )
    .execute(&mut *tx)
    .await?;
    let messages = sqlx::query!(
        r#"DELETE
           FROM messages
           WHERE consultation_id IN (SELECT id FROM consultations WHERE coalesce(ended_at, add_minutes(scheduled_at, duration)) < $1 AND status IN ('COMPLETED', 'CANCELLED', 'NO_SHOW'))"#,
        message_cutoff
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let audit_rows = sqlx::query!(
        r#"DELETE FROM audit_logs WHERE created_at < $1"#,
        audit_cutoff
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    for (_, key) in &files {
        store.delete(key).await.ok();
    }
    Ok(Purged {
        messages,
        files: files.len() as u64,
        audit_rows,
    })
}

/// Purges once a day until the process stops.
pub async fn daily(db: Db, store: Store, message_months: u32, audit_months: u32) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(24 * 3600));
    loop {
        tick.tick().await;
        match purge(&db, &store, message_months, audit_months).await {
            Ok(purged) => tracing::info!(?purged, "retention purge done"),
            Err(error) => tracing::error!(error = %format!("{error:#}"), "retention purge failed"),
        }
    }
}
