//! Benchmark bound for sign-in: how many argon2id verifications per second this machine does
//! with the server's own parameters and pool (`Passwords`, one permit per core), for `--seconds`.
//! Used by `bench/run`; prints `verifications_per_second=<n>`.

use std::time::{Duration, Instant};

use huntzen::infra::passwords::{Passwords, Verified};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .map_or(Ok(10), |s| s.parse())?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let passwords = Passwords::new(cores)?;
    let stored = passwords
        .hash("bench password of reasonable length")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..cores * 2 {
        let (passwords, stored) = (passwords.clone(), stored.clone());
        workers.push(tokio::spawn(async move {
            let mut done = 0_u64;
            while Instant::now() < deadline {
                let verified = passwords
                    .verify("bench password of reasonable length", Some(&stored))
                    .await;
                assert!(matches!(verified, Ok(Verified::Yes)));
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for worker in workers {
        total += worker.await?;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!("cores={cores} verifications={total} verifications_per_second={rate:.1}");
    Ok(())
}
