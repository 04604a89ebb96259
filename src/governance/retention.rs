//! Retention: chat messages and their attachments are purged a configurable number of months
//! after their consultation ended (or was due, when cancelled or missed); audit rows after a
//! configurable number of months; an erased practitioner's sealed clinical notes (and their key)
//! once `CLINICAL_NOTE_RETENTION_YEARS` have passed, the key purge recorded in the erasure ledger
//! so it reaches the backups too. Runs once a day in the server; `purge` is the whole job.

use chrono::{Duration, Utc};
use uuid::Uuid;

use crate::infra::backup_files::{BackupDir, LedgerEntry};
use crate::infra::state::AppState;

/// What a purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Chat messages deleted.
    pub messages: u64,
    /// Attachments deleted (rows, keys destroyed, bytes removed).
    pub files: u64,
    /// Audit rows deleted.
    pub audit_rows: u64,
    /// Sealed clinical notes deleted (their retention period over).
    pub sealed_notes: u64,
}

/// Purges what is past retention (owner pool: it acts for no user).
pub async fn purge(state: &AppState) -> anyhow::Result<Purged> {
    let (db, store) = (&state.db, &state.store);
    let message_months = state.settings.message_retention_months;
    let audit_months = state.settings.audit_retention_months;
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
    // Sealed keys past their retention: the notes go, the key is destroyed, and the purge is an
    // entry of the erasure ledger (no user) so that every kept key snapshot loses it too.
    let sealed: Vec<Uuid> = sqlx::query_scalar!(
        r#"UPDATE data_keys SET wrapped_key = NULL, destroyed_at = now(), sealed_at = NULL,
                  purge_after = NULL
           WHERE sealed_at IS NOT NULL AND purge_after < now()
           RETURNING id"#
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut entry = None;
    let mut sealed_notes = 0;
    if !sealed.is_empty() {
        sealed_notes = sqlx::query!("DELETE FROM clinical_notes WHERE key_id = ANY($1)", &sealed)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let row = sqlx::query!(
            r#"INSERT INTO erasures (destroyed_keys) VALUES ($1) RETURNING id, erased_at"#,
            &sealed
        )
        .fetch_one(&mut *tx)
        .await?;
        entry = Some(LedgerEntry {
            id: row.id,
            user_id: None,
            erased_at: row.erased_at,
            destroyed_keys: sealed,
            sealed_keys: Vec::new(),
            purge_after: None,
        });
    }
    tx.commit().await?;
    for (_, key) in &files {
        store.delete(key).await.ok();
    }
    if let Some(entry) = entry {
        let backups = BackupDir::new(&state.settings.data_dir);
        let keyring = state.keyring.clone();
        tokio::task::spawn_blocking(move || backups.record(&keyring, &[entry])).await??;
    }
    Ok(Purged {
        messages,
        files: files.len() as u64,
        audit_rows,
        sealed_notes,
    })
}

/// Purges once a day until the process stops.
pub async fn daily(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(24 * 3600));
    loop {
        tick.tick().await;
        match purge(&state).await {
            Ok(purged) => tracing::info!(?purged, "retention purge done"),
            Err(error) => tracing::error!(error = %format!("{error:#}"), "retention purge failed"),
        }
    }
}
