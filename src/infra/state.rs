//! `AppState` is cloned into every handler: cheap handles only.

use std::sync::Arc;

use crate::infra::config::{Secrets, Settings};
use crate::infra::crypto::Keyring;
use crate::infra::db::Db;
use crate::infra::passwords::Passwords;
use crate::infra::tokens::AccessTokens;

/// Shared application state.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Database pools.
    pub db: Db,
    /// Settings.
    pub settings: Arc<Settings>,
    /// Access-token keys.
    pub tokens: Arc<AccessTokens>,
    /// Password hashing pool.
    pub passwords: Passwords,
    /// Master keyring (seals TOTP secrets, wraps data keys).
    pub keyring: Arc<Keyring>,
    /// Key of Jitsi room tokens and room names.
    pub jitsi_secret: Arc<zeroize::Zeroizing<Vec<u8>>>,
    /// Blob store of (encrypted) files.
    pub store: crate::infra::storage::Store,
    /// Socket.IO.
    pub realtime: crate::infra::realtime::Realtime,
    /// Reader pseudonyms of audited reads.
    pub pseudonyms: Arc<crate::infra::audit::Pseudonyms>,
    /// Fingerprints of the secrets in effect (configured or generated): `JWT_SECRET`,
    /// `JITSI_APP_SECRET`, and `ENCRYPTION_KEY` as its master key ids (`GET /api/super-admin/config`).
    pub secret_fingerprints: Arc<std::collections::BTreeMap<&'static str, String>>,
    /// The watch over the embedded PostgreSQL, when this server runs on it (set by `serve`).
    pub embedded_database: Option<Arc<crate::infra::db::embedded::ClusterHealth>>,
}

impl AppState {
    /// Builds the state from connected pools, settings and resolved secrets (and connects to Redis
    /// when `REDIS_URL` is set).
    pub async fn new(db: Db, settings: Settings, secrets: &Secrets) -> anyhow::Result<Self> {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let keyring = Keyring::new(&secrets.master_keys)?;
        let pseudonyms = crate::infra::audit::Pseudonyms::load(&db.system, &keyring).await?;
        let secret_fingerprints = [
            (
                "JWT_SECRET",
                pseudonyms.fingerprint("JWT_SECRET", &secrets.jwt_secret),
            ),
            (
                "JITSI_APP_SECRET",
                pseudonyms.fingerprint("JITSI_APP_SECRET", &secrets.jitsi_app_secret),
            ),
            (
                "ENCRYPTION_KEY",
                secrets
                    .master_keys
                    .iter()
                    .map(|k| k.id.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ]
        .into_iter()
        .collect();
        Ok(Self {
            db,
            settings: Arc::new(settings.clone()),
            tokens: Arc::new(AccessTokens::new(&secrets.jwt_secret)),
            passwords: Passwords::new(workers)?,
            keyring: Arc::new(keyring),
            jitsi_secret: Arc::new(secrets.jitsi_app_secret.clone()),
            store: crate::infra::storage::Store::new(
                settings.storage_url.as_deref(),
                &settings.data_dir,
            )?,
            realtime: crate::infra::realtime::Realtime::connect(
                settings.redis_url.as_deref(),
                settings.socket_events_per_second,
            )
            .await?,
            pseudonyms: Arc::new(pseudonyms),
            secret_fingerprints: Arc::new(secret_fingerprints),
            embedded_database: None,
        })
    }
}
