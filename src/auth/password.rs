//! argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), run on the blocking pool behind a
//! semaphore so that a surge of sign-ins waits its turn instead of starving everything else.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::error::ApiError;

/// Hashes and verifies passwords on a bounded pool.
#[derive(Debug, Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    /// Verified when the account does not exist, so that both answers take the same time.
    dummy_hash: Arc<str>,
}

/// Outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password (or no account).
    No,
    /// Right password, hash up to date.
    Yes,
    /// Right password, but hashed with weaker parameters: store a new hash.
    YesRehash,
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

impl Passwords {
    /// At most `concurrency` hashes run at once.
    pub fn new(concurrency: usize) -> anyhow::Result<Self> {
        let dummy = argon2()
            .hash_password(b"dummy password for timing equalisation")
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
            .to_string();
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy.into(),
        })
    }

    /// Hashes a new password (PHC string).
    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let password = Zeroizing::new(password.to_owned());
        self.run(move || {
            argon2()
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|e| ApiError::internal(format!("argon2 hash: {e}")))
        })
        .await?
    }

    /// Checks `password` against `stored`; with `None` a dummy hash is checked so the time is the same.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verified, ApiError> {
        let password = Zeroizing::new(password.to_owned());
        let known = stored.is_some();
        let stored = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        self.run(move || {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return Verified::No;
            };
            if argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_err()
                || !known
            {
                return Verified::No;
            }
            let current = Params::DEFAULT;
            let outdated = parsed.algorithm.as_str() != "argon2id"
                || Params::try_from(&parsed).map_or(true, |p| {
                    p.m_cost() < current.m_cost()
                        || p.t_cost() < current.t_cost()
                        || p.p_cost() < current.p_cost()
                });
            if outdated {
                Verified::YesRehash
            } else {
                Verified::Yes
            }
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(ApiError::internal)
    }
}
