//! `huntzen restore FILE`: brings a backup back to a serving state in an empty database. The dump
//! and its key snapshot are authenticated first (nothing is written for a truncated, altered or
//! foreign file); the request role is created; schema, data, the key snapshot (erasure ledger
//! applied) and then constraints, triggers and grants are loaded by `psql` in one transaction (all
//! or nothing); pending migrations run; the ledger's erasures are replayed; the audit chain is
//! verified.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use anyhow::{Context, bail};
use sqlx::Connection as _;
use tokio::io::AsyncWriteExt as _;

use super::backup::{Target, decrypt, dump_id, keys_sql, tool};
use crate::infra::backup_files::{self, BackupDir};
use crate::infra::crypto::Keyring;
use crate::infra::db::{Db, PoolSizes};

/// What a restore did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    /// Data keys loaded from the key snapshot (destroyed ones included, without material).
    pub keys: usize,
    /// Erasures replayed from the ledger.
    pub replayed: usize,
    /// Audit rows whose chain was verified.
    pub audit_rows: i64,
}

/// Restores `file` (a `.dump.enc`, its `.keys.enc` beside it) into the empty database `target`,
/// replaying the erasure ledger of `backups`. Progress goes to `out`.
pub async fn restore(
    file: &Path,
    target: Target<'_>,
    keyring: &Arc<Keyring>,
    backups: &BackupDir,
    note_retention_years: u32,
    out: &mut (impl Write + Send),
) -> anyhow::Result<Restored> {
    // 1. Authenticate everything before writing anything.
    let id = dump_id(file)?;
    let dump = axum::body::Bytes::from(decrypt(keyring, file)?);
    let keys_path = backup_files::snapshot_of(file).context("key snapshot path")?;
    anyhow::ensure!(
        keys_path.exists(),
        "{} is missing: a backup is its dump and its key snapshot, copied together",
        keys_path.display()
    );
    let mut snapshot = backup_files::read_snapshot(keyring, &keys_path)?;
    anyhow::ensure!(
        snapshot.backup_id == id,
        "{} belongs to another backup",
        keys_path.display()
    );
    let dir = backups.clone();
    let ledger = tokio::task::spawn_blocking(move || dir.ledger()).await??;
    let pruned = snapshot.apply(&ledger);
    writeln!(
        out,
        "authenticated backup {id} (taken {}): {} bytes, {} data keys; {} erasures in the ledger{}",
        snapshot.taken_at.to_rfc3339(),
        dump.len(),
        snapshot.keys.len(),
        ledger.len(),
        if pruned > 0 {
            format!(", {pruned} more keys destroyed now")
        } else {
            String::new()
        }
    )?;

    // 2. The target must be empty; the request role must exist (roles live outside a database).
    let mut conn = sqlx::PgConnection::connect_with(target.options)
        .await
        .context("connecting to the target database")?;
    let relations: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
             AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'"#
    )
    .fetch_one(&mut conn)
    .await?;
    if relations > 0 {
        bail!(
            "the target database is not empty ({relations} relations): restore into a new, empty database \
             (createdb, or for the embedded default a DATA_DIR whose postgres/ folder is new); nothing was written"
        );
    }
    crate::infra::db::ensure_request_role(&mut conn).await?;
    conn.close().await.ok();

    // 3. One psql transaction: schema, data, keys, then constraints, triggers and grants.
    let pg_restore = tool("pg_restore")?;
    let mut script = Vec::new();
    for (section, label) in [("pre-data", "schema"), ("data", "rows")] {
        writeln!(out, "restoring the {label}…")?;
        script.extend(section_sql(&pg_restore, &dump, section).await?);
    }
    script.extend_from_slice(b"\n");
    script.extend(keys_sql(&snapshot).into_bytes());
    writeln!(out, "restoring constraints, triggers, policies and grants…")?;
    script.extend(section_sql(&pg_restore, &dump, "post-data").await?);
    run_psql(target, script).await?;

    // 4. Bring the schema up to this version, replay the erasures the backup predates, verify.
    let db = Db::connect(target.options.clone(), PoolSizes { app: 1, system: 2 }).await?;
    let done = super::backup::reconcile(&db.system, keyring, backups, note_retention_years).await;
    let verified = crate::infra::audit::verify(&db).await;
    db.close().await;
    let done = done?;
    writeln!(out, "replayed {} erasures from the ledger", done.replayed)?;
    let audit_rows = match verified? {
        crate::infra::audit::Verification::Intact { rows } => rows,
        crate::infra::audit::Verification::Broken { seq, id } => {
            bail!("restored, but the audit chain is broken at row #{seq} ({id})")
        }
    };
    writeln!(out, "audit chain intact: {audit_rows} rows")?;
    Ok(Restored {
        keys: snapshot.keys.len(),
        replayed: done.replayed,
        audit_rows,
    })
}

/// One section of the archive as SQL (`pg_restore --file=-`, the archive on standard input).
async fn section_sql(
    pg_restore: &Path,
    dump: &axum::body::Bytes,
    section: &str,
) -> anyhow::Result<Vec<u8>> {
    let mut command = tokio::process::Command::new(pg_restore);
    command.args(["--no-owner", &format!("--section={section}"), "--file=-"]);
    let output = pipe_through(command, dump.clone()).await?;
    if !output.status.success() {
        bail!(
            "pg_restore ({section}) failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

async fn run_psql(target: Target<'_>, script: Vec<u8>) -> anyhow::Result<()> {
    let mut command = tokio::process::Command::new(tool("psql")?);
    command
        .args(target.args())
        .args([
            "--no-psqlrc",
            "--quiet",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            "--file=-",
        ])
        .env("LC_ALL", "C");
    let output = pipe_through(command, axum::body::Bytes::from(script)).await?;
    if !output.status.success() {
        bail!(
            "restoring failed, nothing was kept (one transaction): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Runs `command` with `input` on its standard input (written while its output is read, so
/// neither side blocks on a full pipe); its standard output and error are collected.
async fn pipe_through(
    mut command: tokio::process::Command,
    input: axum::body::Bytes,
) -> anyhow::Result<std::process::Output> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {:?}", command.as_std().get_program()))?;
    let mut stdin = child.stdin.take().context("child stdin")?;
    let feed = tokio::spawn(async move {
        let written = stdin.write_all(&input).await;
        drop(stdin);
        written
    });
    let output = child.wait_with_output().await?;
    // A child that fails early closes its input: its own error says more than the broken pipe.
    let fed = feed.await?;
    if output.status.success() {
        fed.context("writing to the child's input")?;
    }
    Ok(output)
}
