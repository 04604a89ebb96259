//! Backups: `pg_dump` (custom format) of the whole database, sealed with the master keyring and
//! written to `$DATA_DIR/backups/<time>-<id>.dump.enc` (owner-only). Triggered by
//! `POST /api/super-admin/backup` (a job) or `huntzen backup`; `huntzen decrypt-backup` turns a file
//! back into a dump for `pg_restore` (see `docs/backup.md`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

use crate::infra::crypto::Keyring;

fn place(id: Uuid) -> Vec<u8> {
    format!("backups:{id}").into_bytes()
}

/// `pg_dump` arguments that reach the database: the URL when given, else the pool's options.
fn connection_args(database_url: Option<&str>, options: &PgConnectOptions) -> Vec<String> {
    match database_url {
        Some(url) => vec![format!("--dbname={url}")],
        None => {
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

/// Dumps, seals and writes a backup; returns its path.
pub async fn run(
    data_dir: &Path,
    database_url: Option<&str>,
    options: &PgConnectOptions,
    keyring: &Keyring,
    id: Uuid,
) -> anyhow::Result<PathBuf> {
    // The client alone is enough (the image has postgresql-client, not the server).
    let pg_dump = crate::infra::db::embedded::find_tools(&["pg_dump"])
        .context("pg_dump is needed for backups: install the `postgresql-client` package")?
        .join("pg_dump");
    let output = tokio::process::Command::new(&pg_dump)
        .args(connection_args(database_url, options))
        .args(["--format=custom", "--no-owner", "--no-privileges"])
        .env("LC_ALL", "C")
        .output()
        .await
        .with_context(|| format!("running {}", pg_dump.display()))?;
    if !output.status.success() {
        bail!(
            "pg_dump failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let sealed = keyring.seal(&place(id), &output.stdout);
    let dir = data_dir.join("backups");
    tokio::fs::create_dir_all(&dir)
        .await
        .context("creating the backups directory")?;
    let path = dir.join(format!(
        "{}-{id}.dump.enc",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    tokio::fs::write(&path, sealed)
        .await
        .context("writing the backup")?;
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).await?;
    Ok(path)
}

/// Opens a backup file (its id is in its name) into the `pg_dump` custom-format bytes.
pub fn decrypt(keyring: &Keyring, path: &Path) -> anyhow::Result<Vec<u8>> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("backup file name")?;
    let id: Uuid = name
        .strip_suffix(".dump.enc")
        .and_then(|stem| stem.get(stem.len().saturating_sub(36)..))
        .and_then(|id| id.parse().ok())
        .context("the file name does not end with <id>.dump.enc")?;
    let sealed = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let dump = keyring
        .open(&place(id), &sealed)
        .map_err(|e| anyhow::anyhow!("cannot decrypt {}: {e}", path.display()))?;
    Ok(dump.to_vec())
}
