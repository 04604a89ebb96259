//! The files kept beside the database dumps in `$DATA_DIR/backups`: each dump's key snapshot
//! (`<stem>.keys.enc`, the data keys the dump leaves out) and the erasure ledger
//! (`erasures.jsonl`: ids and times only). An erasure is appended to the ledger and applied to every
//! kept snapshot under one lock, and a new snapshot is written under the same lock with the whole
//! ledger applied, so no snapshot, old or new, ever holds an erased person's keys after that.
//! These functions block (file lock, fsync): call them from `spawn_blocking`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::infra::crypto::Keyring;

/// The ledger's file name inside the backups directory.
pub const LEDGER: &str = "erasures.jsonl";
/// A dump's file name ends with this.
pub const DUMP_SUFFIX: &str = ".dump.enc";
/// Its key snapshot's file name ends with this (same stem).
pub const KEYS_SUFFIX: &str = ".keys.enc";

/// One erasure (or one purge of sealed keys, with no user): what a restore must replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    /// The erasure's id (`erasures.id`).
    pub id: Uuid,
    /// The erased account; `None` for a retention purge.
    pub user_id: Option<Uuid>,
    /// When it happened.
    pub erased_at: DateTime<Utc>,
    /// Data keys it destroyed.
    #[serde(default)]
    pub destroyed_keys: Vec<Uuid>,
    /// Data keys it sealed (an erased practitioner's notes), and until when they are kept.
    #[serde(default)]
    pub sealed_keys: Vec<Uuid>,
    /// When sealed keys are purged.
    #[serde(default)]
    pub purge_after: Option<DateTime<Utc>>,
}

/// A `data_keys` row as the snapshot holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRow {
    /// Row id.
    pub id: Uuid,
    /// `data_key_subject` label.
    pub subject_type: String,
    /// The subject's id.
    pub subject_id: Uuid,
    /// Master key that wraps it.
    pub master_key_id: String,
    /// Wrapped key, hex; `None` once destroyed.
    pub wrapped_key: Option<String>,
    /// When destroyed.
    pub destroyed_at: Option<DateTime<Utc>>,
    /// When sealed.
    pub sealed_at: Option<DateTime<Utc>>,
    /// When a sealed key is purged.
    pub purge_after: Option<DateTime<Utc>>,
    /// When created.
    pub created_at: DateTime<Utc>,
}

/// Every data key at the instant of one dump.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeySnapshot {
    /// The backup's id (in both file names).
    pub backup_id: Uuid,
    /// The dump's snapshot instant.
    pub taken_at: DateTime<Utc>,
    /// The rows.
    pub keys: Vec<KeyRow>,
}

impl KeySnapshot {
    /// Applies ledger entries: destroyed keys lose their material, sealed keys are marked sealed.
    /// Returns how many rows changed.
    pub fn apply(&mut self, entries: &[LedgerEntry]) -> usize {
        let mut changed = 0;
        for entry in entries {
            for row in &mut self.keys {
                if entry.destroyed_keys.contains(&row.id) && row.wrapped_key.is_some() {
                    row.wrapped_key = None;
                    row.destroyed_at = Some(entry.erased_at);
                    row.sealed_at = None;
                    row.purge_after = None;
                    changed += 1;
                } else if entry.sealed_keys.contains(&row.id)
                    && row.wrapped_key.is_some()
                    && row.sealed_at.is_none()
                {
                    row.sealed_at = Some(entry.erased_at);
                    row.purge_after = entry.purge_after.or(Some(entry.erased_at));
                    changed += 1;
                }
            }
        }
        changed
    }
}

fn snapshot_aad(backup_id: Uuid) -> Vec<u8> {
    format!("backups:{backup_id}:keys").into_bytes()
}

/// The backups directory.
#[derive(Debug, Clone)]
pub struct BackupDir {
    path: PathBuf,
}

impl BackupDir {
    /// `$DATA_DIR/backups`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("backups"),
        }
    }

    /// A backups directory at `path` itself.
    pub fn at(path: PathBuf) -> Self {
        Self { path }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn ensure(&self) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&self.path)
            .with_context(|| format!("creating {}", self.path.display()))?;
        std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", self.path.display()))?;
        Ok(())
    }

    /// Takes the directory's lock (blocks until free); released when the file is dropped.
    fn lock(&self) -> anyhow::Result<File> {
        self.ensure()?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.path.join(".lock"))
            .context("opening the backups lock")?;
        file.lock().context("locking the backups directory")?;
        Ok(file)
    }

    /// The ledger's entries, oldest first (none when there is no ledger yet). A torn last line
    /// (a crash mid-append) is skipped: its erasure is still in the database and is re-appended.
    pub fn ledger(&self) -> anyhow::Result<Vec<LedgerEntry>> {
        let path = self.path.join(LEDGER);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        };
        let mut entries = Vec::new();
        for line in BufReader::new(file).lines() {
            let line = line.with_context(|| format!("reading {}", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<LedgerEntry>(&line) {
                Ok(entry) => entries.push(entry),
                Err(error) => tracing::warn!(%error, "skipping an unreadable erasure ledger line"),
            }
        }
        Ok(entries)
    }

    /// Appends the entries the ledger does not hold yet and applies them to every kept key
    /// snapshot. Returns how many entries were new.
    pub fn record(&self, keyring: &Keyring, entries: &[LedgerEntry]) -> anyhow::Result<usize> {
        let _lock = self.lock()?;
        let known: std::collections::HashSet<Uuid> =
            self.ledger()?.into_iter().map(|e| e.id).collect();
        let new: Vec<&LedgerEntry> = entries.iter().filter(|e| !known.contains(&e.id)).collect();
        if !new.is_empty() {
            let path = self.path.join(LEDGER);
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            let mut text = String::new();
            for entry in &new {
                text.push_str(&serde_json::to_string(entry)?);
                text.push('\n');
            }
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("appending to {}", path.display()))?;
            restrict(&path)?;
        }
        // Every kept snapshot, also when nothing was new: a crash may have stopped an earlier pass.
        let all = self.ledger()?;
        for path in self.snapshots()? {
            let mut snapshot = read_snapshot(keyring, &path)?;
            if snapshot.apply(&all) > 0 {
                write_sealed(keyring, &path, &snapshot)?;
            }
        }
        Ok(new.len())
    }

    /// Writes a new dump's key snapshot with the whole ledger applied, under the lock.
    pub fn write_snapshot(
        &self,
        keyring: &Keyring,
        stem: &str,
        mut snapshot: KeySnapshot,
    ) -> anyhow::Result<PathBuf> {
        let _lock = self.lock()?;
        snapshot.apply(&self.ledger()?);
        let path = self.path.join(format!("{stem}{KEYS_SUFFIX}"));
        write_sealed(keyring, &path, &snapshot)?;
        Ok(path)
    }

    /// Every key snapshot in the directory.
    pub fn snapshots(&self) -> anyhow::Result<Vec<PathBuf>> {
        let mut paths = Vec::new();
        let entries = match std::fs::read_dir(&self.path) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(paths),
            Err(error) => return Err(error).context("listing the backups directory"),
        };
        for entry in entries {
            let path = entry?.path();
            if path.to_string_lossy().ends_with(KEYS_SUFFIX) {
                paths.push(path);
            }
        }
        paths.sort();
        Ok(paths)
    }
}

/// The key snapshot beside a dump file (`<stem>.dump.enc` → `<stem>.keys.enc`).
pub fn snapshot_of(dump: &Path) -> Option<PathBuf> {
    let name = dump.file_name()?.to_str()?;
    let stem = name.strip_suffix(DUMP_SUFFIX)?;
    Some(dump.with_file_name(format!("{stem}{KEYS_SUFFIX}")))
}

/// The backup id at the end of a file stem (`<time>-<uuid>`).
pub fn id_of_stem(stem: &str) -> Option<Uuid> {
    stem.get(stem.len().checked_sub(36)?..)?.parse().ok()
}

/// Opens a key snapshot with the master keyring.
pub fn read_snapshot(keyring: &Keyring, path: &Path) -> anyhow::Result<KeySnapshot> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("key snapshot file name")?;
    let id = name
        .strip_suffix(KEYS_SUFFIX)
        .and_then(id_of_stem)
        .context("the key snapshot's name does not end with <id>.keys.enc")?;
    let sealed = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let plain = keyring.open(&snapshot_aad(id), &sealed).map_err(|e| {
        anyhow::anyhow!(
            "{} cannot be authenticated with ENCRYPTION_KEY ({e}): truncated, altered, or sealed by another key",
            path.display()
        )
    })?;
    let snapshot: KeySnapshot =
        serde_json::from_slice(&plain).context("the key snapshot is not valid")?;
    anyhow::ensure!(
        snapshot.backup_id == id,
        "{} belongs to another backup",
        path.display()
    );
    Ok(snapshot)
}

fn restrict(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))
}

/// Seals and writes atomically (temporary file, fsync, rename, fsync of the directory).
fn write_sealed(keyring: &Keyring, path: &Path, snapshot: &KeySnapshot) -> anyhow::Result<()> {
    let plain = zeroize::Zeroizing::new(serde_json::to_vec(snapshot)?);
    let sealed = keyring.seal(&snapshot_aad(snapshot.backup_id), &plain);
    write_atomically(path, &sealed)
}

/// Writes `bytes` to `path` (mode 0600) so that a crash leaves either the old file or the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    drop(file);
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).ok();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::config::parse_keyring;

    fn ring() -> Keyring {
        Keyring::new(
            &parse_keyring("6f1c2a9e8b7d4c3f5a6e9d8c7b2a1f0e3d4c5b6a79881726354453627180a9bf")
                .expect("keys"),
        )
        .expect("ring")
    }

    fn row(id: Uuid) -> KeyRow {
        KeyRow {
            id,
            subject_type: "EMPLOYEE".to_owned(),
            subject_id: Uuid::new_v4(),
            master_key_id: "00000001".to_owned(),
            wrapped_key: Some("ab".to_owned()),
            destroyed_at: None,
            sealed_at: None,
            purge_after: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn an_erasure_reaches_old_snapshots_and_new_ones() {
        let dir = tempfile::tempdir().expect("dir");
        let backups = BackupDir::at(dir.path().join("backups"));
        let ring = ring();
        let (erased, kept, sealed) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let old_id = Uuid::new_v4();
        let old = backups
            .write_snapshot(
                &ring,
                &format!("20260101T000000Z-{old_id}"),
                KeySnapshot {
                    backup_id: old_id,
                    taken_at: Utc::now(),
                    keys: vec![row(erased), row(kept), row(sealed)],
                },
            )
            .expect("snapshot");
        let entry = LedgerEntry {
            id: Uuid::new_v4(),
            user_id: Some(Uuid::new_v4()),
            erased_at: Utc::now(),
            destroyed_keys: vec![erased],
            sealed_keys: vec![sealed],
            purge_after: Some(Utc::now()),
        };
        assert_eq!(
            backups
                .record(&ring, std::slice::from_ref(&entry))
                .expect("record"),
            1
        );
        assert_eq!(
            backups
                .record(&ring, std::slice::from_ref(&entry))
                .expect("again"),
            0,
            "idempotent"
        );
        let read = read_snapshot(&ring, &old).expect("read");
        let by_id = |id: Uuid| read.keys.iter().find(|k| k.id == id).expect("row").clone();
        assert_eq!(by_id(erased).wrapped_key, None);
        assert!(by_id(erased).destroyed_at.is_some());
        assert_eq!(by_id(kept).wrapped_key.as_deref(), Some("ab"));
        assert!(by_id(sealed).sealed_at.is_some());

        // A snapshot written later (a dump taken before the erasure committed) gets it too.
        let new_id = Uuid::new_v4();
        let new = backups
            .write_snapshot(
                &ring,
                &format!("20260102T000000Z-{new_id}"),
                KeySnapshot {
                    backup_id: new_id,
                    taken_at: Utc::now(),
                    keys: vec![row(erased)],
                },
            )
            .expect("snapshot");
        assert_eq!(
            read_snapshot(&ring, &new).expect("read").keys[0].wrapped_key,
            None
        );
        assert_eq!(backups.ledger().expect("ledger"), vec![entry]);

        // Tampering, truncation and a renamed file are refused.
        let mut bytes = std::fs::read(&new).expect("bytes");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&new, &bytes).expect("write");
        assert!(read_snapshot(&ring, &new).is_err());
        std::fs::write(&new, &bytes[..10]).expect("write");
        assert!(read_snapshot(&ring, &new).is_err());
        let moved = old.with_file_name(format!("20260103T000000Z-{new_id}{KEYS_SUFFIX}"));
        std::fs::copy(&old, &moved).expect("copy");
        assert!(read_snapshot(&ring, &moved).is_err());
    }
}
