//! `AppState` is cloned into every handler: cheap handles only.

use std::sync::Arc;

use crate::auth::password::Passwords;
use crate::auth::token::AccessTokens;
use crate::config::{Secrets, Settings};
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
}

impl AppState {
    /// Builds the state from connected pools, settings and resolved secrets.
    pub fn new(db: Db, settings: Settings, secrets: &Secrets) -> anyhow::Result<Self> {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self {
            db,
            settings: Arc::new(settings),
            tokens: Arc::new(AccessTokens::new(&secrets.jwt_secret)),
            passwords: Passwords::new(workers)?,
        })
    }
}
