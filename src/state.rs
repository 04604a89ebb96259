//! `AppState` is cloned into every handler: cheap handles only.

use std::sync::Arc;

use crate::auth::password::Passwords;
use crate::auth::token::AccessTokens;
use crate::config::{Secrets, Settings};
use crate::crypto::Keyring;
use crate::db::Db;

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
    pub store: crate::storage::Store,
    /// Socket.IO.
    pub realtime: crate::realtime::Realtime,
}

impl AppState {
    /// What background jobs need: the database (their own small owner pool, so that queue polling
    /// and listening never starve sign-ins), the mailer, the public URL.
    pub fn job_context(&self) -> anyhow::Result<crate::jobs::JobContext> {
        let jobs_pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect_lazy_with((*self.db.system.connect_options()).clone());
        Ok(crate::jobs::JobContext {
            db: crate::db::Db {
                app: self.db.app.clone(),
                system: jobs_pool,
            },
            mailer: crate::mail::Mailer::new(
                self.settings.smtp_url.as_deref(),
                &self.settings.mail_from,
                &self.settings.data_dir,
            )?,
            public_url: self.settings.public_url.clone(),
            keyring: self.keyring.clone(),
            data_dir: self.settings.data_dir.clone(),
            database_url: self.settings.database_url.clone(),
            retries: self.settings.job_retries,
        })
    }

    /// Builds the state from connected pools, settings and resolved secrets (and connects to Redis
    /// when `REDIS_URL` is set).
    pub async fn new(db: Db, settings: Settings, secrets: &Secrets) -> anyhow::Result<Self> {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self {
            db,
            settings: Arc::new(settings.clone()),
            tokens: Arc::new(AccessTokens::new(&secrets.jwt_secret)),
            passwords: Passwords::new(workers)?,
            keyring: Arc::new(Keyring::new(&secrets.master_keys)?),
            jitsi_secret: Arc::new(secrets.jitsi_app_secret.clone()),
            store: crate::storage::Store::new(settings.storage_url.as_deref(), &settings.data_dir)?,
            realtime: crate::realtime::Realtime::connect(settings.redis_url.as_deref()).await?,
        })
    }
}
