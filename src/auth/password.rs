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
            if argon2().verify_password(password.as_bytes(), &parsed).is_err() || !known {
                return Verified::No;
            }
            let current = Params::DEFAULT;
            let outdated = parsed.algorithm.as_str() != "argon2id"
                || Params::try_from(&parsed).map_or(true, |p| {
                    p.m_cost() < current.m_cost() || p.t_cost() < current.t_cost() || p.p_cost() < current.p_cost()
                });
            if outdated { Verified::YesRehash } else { Verified::Yes }
        })
        .await
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)
    }
}

/// Words every password is checked against, besides the caller's own (name, email, company).
const PRODUCT_WORDS: &[&str] = &[
    "huntzen",
    "huntzen care",
    "care",
    "hunt",
    "zen",
    "password",
    "motdepasse",
];

/// The password rules: 12 to 128 characters (Unicode and spaces welcome, no composition rules),
/// and not guessable by zxcvbn (score 3 or more) given common words and the context: the user's
/// names, email and company, and the product's name. Fails with a 422 on `field`.
pub fn check_strength(field: &str, password: &str, context: &[&str]) -> Result<(), ApiError> {
    let length = password.chars().count();
    if length < 12 {
        return Err(ApiError::invalid_field(
            field,
            "must have at least 12 characters; a few unrelated words make a good one",
        ));
    }
    if length > 128 {
        return Err(ApiError::invalid_field(field, "must have at most 128 characters"));
    }
    let mut words: Vec<String> = PRODUCT_WORDS.iter().map(|w| (*w).to_owned()).collect();
    for item in context
        .iter()
        .map(|c| c.trim().to_lowercase())
        .filter(|c| !c.is_empty())
    {
        if let Some((local, domain)) = item.split_once('@') {
            words.push(local.to_owned());
            words.extend(domain.split('.').filter(|p| p.len() > 2).map(str::to_owned));
        }
        words.extend(item.split_whitespace().map(str::to_owned));
        words.push(item);
    }
    // Context words give no strength: what is left once they are removed must still be substantial.
    let mut rest = password.to_lowercase();
    let mut by_length: Vec<&String> = words.iter().filter(|w| w.chars().count() >= 3).collect();
    by_length.sort_by_key(|w| std::cmp::Reverse(w.len()));
    for word in by_length {
        rest = rest.replace(word.as_str(), "");
    }
    if rest.chars().filter(|c| c.is_alphanumeric()).count() < 8 {
        return Err(ApiError::invalid_field(
            field,
            "is built on your name, email, company or the product's name; choose unrelated words",
        ));
    }
    let inputs: Vec<&str> = words.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if (estimate.score() as u8) < 3 {
        let mut message = "is too easy to guess".to_owned();
        if let Some(feedback) = estimate.feedback() {
            if let Some(warning) = feedback.warning() {
                message.push_str(&format!(": {warning}"));
            }
            if let Some(suggestion) = feedback.suggestions().first() {
                message.push_str(&format!(". {suggestion}"));
            }
        }
        return Err(ApiError::invalid_field(field, message));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_strength;

    #[test]
    fn length_and_guessability_rules() {
        assert!(check_strength("password", "short", &[]).is_err());
        assert!(check_strength("password", &"a".repeat(129), &[]).is_err());
        assert!(check_strength("password", "passwordpassword", &[]).is_err());
        assert!(check_strength("password", "huntzencare2026", &[]).is_err());
        assert!(check_strength("password", "marc.dupont.acme", &["marc.dupont@acme.fr", "Acme"]).is_err());
        assert!(check_strength("password", "correct horse battery staple", &[]).is_ok());
        assert!(check_strength("password", "écureuil bleu mange 7 noisettes", &[]).is_ok());
    }
}
