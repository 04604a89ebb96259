//! Blob storage for uploaded files. Bytes arrive already encrypted (see `files`); the store only
//! keeps opaque blobs under random keys. Local directory by default (`$DATA_DIR/files` or
//! `STORAGE_URL=file:///path`), or any S3-compatible store (AWS, MinIO) through object_store:
//! `STORAGE_URL=s3://bucket?endpoint=http://minio:9000&region=us-east-1`, credentials from
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`; other object_store S3 options may be given as
//! query parameters (e.g. `skip_signature=true` for an unsigned endpoint).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use object_store::ObjectStoreExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;

/// Where blobs live.
#[derive(Debug, Clone)]
pub enum Store {
    /// A local directory.
    Local(PathBuf),
    /// An S3-compatible bucket.
    S3(Arc<AmazonS3>),
}

fn check_key(key: &str) -> anyhow::Result<()> {
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        bail!("invalid storage key");
    }
    Ok(())
}

fn s3(url: &str) -> anyhow::Result<AmazonS3> {
    let parsed = url::Url::parse(url).context("STORAGE_URL is not a URL")?;
    let bucket = parsed
        .host_str()
        .filter(|b| !b.is_empty())
        .context("STORAGE_URL s3://<bucket> names no bucket")?;
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    for (key, value) in parsed.query_pairs() {
        builder = match key.as_ref() {
            "endpoint" => builder
                .with_endpoint(value.as_ref())
                .with_allow_http(value.starts_with("http://"))
                .with_virtual_hosted_style_request(false),
            "region" => builder.with_region(value.as_ref()),
            other => {
                let key: object_store::aws::AmazonS3ConfigKey = other
                    .parse()
                    .map_err(|_| anyhow::anyhow!("STORAGE_URL: unknown S3 option `{other}`"))?;
                builder.with_config(key, value.as_ref())
            }
        };
    }
    builder.build().context("configuring S3 storage")
}

impl Store {
    /// From `STORAGE_URL` (`file://…` or `s3://…`), else `$DATA_DIR/files`.
    pub fn new(storage_url: Option<&str>, data_dir: &std::path::Path) -> anyhow::Result<Self> {
        match storage_url {
            None => Ok(Store::Local(data_dir.join("files"))),
            Some(url) if url.starts_with("file://") => {
                Ok(Store::Local(PathBuf::from(&url["file://".len()..])))
            }
            Some(url) if url.starts_with("s3://") => Ok(Store::S3(Arc::new(s3(url)?))),
            Some(url) => bail!(
                "STORAGE_URL `{url}` is not supported: use file:///absolute/path or s3://bucket"
            ),
        }
    }

    fn local_path(root: &std::path::Path, key: &str) -> anyhow::Result<PathBuf> {
        check_key(key)?;
        Ok(root.join(&key[..2.min(key.len())]).join(key))
    }

    /// Writes a blob (locally: temp file, then rename).
    pub async fn put(&self, key: &str, bytes: &[u8]) -> anyhow::Result<()> {
        match self {
            Store::Local(root) => {
                let path = Self::local_path(root, key)?;
                let dir = path.parent().context("storage path has no parent")?;
                tokio::fs::create_dir_all(dir)
                    .await
                    .context("creating the storage directory")?;
                let partial = path.with_extension("partial");
                tokio::fs::write(&partial, bytes)
                    .await
                    .context("writing a blob")?;
                tokio::fs::rename(&partial, &path)
                    .await
                    .context("publishing a blob")?;
            }
            Store::S3(store) => {
                check_key(key)?;
                store
                    .put(&ObjectPath::from(key), bytes.to_vec().into())
                    .await
                    .context("writing a blob to S3")?;
            }
        }
        Ok(())
    }

    /// Reads a blob.
    pub async fn get(&self, key: &str) -> anyhow::Result<Vec<u8>> {
        match self {
            Store::Local(root) => tokio::fs::read(Self::local_path(root, key)?)
                .await
                .context("reading a blob"),
            Store::S3(store) => {
                check_key(key)?;
                let result = store
                    .get(&ObjectPath::from(key))
                    .await
                    .context("reading a blob from S3")?;
                Ok(result
                    .bytes()
                    .await
                    .context("reading a blob from S3")?
                    .to_vec())
            }
        }
    }

    /// Deletes a blob (missing is fine).
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self {
            Store::Local(root) => {
                match tokio::fs::remove_file(Self::local_path(root, key)?).await {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                        Err(error).context("deleting a blob")
                    }
                    _ => Ok(()),
                }
            }
            Store::S3(store) => {
                check_key(key)?;
                match store.delete(&ObjectPath::from(key)).await {
                    Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
                    Err(error) => Err(error).context("deleting a blob from S3"),
                }
            }
        }
    }
}
