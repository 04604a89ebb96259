//! argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), run on a few dedicated threads
//! (one per core), so a surge of sign-ins waits its turn instead of starving everything else.
//! Each thread keeps its 19 MiB of argon2 memory between verifications (zeroed after each): a
//! sign-in maps, faults in and unmaps no memory, and verifies about 30 % faster. The threads keep
//! the normal scheduling priority on purpose: at `SCHED_IDLE` (or nice +10) they were preempted
//! while holding locks that request threads share, such as the allocator's, and `GET /api/me`
//! p99 during a login surge went from ~9 ms to 17–220 ms (`bench/RESULTS.md`).

use std::sync::{Arc, Mutex, mpsc};

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use zeroize::Zeroizing;

use crate::infra::error::ApiError;

/// Work for a hashing thread, given that thread's reusable argon2 memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// Hashes and verifies passwords on a bounded pool of threads.
#[derive(Debug, Clone)]
pub struct Passwords {
    jobs: mpsc::Sender<Job>,
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

/// Whether `password` matches `stored`, computed in `memory` (grown when the stored parameters
/// need more). The comparison is constant-time (`Output`'s equality).
fn matches(memory: &mut Vec<Block>, password: &[u8], stored: &PasswordHash) -> bool {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(stored.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = stored
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(stored) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::new());
    }
    let mut computed = Zeroizing::new(vec![0_u8; expected.len()]);
    let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password,
        salt,
        &mut computed,
        &mut memory[..blocks],
    );
    hashed.is_ok() && Output::new(&computed).is_ok_and(|computed| &computed == expected)
}

impl Passwords {
    /// At most `concurrency` hashes run at once, each on its own thread.
    pub fn new(concurrency: usize) -> anyhow::Result<Self> {
        let dummy = argon2()
            .hash_password(b"dummy password for timing equalisation")
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
            .to_string();
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrency.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    let mut memory = Vec::new();
                    loop {
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else {
                            return; // every `Passwords` is gone
                        };
                        // A panicking job loses its answer (its caller gets a 500), not the thread.
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut memory)))
                            .ok();
                        // The first blocks are a cheap function of the password: whoever could read
                        // them could test guesses without argon2's cost. Nothing stays between jobs.
                        memory.fill(Block::new());
                    }
                })?;
        }
        Ok(Self {
            jobs,
            dummy_hash: dummy.into(),
        })
    }

    /// Hashes a new password (PHC string).
    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let password = Zeroizing::new(password.to_owned());
        self.run(move |_| {
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
        self.run(move |memory| {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return Verified::No;
            };
            if !matches(memory, password.as_bytes(), &parsed) || !known {
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
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |memory| {
                done.send(work(memory)).ok();
            }))
            .map_err(|_| ApiError::internal("password threads stopped"))?;
        result
            .await
            .map_err(|_| ApiError::internal("a password thread panicked"))
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
        return Err(ApiError::invalid_field(
            field,
            "must have at most 128 characters",
        ));
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
    use super::{Passwords, Verified, check_strength};

    #[tokio::test]
    async fn reused_memory_verifies_like_the_crate_and_rejects_wrong_passwords() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let passwords = Passwords::new(1).expect("pool");
        let verify = async |password: &str, stored: Option<&str>| {
            passwords.verify(password, stored).await.ok()
        };
        let stored = passwords
            .hash("a long enough password")
            .await
            .expect("hash");
        let parsed = argon2::PasswordHash::new(&stored).expect("phc");
        assert!(
            super::argon2()
                .verify_password(b"a long enough password", &parsed)
                .is_ok()
        );
        // One thread, so every verification below reuses the same memory.
        for _ in 0..2 {
            assert_eq!(
                verify("a long enough password", Some(&stored)).await,
                Some(Verified::Yes)
            );
            assert_eq!(
                verify("a long enough passwore", Some(&stored)).await,
                Some(Verified::No)
            );
        }
        assert_eq!(
            verify("a long enough password", None).await,
            Some(Verified::No)
        );
        // Weaker stored parameters (smaller memory) verify too, and ask for a new hash.
        let weak = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(8 * 1024, 1, 1, None).expect("params"),
        );
        let old = weak
            .hash_password(b"a long enough password")
            .expect("hash")
            .to_string();
        assert_eq!(
            verify("a long enough password", Some(&old)).await,
            Some(Verified::YesRehash)
        );
        assert_eq!(
            verify("a long enough password", Some(&stored)).await,
            Some(Verified::Yes)
        );
    }

    #[test]
    fn length_and_guessability_rules() {
        assert!(check_strength("password", "short", &[]).is_err());
        assert!(check_strength("password", &"a".repeat(129), &[]).is_err());
        assert!(check_strength("password", "passwordpassword", &[]).is_err());
        assert!(check_strength("password", "huntzencare2026", &[]).is_err());
        assert!(
            check_strength(
                "password",
                "marc.dupont.acme",
                &["marc.dupont@acme.fr", "Acme"]
            )
            .is_err()
        );
        assert!(check_strength("password", "correct horse battery staple", &[]).is_ok());
        assert!(check_strength("password", "écureuil bleu mange 7 noisettes", &[]).is_ok());
    }
}
