//! Blob storage for uploaded files. Bytes are stored already encrypted (see `files`); the store
//! only keeps opaque blobs by key. Local directory `$DATA_DIR/files` (or `STORAGE_URL=file:///…`).

use std::path::PathBuf;

use anyhow::{Context, bail};

/// Where blobs live.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// From `STORAGE_URL` (only `file://` for now), else `$DATA_DIR/files`.
    pub fn new(storage_url: Option<&str>, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        let root = match storage_url {
            None => data_dir.join("files"),
            Some(url) => match url.strip_prefix("file://") {
                Some(path) => PathBuf::from(path),
                None => bail!("STORAGE_URL `{url}` is not supported yet: use file:///absolute/path"),
            },
        };
        Ok(Self { root })
    }

    fn path(&self, key: &str) -> anyhow::Result<PathBuf> {
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            bail!("invalid storage key");
        }
        Ok(self.root.join(&key[..2.min(key.len())]).join(key))
    }

    /// Writes a blob (atomically: temp file, then rename).
    pub async fn put(&self, key: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.path(key)?;
        let dir = path.parent().context("storage path has no parent")?;
        tokio::fs::create_dir_all(dir)
            .await
            .context("creating the storage directory")?;
        let partial = path.with_extension("partial");
        tokio::fs::write(&partial, bytes).await.context("writing a blob")?;
        tokio::fs::rename(&partial, &path).await.context("publishing a blob")?;
        Ok(())
    }

    /// Reads a blob.
    pub async fn get(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        tokio::fs::read(self.path(key)?).await.context("reading a blob")
    }

    /// Deletes a blob (missing is fine).
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error).context("deleting a blob"),
            _ => Ok(()),
        }
    }
}
