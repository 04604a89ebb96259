//! A private PostgreSQL cluster under `$DATA_DIR/postgres`, run from the system's binaries and
//! reachable only through a Unix socket in `$DATA_DIR/run` (no TCP listener). As root the cluster
//! runs as the `postgres` system user, because `initdb` refuses root.
//!
//! Lifecycle: the cluster lives as long as some huntzen process uses it. A process that finds it
//! running uses (adopts) it; the last huntzen process to end stops it, whoever started it, so a
//! cluster left running by a killed server stops with the next one. A server watches its cluster
//! and restarts it, with backoff, if PostgreSQL dies under it ([`RunningCluster::supervise`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, bail};
use sqlx::postgres::PgConnectOptions;

/// Name of the application database inside the cluster.
pub const DATABASE_NAME: &str = "huntzen";
const SUPERUSER: &str = "postgres";
const PORT: u16 = 5432;

/// A cluster directory and the binaries that run it.
#[derive(Debug, Clone)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    cluster_dir: PathBuf,
    socket_dir: PathBuf,
    run_as_postgres: bool,
    /// The directory `postgres` cannot enter, when the cluster was moved out of DATA_DIR for it.
    relocated_because: Option<PathBuf>,
}

/// Where the cluster lives, as root, when `postgres` cannot enter DATA_DIR (a 0700 home such as
/// Debian's `/root`): one directory per DATA_DIR, named by a hash of its path.
const RELOCATED_ROOT: &str = "/var/lib/huntzen/embedded";

/// A cluster this process started or found running (adopted); `stop` shuts it down unless another
/// process still uses it.
#[derive(Debug)]
pub struct RunningCluster {
    cluster: EmbeddedPostgres,
    watch: Option<tokio::task::JoinHandle<()>>,
}

/// What a server's watch over its embedded cluster has seen, for `/api/health` and the log.
#[derive(Debug, Default)]
pub struct ClusterHealth {
    state: std::sync::Mutex<ClusterReport>,
}

/// The embedded cluster's state as `/api/health` reports it.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterReport {
    /// `running`, or `restarting` while PostgreSQL is down and being started again.
    pub state: ClusterState,
    /// How many times this server restarted PostgreSQL after it died.
    pub restarts: u32,
    /// When PostgreSQL was last found dead (RFC 3339), if ever.
    pub last_failure_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it was last restarted (RFC 3339), if ever.
    pub last_restart_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Whether the embedded PostgreSQL runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClusterState {
    /// Up.
    #[default]
    Running,
    /// Found dead; being started again.
    Restarting,
}

impl ClusterHealth {
    /// The current report.
    pub fn report(&self) -> ClusterReport {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClusterReport> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn failed(&self) {
        let mut state = self.lock();
        state.state = ClusterState::Restarting;
        state.last_failure_at = Some(chrono::Utc::now());
    }

    fn restarted(&self) -> u32 {
        let mut state = self.lock();
        state.state = ClusterState::Running;
        state.restarts += 1;
        state.last_restart_at = Some(chrono::Utc::now());
        state.restarts
    }
}

/// How often a server checks that its embedded PostgreSQL still runs.
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Longest wait between two attempts to restart a dead cluster.
const RESTART_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(30);

impl EmbeddedPostgres {
    /// Describes the cluster under `data_dir` (nothing is touched yet).
    pub fn new(data_dir: &Path) -> anyhow::Result<Self> {
        let data_dir = std::path::absolute(data_dir).context("resolving DATA_DIR")?;
        let run_as_postgres = is_root();
        let blocked = if run_as_postgres {
            untraversable_ancestor(&data_dir.join("postgres"))
        } else {
            None
        };
        let base = match &blocked {
            Some(_) => relocated_base(&data_dir),
            None => data_dir,
        };
        Ok(Self {
            bin_dir: find_binaries()?,
            cluster_dir: base.join("postgres"),
            socket_dir: base.join("run"),
            run_as_postgres,
            relocated_because: blocked,
        })
    }

    /// The cluster's data directory (under DATA_DIR, or relocated: see [`RELOCATED_ROOT`]).
    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }

    /// Initialises the cluster on first use, then starts it unless it is already running.
    /// Returns whether this call started it.
    fn start_blocking(&self) -> anyhow::Result<bool> {
        self.prepare_dirs()?;
        if !self.cluster_dir.join("PG_VERSION").exists() {
            tracing::info!(dir = %self.cluster_dir.display(), "initialising the embedded PostgreSQL cluster");
            let pw_args = [
                "-D",
                path_str(&self.cluster_dir)?,
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
            ];
            self.run(
                "initdb",
                &[&pw_args[..], &["--locale=C", "--no-instructions"]].concat(),
            )?;
            let conf = self.cluster_dir.join("postgresql.conf");
            let mut text = std::fs::read_to_string(&conf).context("reading postgresql.conf")?;
            text.push_str("\ninclude_if_exists = 'huntzen.conf'\n");
            std::fs::write(&conf, text).context("writing postgresql.conf")?;
        }
        // Rewritten on every start so that a moved DATA_DIR still works.
        let settings = format!(
            "listen_addresses = ''\nunix_socket_directories = '{}'\nunix_socket_permissions = 0700\nport = {PORT}\n\
             max_connections = 200\nshared_buffers = 128MB\nfsync = on\nlog_min_messages = warning\n",
            path_str(&self.socket_dir)?.replace('\'', "''")
        );
        let settings_path = self.cluster_dir.join("huntzen.conf");
        std::fs::write(&settings_path, settings).context("writing huntzen.conf")?;
        self.give_to_postgres(&settings_path)?;

        if self.postmaster_alive() {
            tracing::warn!("the embedded PostgreSQL cluster was already running; using it");
            return Ok(false);
        }
        let log = self.cluster_dir.join("server.log");
        let started = self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&self.cluster_dir)?,
                "-l",
                path_str(&log)?,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        match started {
            Ok(_) => Ok(true),
            // Another huntzen process (a server and a command started together) won the race.
            Err(_) if self.postmaster_alive() => {
                tracing::warn!(
                    "another process started the embedded PostgreSQL cluster meanwhile; using it"
                );
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }

    fn prepare_dirs(&self) -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        if let Some(blocked) = &self.relocated_because {
            // Root-owned and traversable (not listable) down to the per-DATA_DIR directory; the
            // cluster's own directories below are postgres's, 0700. Nothing in the home changes.
            let base = self
                .cluster_dir
                .parent()
                .context("relocated cluster directory")?;
            std::fs::create_dir_all(base)
                .with_context(|| format!("creating {}", base.display()))?;
            for dir in [
                Path::new("/var/lib/huntzen"),
                Path::new(RELOCATED_ROOT),
                base,
            ] {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))?;
            }
            tracing::warn!(
                blocked = %blocked.display(),
                cluster = %self.cluster_dir.display(),
                "the postgres user cannot enter {}: the embedded PostgreSQL cluster of this DATA_DIR lives in {} instead",
                blocked.display(),
                base.display()
            );
        }
        for dir in [&self.cluster_dir, &self.socket_dir] {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            self.give_to_postgres(dir)?;
        }
        if self.run_as_postgres {
            check_traversable_by_others(&self.cluster_dir)?;
        }
        Ok(())
    }

    fn give_to_postgres(&self, path: &Path) -> anyhow::Result<()> {
        if !self.run_as_postgres {
            return Ok(());
        }
        let (uid, gid) = postgres_ids()?;
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .with_context(|| format!("giving {} to the postgres user", path.display()))
    }

    /// Whether the postmaster named in `postmaster.pid` is alive (not gone, not a zombie). Cheaper
    /// than `pg_ctl status`, so it can run every second.
    fn postmaster_alive(&self) -> bool {
        let Ok(pid_file) = std::fs::read_to_string(self.cluster_dir.join("postmaster.pid")) else {
            return false;
        };
        let Some(pid) = pid_file
            .lines()
            .next()
            .and_then(|line| line.trim().parse::<u32>().ok())
        else {
            return false;
        };
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            // `pid (comm) state …`: the state follows the last parenthesis.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
                .is_some_and(|state| state != 'Z' && state != 'X')
        })
    }

    /// Connection options for `database` as the cluster's superuser, over the Unix socket.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(PORT)
            .username(SUPERUSER)
            .database(database)
            .application_name(&application_name())
    }

    fn command(&self, program: &str, args: &[&str]) -> anyhow::Result<Command> {
        let binary = self.bin_dir.join(program);
        let mut command = if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", SUPERUSER, "--"]).arg(&binary);
            c
        } else {
            Command::new(&binary)
        };
        command.args(args).env("LC_ALL", "C").current_dir("/");
        Ok(command)
    }

    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<Output> {
        let output = self
            .command(program, args)?
            .output()
            .with_context(|| format!("running {program}"))?;
        if !output.status.success() {
            bail!(
                "{program} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim(),
                String::from_utf8_lossy(&output.stdout).trim()
            );
        }
        Ok(output)
    }
}

impl RunningCluster {
    /// Connection options for the application database.
    pub fn connect_options(&self) -> PgConnectOptions {
        self.cluster.connect_options(DATABASE_NAME)
    }

    /// The cluster description.
    pub fn cluster(&self) -> &EmbeddedPostgres {
        &self.cluster
    }

    /// Watches the cluster for the life of this value (a server's): when PostgreSQL is found dead it
    /// is started again, with backoff from 1 s to 30 s between attempts, and the log and `health`
    /// say so. Stopped by [`RunningCluster::stop`].
    pub fn supervise(&mut self) -> std::sync::Arc<ClusterHealth> {
        let health = std::sync::Arc::new(ClusterHealth::default());
        if let Some(previous) = self.watch.take() {
            previous.abort();
        }
        self.watch = Some(tokio::spawn(watch(self.cluster.clone(), health.clone())));
        health
    }

    /// Stops the cluster (fast shutdown: open sessions are ended, committed data is kept) unless
    /// another process still uses it: the last huntzen process to end stops it, whichever started it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(watch) = self.watch.take() {
            watch.abort();
        }
        // A process still on the cluster (a server started while this command ran, a command
        // running beside this server) keeps it: it stops it when it ends.
        let others = other_clients(&self.cluster).await.unwrap_or(0);
        if others > 0 {
            tracing::info!(
                others,
                "the embedded PostgreSQL cluster has other clients; leaving it running for them"
            );
            return Ok(());
        }
        let cluster = self.cluster.clone();
        tokio::task::spawn_blocking(move || {
            let dir = path_str(&cluster.cluster_dir)?.to_owned();
            cluster
                .run(
                    "pg_ctl",
                    &["-D", &dir, "-m", "fast", "-w", "-t", "30", "stop"],
                )
                .map(drop)
        })
        .await
        .context("stopping PostgreSQL")??;
        tracing::info!("embedded PostgreSQL stopped");
        Ok(())
    }
}

/// Starts the embedded cluster (initialising it on first use) and creates the application
/// database; records whether this process started it. On failure nothing is left running.
pub async fn start(data_dir: &Path) -> anyhow::Result<RunningCluster> {
    let cluster = EmbeddedPostgres::new(data_dir)?;
    let this = cluster.clone();
    let started_here = tokio::task::spawn_blocking(move || this.start_blocking())
        .await
        .context("starting PostgreSQL")??;
    if !started_here {
        match other_clients(&cluster).await {
            Ok(0) => tracing::warn!(
                cluster = %cluster.cluster_dir.display(),
                "adopting the embedded PostgreSQL cluster left running by a process that ended (a killed server?); it stops with this process"
            ),
            Ok(others) => tracing::info!(
                others,
                "the embedded PostgreSQL cluster is running for another process; sharing it"
            ),
            Err(error) => {
                tracing::warn!(%error, "the running embedded PostgreSQL cluster does not answer yet")
            }
        }
    }
    let running = RunningCluster {
        cluster,
        watch: None,
    };
    match create_database(&running.cluster).await {
        Ok(()) => Ok(running),
        Err(error) => {
            running.stop().await.ok();
            Err(error)
        }
    }
}

/// The watch loop of [`RunningCluster::supervise`].
async fn watch(cluster: EmbeddedPostgres, health: std::sync::Arc<ClusterHealth>) {
    let mut every = tokio::time::interval(WATCH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if cluster.postmaster_alive() {
            continue;
        }
        health.failed();
        tracing::error!(
            cluster = %cluster.cluster_dir.display(),
            "the embedded PostgreSQL died under the server; restarting it"
        );
        let mut backoff = std::time::Duration::from_secs(1);
        loop {
            let this = cluster.clone();
            let attempt = tokio::task::spawn_blocking(move || this.start_blocking())
                .await
                .map_err(anyhow::Error::from)
                .and_then(|started| started);
            match attempt {
                Ok(_) => {
                    let restarts = health.restarted();
                    tracing::warn!(restarts, "the embedded PostgreSQL was restarted");
                    break;
                }
                Err(error) => {
                    tracing::error!(
                        error = format!("{error:#}"),
                        retry_in_s = backoff.as_secs(),
                        "restarting the embedded PostgreSQL failed; retrying"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
                }
            }
        }
    }
}

/// The `application_name` of this process's sessions on the embedded cluster.
fn application_name() -> String {
    format!("huntzen-{}", std::process::id())
}

/// Sessions of other processes on the cluster (each process names its sessions after its pid).
async fn other_clients(cluster: &EmbeddedPostgres) -> anyhow::Result<i64> {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = cluster.connect_options("postgres").connect().await?;
    let others: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "value!"
           FROM pg_stat_activity
           WHERE backend_type = 'client backend' AND application_name <> $1"#,
        application_name()
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await.ok();
    Ok(others)
}

async fn create_database(cluster: &EmbeddedPostgres) -> anyhow::Result<()> {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = cluster
        .connect_options("postgres")
        .connect()
        .await
        .context("connecting to the embedded PostgreSQL")?;
    let exists: bool = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS "value!""#,
        DATABASE_NAME
    )
    .fetch_one(&mut conn)
    .await?;
    if !exists {
        // DDL names its database; it cannot be a prepared (checked) statement.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {DATABASE_NAME}"
        )))
        .execute(&mut conn)
        .await
        .context("creating the database")?;
    }
    conn.close().await.ok();
    Ok(())
}

/// Finds `initdb` and `pg_ctl`: on `PATH` first, then the newest `/usr/lib/postgresql/*/bin`.
pub fn find_binaries() -> anyhow::Result<PathBuf> {
    find_tools(&["initdb", "pg_ctl"]).with_context(|| {
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin: \
         install the `postgresql` package (apt-get install postgresql), or set DATABASE_URL"
    })
}

/// The directory holding every tool of `tools`: on `PATH` first (the directory a tool really
/// lives in, where Debian links it elsewhere), then the newest `/usr/lib/postgresql/*/bin`.
pub fn find_tools(tools: &[&str]) -> anyhow::Result<PathBuf> {
    find_tools_in(
        tools,
        std::env::var_os("PATH"),
        Path::new("/usr/lib/postgresql"),
    )
}

fn find_tools_in(
    tools: &[&str],
    path: Option<std::ffi::OsString>,
    versions: &Path,
) -> anyhow::Result<PathBuf> {
    let has_tools = |dir: &Path| tools.iter().all(|tool| dir.join(tool).is_file());
    if let Some(path) = path
        && let Some(dir) = std::env::split_paths(&path).find(|dir| has_tools(dir))
    {
        // A link to the same tool elsewhere (not to Debian's pg_wrapper): use that directory.
        let real = std::fs::canonicalize(dir.join(tools[0])).ok();
        let real_dir = real.and_then(|p| p.parent().map(Path::to_path_buf));
        return Ok(real_dir.filter(|real| has_tools(real)).unwrap_or(dir));
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir(versions)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    candidates.sort();
    match candidates.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "{} not found on PATH or in /usr/lib/postgresql/*/bin",
            tools.join(", ")
        ),
    }
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str()
        .with_context(|| format!("path is not UTF-8: {}", path.display()))
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // The owner of our own /proc entry is our effective user.
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn postgres_ids() -> anyhow::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&SUPERUSER) && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
        .context("running as root needs a `postgres` system user (installed with the postgresql package)")
}

/// The first existing ancestor of `dir` that others (so `postgres`) cannot search, if any.
fn untraversable_ancestor(dir: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    dir.ancestors()
        .skip(1)
        .find(|ancestor| {
            std::fs::metadata(ancestor).is_ok_and(|meta| meta.permissions().mode() & 0o001 == 0)
        })
        .map(Path::to_path_buf)
}

/// `RELOCATED_ROOT/<hash of DATA_DIR>`: stable for one DATA_DIR, distinct between two.
fn relocated_base(data_dir: &Path) -> PathBuf {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    Path::new(RELOCATED_ROOT).join(&hex::encode(digest)[..16])
}

/// As root the cluster runs as `postgres`, which must be able to reach its directory.
fn check_traversable_by_others(dir: &Path) -> anyhow::Result<()> {
    if let Some(ancestor) = untraversable_ancestor(dir) {
        bail!(
            "the postgres user cannot reach {} ({} is not searchable by others)",
            dir.display(),
            ancestor.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, "").expect("write");
    }

    #[test]
    fn a_client_only_installation_has_pg_dump_but_no_server() {
        // As in the container image: postgresql-client-15, and Debian's wrapper linked on PATH.
        let root = tempfile::tempdir().expect("tempdir");
        let versions = root.path().join("lib/postgresql");
        touch(&versions.join("15/bin/pg_dump"));
        touch(&versions.join("13/bin/pg_dump"));
        touch(&root.path().join("share/pg_wrapper"));
        let bin = root.path().join("bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        std::os::unix::fs::symlink(root.path().join("share/pg_wrapper"), bin.join("pg_dump"))
            .expect("link");

        assert_eq!(
            find_tools_in(&["pg_dump"], None, &versions).expect("found"),
            versions.join("15/bin")
        );
        let on_path = find_tools_in(&["pg_dump"], Some(bin.clone().into_os_string()), &versions)
            .expect("found");
        assert_eq!(on_path, bin, "the wrapper's own directory has no pg_dump");
        assert!(
            find_tools_in(&["initdb", "pg_ctl"], Some(bin.into_os_string()), &versions).is_err()
        );
    }
}
