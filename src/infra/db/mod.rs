//! Two pools over one database. `system` is the migrating owner (it bypasses RLS) and is used only
//! for work that has no user context yet: migrations, sign-in lookups, session bookkeeping, jobs and
//! the command line. `app` runs every statement as `huntzen_app` (no table, no BYPASSRLS), so request
//! traffic sees exactly what the policies grant for the context that `context::begin` sets.

pub mod context;
pub mod embedded;

use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool};

pub use crate::infra::identity::Principal;
pub use context::Tx;

/// The request role every `app` connection switches to.
pub const REQUEST_ROLE: &str = "huntzen_app";

/// The embedded migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The database handles shared by the server.
#[derive(Debug, Clone)]
pub struct Db {
    /// Runs as the request role, under row-level security.
    pub app: PgPool,
    /// Runs as the owner; bypasses row-level security. Only for context-free work.
    pub system: PgPool,
}

/// How long readiness may take to decide (a down database answers "not ready" in this time).
pub const READY_WITHIN: Duration = Duration::from_millis(800);

/// Pool sizes.
#[derive(Debug, Clone, Copy)]
pub struct PoolSizes {
    /// Connections of the request pool.
    pub app: u32,
    /// Connections of the system pool.
    pub system: u32,
}

impl Default for PoolSizes {
    fn default() -> Self {
        Self { app: 20, system: 5 }
    }
}

/// How long `Db::connect` waits for a database it cannot reach yet: a PostgreSQL container still
/// starting beside ours, a host name not yet in the network's DNS.
const STARTUP_PATIENCE: Duration = Duration::from_secs(60);

/// Whether `error` says the database could not be reached (worth waiting for), rather than that
/// it answered with a refusal or a failure (not worth it: wrong password, broken migration).
fn unreachable(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| match cause.downcast_ref::<sqlx::Error>() {
            Some(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut) => true,
            // 08: connection exceptions; 57P03: the server is starting up.
            Some(sqlx::Error::Database(e)) => e
                .code()
                .is_some_and(|c| c.starts_with("08") || c == "57P03"),
            _ => false,
        })
}

impl Db {
    /// Connects, applies pending migrations, then opens the request pool. A database that cannot
    /// be reached yet is tried again, with a warning, for up to a minute.
    pub async fn connect(options: PgConnectOptions, sizes: PoolSizes) -> anyhow::Result<Self> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(250);
        loop {
            match Self::connect_once(options.clone(), sizes).await {
                Err(error)
                    if unreachable(&error) && started.elapsed() + delay < STARTUP_PATIENCE =>
                {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        retry_in_ms = delay.as_millis() as u64,
                        "the database cannot be reached yet; trying again"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                result => return result,
            }
        }
    }

    async fn connect_once(options: PgConnectOptions, sizes: PoolSizes) -> anyhow::Result<Self> {
        // Neither pool pings on acquire: sqlx already pings every connection when it is released
        // (off the request path), so the acquire ping cost each request one more round trip for
        // nothing but the rare connection that died while idle (bench/RESULTS.md).
        let system = PgPoolOptions::new()
            .max_connections(sizes.system)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .context("connecting to PostgreSQL")?;
        migrate(&system).await?;
        check_owner_privileges(&system).await?;
        let app = PgPoolOptions::new()
            .max_connections(sizes.app)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("SET ROLE huntzen_app").await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .context("opening the request pool")?;
        Ok(Self { app, system })
    }

    /// Whether the database answers and every embedded migration (ours and the job queue's) is
    /// applied — decided within [`READY_WITHIN`]: a database that does not answer in time is
    /// not ready (the probe must not hang while it is down).
    pub async fn is_ready(&self) -> bool {
        // Dynamic on purpose: the same statement over the two migration tables (ours, apalis').
        let applied = |table: &'static str| async move {
            let sql = format!("SELECT version FROM {table} WHERE success");
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_all(&self.system)
                .await
        };
        let ping = async {
            sqlx::query_scalar!(r#"SELECT 1 AS "one!""#)
                .fetch_one(&self.app)
                .await
        };
        let checks = async {
            tokio::join!(
                applied("_sqlx_migrations"),
                applied("apalis._sqlx_migrations"),
                ping
            )
        };
        match tokio::time::timeout(READY_WITHIN, checks).await {
            Ok((Ok(ours), Ok(queue), Ok(_))) => {
                MIGRATOR.iter().all(|m| ours.contains(&m.version))
                    && job_queue_migrations()
                        .iter()
                        .all(|m| queue.contains(&m.version))
            }
            _ => false,
        }
    }

    /// Closes both pools.
    pub async fn close(&self) {
        self.app.close().await;
        self.system.close().await;
    }
}

/// The job queue's own migrations (schema `apalis`, migrations table `apalis._sqlx_migrations`).
pub fn job_queue_migrations() -> sqlx::migrate::Migrator {
    apalis_postgres::PostgresStorage::<()>::migrations()
}

/// Creates the request role when the cluster lacks it, and lets the connected login switch to it
/// (the same statements as the first migration): a restore into a new cluster needs it before the
/// dump's grants name it.
pub async fn ensure_request_role(conn: &mut sqlx::PgConnection) -> anyhow::Result<()> {
    // Fixed text, a DO block (not a preparable statement).
    sqlx::raw_sql(
        "DO $$
         BEGIN
             IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'huntzen_app') THEN
                 CREATE ROLE huntzen_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
             END IF;
             IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                 EXECUTE format('GRANT huntzen_app TO %I', current_user);
             END IF;
         END
         $$",
    )
    .execute(conn)
    .await
    .context("creating the request role huntzen_app")?;
    Ok(())
}

/// Applies pending migrations (idempotent): the job queue's first (our grants refer to it), then ours.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    job_queue_migrations()
        .run(pool)
        .await
        .context("applying the job queue's migrations")?;
    MIGRATOR
        .run(pool)
        .await
        .context("applying database migrations")
}

/// The owner must bypass RLS, since every table forces it (also on the owner).
async fn check_owner_privileges(pool: &PgPool) -> anyhow::Result<()> {
    let bypasses: bool = sqlx::query_scalar!(
        r#"SELECT rolsuper OR rolbypassrls AS "value!" FROM pg_roles WHERE rolname = current_user"#
    )
    .fetch_one(pool)
    .await?;
    anyhow::ensure!(
        bypasses,
        "the DATABASE_URL role must be a superuser or have BYPASSRLS (ALTER ROLE ... BYPASSRLS): \
         it runs migrations and sign-in lookups outside any user context"
    );
    Ok(())
}
