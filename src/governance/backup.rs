//! Backups (docs/backup.md). A backup is two files in `$DATA_DIR/backups`, both sealed with the
//! master keyring: `<time>-<id>.dump.enc`, a `pg_dump` custom archive of the whole database
//! *without the data keys' rows*, and `<time>-<id>.keys.enc`, those rows at the same snapshot. An
//! erasure is applied to every kept key snapshot and recorded in the erasure ledger beside them
//! (`infra::backup_files`), so no backup can yield an erased person's content again, and
//! `huntzen restore` (`governance::restore`) replays the ledger so no erased account comes back.
//! Each run deletes the backups older than `BACKUP_RETENTION_DAYS`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

use crate::infra::backup_files::{
    self, BackupDir, DUMP_SUFFIX, KEYS_SUFFIX, KeyRow, KeySnapshot, LedgerEntry,
};
use crate::infra::crypto::Keyring;

const TIME_FORMAT: &str = "%Y%m%dT%H%M%SZ";

fn place(id: Uuid) -> Vec<u8> {
    format!("backups:{id}").into_bytes()
}

/// How the PostgreSQL tools reach the database: the URL when given, else the pool's options.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// `DATABASE_URL`, when the database is external.
    pub database_url: Option<&'a str>,
    /// The connection options (the embedded cluster's socket when there is no URL).
    pub options: &'a PgConnectOptions,
}

impl Target<'_> {
    /// Connection arguments for `pg_dump` and `psql`.
    pub fn args(&self) -> Vec<String> {
        match self.database_url {
            Some(url) => vec![format!("--dbname={url}")],
            None => {
                let options = self.options;
                let host = options.get_socket().map_or_else(
                    || options.get_host().to_owned(),
                    |s| s.display().to_string(),
                );
                vec![
                    format!("--host={host}"),
                    format!("--port={}", options.get_port()),
                    format!("--username={}", options.get_username()),
                    format!("--dbname={}", options.get_database().unwrap_or("huntzen")),
                ]
            }
        }
    }
}

/// A PostgreSQL client tool (the image has postgresql-client, not the server).
pub fn tool(name: &str) -> anyhow::Result<PathBuf> {
    Ok(crate::infra::db::embedded::find_tools(&[name])
        .with_context(|| format!("{name} is needed: install the `postgresql-client` package"))?
        .join(name))
}

/// What a backup run wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// The sealed dump.
    pub dump: PathBuf,
    /// Its key snapshot.
    pub keys: PathBuf,
    /// Data keys in the snapshot.
    pub key_rows: usize,
    /// Older backups deleted (past `BACKUP_RETENTION_DAYS`).
    pub pruned: usize,
}

/// Dumps, seals and writes a backup (dump and key snapshot of one database snapshot), then deletes
/// the backups older than `retention_days` (0 keeps every backup).
pub async fn run(
    system: &PgPool,
    target: Target<'_>,
    keyring: &Arc<Keyring>,
    data_dir: &Path,
    id: Uuid,
    retention_days: u32,
) -> anyhow::Result<Written> {
    let pg_dump = tool("pg_dump")?;
    // One snapshot for both files: the keys are read in the transaction whose snapshot pg_dump
    // imports, so every key a dumped row refers to is in the key snapshot.
    let mut tx = crate::infra::db::context::begin(system).await?;
    // A utility statement, fixed text: nothing to check against the schema.
    sqlx::raw_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let exported: String = sqlx::query_scalar!(r#"SELECT pg_export_snapshot() AS "id!""#)
        .fetch_one(&mut *tx)
        .await?;
    let taken_at: DateTime<Utc> = sqlx::query_scalar!(r#"SELECT now() AS "now!""#)
        .fetch_one(&mut *tx)
        .await?;
    let keys: Vec<KeyRow> = sqlx::query!(
        r#"SELECT id, subject_type::text AS "subject_type!", subject_id, master_key_id,
                  wrapped_key, destroyed_at, sealed_at, purge_after, created_at
           FROM data_keys ORDER BY id"#
    )
    .map(|r| KeyRow {
        id: r.id,
        subject_type: r.subject_type,
        subject_id: r.subject_id,
        master_key_id: r.master_key_id,
        wrapped_key: r.wrapped_key.map(hex::encode),
        destroyed_at: r.destroyed_at,
        sealed_at: r.sealed_at,
        purge_after: r.purge_after,
        created_at: r.created_at,
    })
    .fetch_all(&mut *tx)
    .await?;
    let output = tokio::process::Command::new(&pg_dump)
        .args(target.args())
        .args([
            "--format=custom",
            "--no-owner",
            "--exclude-table-data=public.data_keys",
        ])
        .arg(format!("--snapshot={exported}"))
        .env("LC_ALL", "C")
        .output()
        .await
        .with_context(|| format!("running {}", pg_dump.display()))?;
    tx.rollback().await.ok();
    if !output.status.success() {
        bail!(
            "pg_dump failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let sealed = keyring.seal(&place(id), &output.stdout);
    let backups = BackupDir::new(data_dir);
    let stem = format!("{}-{id}", taken_at.format(TIME_FORMAT));
    let key_rows = keys.len();
    let snapshot = KeySnapshot {
        backup_id: id,
        taken_at,
        keys,
    };
    let ring = keyring.clone();
    let dir = backups.clone();
    let written = tokio::task::spawn_blocking(move || -> anyhow::Result<Written> {
        // Keys first, under the ledger's lock (an erasure that committed after the snapshot is
        // applied to them); the dump last, so a dump file always has its keys beside it.
        let keys = dir.write_snapshot(&ring, &stem, snapshot)?;
        let dump = dir.path().join(format!("{stem}{DUMP_SUFFIX}"));
        backup_files::write_atomically(&dump, &sealed)?;
        let pruned = prune(&dir, retention_days, Utc::now())?;
        Ok(Written {
            dump,
            keys,
            key_rows,
            pruned,
        })
    })
    .await??;
    Ok(written)
}

/// When a backup file was taken, read from its name.
fn taken_at(name: &str) -> Option<DateTime<Utc>> {
    let time = name.get(..16)?;
    NaiveDateTime::parse_from_str(time, TIME_FORMAT)
        .ok()
        .map(|t| t.and_utc())
}

/// Deletes the backups (dump and key snapshot) taken more than `retention_days` before `now`,
/// key snapshots whose dump is gone and temporary files of interrupted runs (over an hour old).
pub fn prune(
    backups: &BackupDir,
    retention_days: u32,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let entries = match std::fs::read_dir(backups.path()) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error).context("listing the backups directory"),
    };
    let cutoff = now - chrono::Duration::days(i64::from(retention_days));
    let stale = now - chrono::Duration::hours(1);
    let mut pruned = 0;
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let Some(at) = taken_at(&name) else { continue };
        let expired = retention_days > 0 && at < cutoff;
        let remove = if name.ends_with(DUMP_SUFFIX) {
            expired
        } else if let Some(stem) = name.strip_suffix(KEYS_SUFFIX) {
            let dump = path.with_file_name(format!("{stem}{DUMP_SUFFIX}"));
            expired || (at < stale && !dump.exists())
        } else {
            name.ends_with(".tmp") && at < stale
        };
        if remove {
            std::fs::remove_file(&path).with_context(|| format!("deleting {}", path.display()))?;
            if name.ends_with(DUMP_SUFFIX) {
                pruned += 1;
            }
        }
    }
    Ok(pruned)
}

/// Opens a backup's dump (its id is in its name) into the `pg_dump` custom-format bytes. A
/// truncated, altered or foreign file fails here, before anything is written anywhere.
pub fn decrypt(keyring: &Keyring, path: &Path) -> anyhow::Result<Vec<u8>> {
    let id = dump_id(path)?;
    let sealed = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let dump = keyring.open(&place(id), &sealed).map_err(|e| {
        anyhow::anyhow!(
            "{} cannot be authenticated with ENCRYPTION_KEY ({e}): truncated, altered, renamed, or sealed by another key",
            path.display()
        )
    })?;
    anyhow::ensure!(
        dump.starts_with(b"PGDMP"),
        "{} is not a pg_dump archive",
        path.display()
    );
    Ok(dump.to_vec())
}

/// The backup id in a dump file's name.
pub fn dump_id(path: &Path) -> anyhow::Result<Uuid> {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(DUMP_SUFFIX))
        .and_then(backup_files::id_of_stem)
        .with_context(|| {
            format!(
                "{}: a backup file's name ends with <id>{DUMP_SUFFIX}",
                path.display()
            )
        })
}

/// SQL that loads a key snapshot's rows into `public.data_keys` (run between the data and the
/// constraints of a restore; `docs/backup.md` shows the by-hand sequence).
pub fn keys_sql(snapshot: &KeySnapshot) -> String {
    fn time(t: Option<DateTime<Utc>>) -> String {
        t.map_or_else(|| "NULL".to_owned(), |t| format!("'{}'", t.to_rfc3339()))
    }
    let mut sql = String::from(
        "-- HuntZen key snapshot: data keys (wrapped by the master keyring), erasures applied.\n",
    );
    for chunk in snapshot.keys.chunks(500) {
        sql.push_str("INSERT INTO public.data_keys (id, subject_type, subject_id, master_key_id, wrapped_key, destroyed_at, sealed_at, purge_after, created_at) VALUES\n");
        let rows: Vec<String> = chunk
            .iter()
            .map(|k| {
                // Every value is a uuid, an enum label of ours, hex, or a timestamp we wrote:
                // none can hold a quote; the checks below keep it so.
                let label = if k
                    .subject_type
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_')
                {
                    k.subject_type.as_str()
                } else {
                    "USER"
                };
                let master: String = k
                    .master_key_id
                    .chars()
                    .filter(char::is_ascii_hexdigit)
                    .collect();
                let wrapped = k
                    .wrapped_key
                    .as_deref()
                    .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
                    .map_or_else(|| "NULL".to_owned(), |h| format!("'\\x{h}'::bytea"));
                format!(
                    "('{}', '{label}', '{}', '{master}', {wrapped}, {}, {}, {}, '{}')",
                    k.id,
                    k.subject_id,
                    time(k.destroyed_at),
                    time(k.sealed_at),
                    time(k.purge_after),
                    k.created_at.to_rfc3339()
                )
            })
            .collect();
        sql.push_str(&rows.join(",\n"));
        sql.push_str(";\n");
    }
    sql
}

/// What `reconcile` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// Ledger entries the database did not know (a restored backup), replayed.
    pub replayed: usize,
    /// Erasures the ledger did not hold yet (a crash right after an erasure), copied to it.
    pub recorded: usize,
}

/// Brings the database and the backups directory into agreement, at every start: ledger entries
/// the database lacks are replayed (an old backup restored by hand brings no erased account back),
/// and erasures the ledger lacks are appended and applied to every kept key snapshot.
pub async fn reconcile(
    system: &PgPool,
    keyring: &Arc<Keyring>,
    backups: &BackupDir,
    note_retention_years: u32,
) -> anyhow::Result<Reconciled> {
    let backups = backups.clone();
    let dir = backups.clone();
    let ledger = tokio::task::spawn_blocking(move || dir.ledger()).await??;
    let recorded: Vec<LedgerEntry> = sqlx::query!(
        r#"SELECT id, user_id, erased_at, destroyed_keys, sealed_keys, purge_after
           FROM erasures ORDER BY erased_at, id"#
    )
    .map(|r| LedgerEntry {
        id: r.id,
        user_id: r.user_id,
        erased_at: r.erased_at,
        destroyed_keys: r.destroyed_keys,
        sealed_keys: r.sealed_keys,
        purge_after: r.purge_after,
    })
    .fetch_all(system)
    .await?;
    let known: std::collections::HashSet<Uuid> = recorded.iter().map(|e| e.id).collect();
    let mut done = Reconciled::default();
    for entry in ledger.iter().filter(|e| !known.contains(&e.id)) {
        let mut tx = crate::infra::db::context::begin(system).await?;
        if crate::governance::gdpr::replay(&mut tx, entry, note_retention_years).await? {
            done.replayed += 1;
        }
        tx.commit().await?;
    }
    let in_ledger: std::collections::HashSet<Uuid> = ledger.iter().map(|e| e.id).collect();
    let missing: Vec<LedgerEntry> = recorded
        .into_iter()
        .filter(|e| !in_ledger.contains(&e.id))
        .collect();
    if !missing.is_empty() {
        let ring = keyring.clone();
        done.recorded =
            tokio::task::spawn_blocking(move || backups.record(&ring, &missing)).await??;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_expired_backups_orphans_and_stale_temporaries_are_pruned() {
        let dir = tempfile::tempdir().expect("dir");
        let backups = BackupDir::at(dir.path().to_path_buf());
        let now = Utc::now();
        let name = |days: i64, suffix: &str| {
            let at = now - chrono::Duration::days(days);
            format!("{}-{}{suffix}", at.format(TIME_FORMAT), Uuid::new_v4())
        };
        let touch = |n: &str| std::fs::write(dir.path().join(n), b"x").expect("write");
        let old_stem = name(40, "");
        let kept_stem = name(2, "");
        for n in [
            format!("{old_stem}{DUMP_SUFFIX}"),
            format!("{old_stem}{KEYS_SUFFIX}"),
            format!("{kept_stem}{DUMP_SUFFIX}"),
            format!("{kept_stem}{KEYS_SUFFIX}"),
            name(3, KEYS_SUFFIX),
            name(3, ".dump.tmp"),
            "erasures.jsonl".to_owned(),
        ] {
            touch(&n);
        }
        assert_eq!(prune(&backups, 30, now).expect("prune"), 1);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut expected = vec![
            "erasures.jsonl".to_owned(),
            format!("{kept_stem}{DUMP_SUFFIX}"),
            format!("{kept_stem}{KEYS_SUFFIX}"),
        ];
        expected.sort();
        assert_eq!(left, expected);
        assert_eq!(
            prune(&backups, 0, now + chrono::Duration::days(999)).expect("keep"),
            0
        );
    }
}
