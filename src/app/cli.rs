//! The `huntzen` command: `serve` (the default), `migrate`, `create-admin`. Every setting is an
//! environment variable; `huntzen --help` lists them.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use sqlx::postgres::PgConnectOptions;

use crate::infra::audit::{Action, Entry};
use crate::infra::config::Settings;
use crate::infra::db::embedded::{self, RunningCluster};
use crate::infra::db::{Db, PoolSizes};
use crate::infra::error::looks_like_email;
use crate::infra::identity::Role;
use crate::infra::passwords::Passwords;
use crate::infra::state::AppState;
use crate::people::accounts::users::{NewUser, create_user};

/// HuntZen Care backend.
#[derive(Debug, Parser)]
#[command(name = "huntzen", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (default). Without DATABASE_URL, runs a private PostgreSQL under $DATA_DIR.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Re-wrap every data key under the current master key (the first of ENCRYPTION_KEY).
    /// Safe to interrupt and run again.
    RotateKeys {
        /// Data keys per committed batch.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
    /// Write an encrypted backup (pg_dump, sealed with the master key) to $DATA_DIR/backups.
    Backup,
    /// Restore a backup into an empty database (DATABASE_URL, or the embedded default): roles,
    /// grants, policies, the data keys of its key snapshot, then the erasure ledger replayed and
    /// the audit chain verified. Refuses a file it cannot authenticate or a non-empty database.
    Restore {
        /// The `<time>-<id>.dump.enc` file; its `<time>-<id>.keys.enc` must be beside it.
        file: std::path::PathBuf,
    },
    /// Decrypt a backup file into a pg_dump archive (and, with --keys-out, its key snapshot into
    /// SQL) for a restore by hand (docs/backup.md).
    DecryptBackup {
        /// The `.dump.enc` file.
        #[arg(long)]
        file: std::path::PathBuf,
        /// Where to write the archive.
        #[arg(long)]
        out: std::path::PathBuf,
        /// Where to write the key snapshot as SQL (erasure ledger applied).
        #[arg(long)]
        keys_out: Option<std::path::PathBuf>,
    },
    /// Audit trail tools.
    Audit {
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// Create demo data (a company, its HR admin and employees, validated practitioners with
    /// availability, consultations in every state) and print the logins. Refused in production.
    SeedDemo {
        /// Password of every demo account.
        #[arg(long, default_value = crate::app::demo::DEFAULT_PASSWORD)]
        password: String,
    },
    /// Exit 0 when the server on HTTP_ADDR (or `--url`) answers `GET /api/ready` with 200: the
    /// container image's health check (it has no curl).
    Healthcheck {
        /// Base URL to check (plain http), default `http://<HTTP_ADDR>` with 0.0.0.0 read as 127.0.0.1.
        #[arg(long)]
        url: Option<String>,
    },
    /// Create a platform administrator; the password is read from standard input.
    CreateAdmin {
        /// The administrator's email.
        #[arg(long)]
        email: String,
        /// SUPER_ADMIN or ADMIN_HUNTZEN.
        #[arg(long, value_parser = parse_admin_role)]
        role: Role,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the audit trail's hash chain; exits non-zero at the first row that was altered.
    Verify,
}

fn parse_admin_role(value: &str) -> Result<Role, String> {
    match value.parse::<Role>()? {
        role @ (Role::SuperAdmin | Role::AdminHuntzen) => Ok(role),
        other => Err(format!(
            "{other} accounts are not created from the command line (SUPER_ADMIN or ADMIN_HUNTZEN)"
        )),
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let mut cli = Cli::parse();
    cli.settings.unset_blank_values();
    let _log_guard = crate::infra::telemetry::init(&cli.settings.data_dir, cli.settings.app_env);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let (db, cluster) = open_database(&settings).await?;
            tracing::info!("migrations applied");
            close(db, cluster).await
        }
        Command::RotateKeys { batch } => {
            let secrets = settings.secrets()?;
            let keyring = crate::infra::crypto::Keyring::new(&secrets.master_keys)?;
            let (db, cluster) = open_database(&settings).await?;
            let result = crate::infra::crypto::rotation::rotate(
                &db,
                &keyring,
                batch.max(1),
                &mut std::io::stdout(),
            )
            .await;
            close(db, cluster).await?;
            result.map(drop)
        }
        Command::Backup => {
            let secrets = settings.secrets()?;
            let keyring =
                std::sync::Arc::new(crate::infra::crypto::Keyring::new(&secrets.master_keys)?);
            let (db, cluster) = open_database(&settings).await?;
            let options = db.system.connect_options();
            let result = crate::governance::backup::run(
                &db.system,
                crate::governance::backup::Target {
                    database_url: settings.database_url.as_deref(),
                    options: &options,
                },
                &keyring,
                &settings.data_dir,
                uuid::Uuid::new_v4(),
                settings.backup_retention_days,
            )
            .await;
            close(db, cluster).await?;
            let written = result?;
            println!("backup written: {}", written.dump.display());
            println!(
                "key snapshot:   {} ({} data keys)",
                written.keys.display(),
                written.key_rows
            );
            println!(
                "older than {} days, deleted: {}",
                settings.backup_retention_days, written.pruned
            );
            Ok(())
        }
        Command::Restore { file } => restore(&settings, &file).await,
        Command::DecryptBackup {
            file,
            out,
            keys_out,
        } => {
            let secrets = settings.secrets()?;
            let keyring = crate::infra::crypto::Keyring::new(&secrets.master_keys)?;
            let dump = crate::governance::backup::decrypt(&keyring, &file)?;
            write_private(&out, &dump)?;
            println!("wrote {}", out.display());
            if let Some(keys_out) = keys_out {
                let path =
                    crate::infra::backup_files::snapshot_of(&file).context("key snapshot path")?;
                let mut snapshot = crate::infra::backup_files::read_snapshot(&keyring, &path)?;
                let ledger =
                    crate::infra::backup_files::BackupDir::new(&settings.data_dir).ledger()?;
                snapshot.apply(&ledger);
                write_private(
                    &keys_out,
                    crate::governance::backup::keys_sql(&snapshot).as_bytes(),
                )?;
                println!(
                    "wrote {} ({} data keys, erasure ledger applied)",
                    keys_out.display(),
                    snapshot.keys.len()
                );
            }
            println!("restore by hand: see docs/backup.md (or use `huntzen restore FILE`)");
            Ok(())
        }
        Command::Audit {
            action: AuditCommand::Verify,
        } => {
            let (db, cluster) = open_database(&settings).await?;
            let result = crate::infra::audit::verify(&db).await;
            close(db, cluster).await?;
            match result? {
                crate::infra::audit::Verification::Intact { rows } => {
                    println!("audit chain intact: {rows} rows checked");
                    Ok(())
                }
                crate::infra::audit::Verification::Broken { seq, id } => {
                    bail!(
                        "audit chain broken at row #{seq} ({id}): it or its predecessor was altered"
                    )
                }
            }
        }
        Command::Healthcheck { url } => {
            let mut addr = settings.http_addr;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            let url = url.unwrap_or_else(|| format!("http://{addr}"));
            let status = crate::app::probe::ready_status(&url).await?;
            if status != 200 {
                bail!("{url}/api/ready answered {status}");
            }
            println!("ready");
            Ok(())
        }
        Command::SeedDemo { password } => {
            crate::app::demo::ensure_allowed(&settings)?;
            let secrets = settings.secrets()?;
            let (db, cluster) = open_database(&settings).await?;
            let result = crate::app::demo::seed(&db, &password, &secrets.jitsi_app_secret).await;
            close(db, cluster).await?;
            print!(
                "{}",
                crate::app::demo::describe(&result?, &password, &settings.public_url)
            );
            Ok(())
        }
        Command::CreateAdmin { email, role } => {
            let password = read_password()?;
            let (db, cluster) = open_database(&settings).await?;
            let result = create_admin(&db, &email, role, &password).await;
            close(db, cluster).await?;
            result?;
            println!("created {role} {email}");
            Ok(())
        }
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

async fn restore(settings: &Settings, file: &std::path::Path) -> anyhow::Result<()> {
    let secrets = settings.secrets()?;
    let keyring = std::sync::Arc::new(crate::infra::crypto::Keyring::new(&secrets.master_keys)?);
    // Not `open_database`: that migrates, and a restore needs the target still empty.
    let (options, cluster) = database_options(settings).await?;
    let backups = crate::infra::backup_files::BackupDir::new(&settings.data_dir);
    let result = crate::governance::restore::restore(
        file,
        crate::governance::backup::Target {
            database_url: settings.database_url.as_deref(),
            options: &options,
        },
        &keyring,
        &backups,
        settings.clinical_note_retention_years,
        &mut std::io::stdout(),
    )
    .await;
    if let Some(cluster) = cluster {
        cluster.stop().await?;
    }
    let restored = result?;
    println!(
        "restored {}: {} data keys, {} erasures replayed, {} audit rows verified",
        file.display(),
        restored.keys,
        restored.replayed,
        restored.audit_rows
    );
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    // Secrets first: a production misconfiguration stops before anything starts.
    let secrets = settings.secrets()?;
    let listener = tokio::net::TcpListener::bind(settings.http_addr)
        .await
        .with_context(|| format!("binding HTTP_ADDR {}", settings.http_addr))?;
    let (db, mut cluster) = open_database(&settings).await?;
    let embedded_database = cluster.as_mut().map(RunningCluster::supervise);
    let served = async {
        let mut state = AppState::new(db.clone(), settings, &secrets).await?;
        state.embedded_database = embedded_database;
        let (stop_jobs, jobs_stopped) = tokio::sync::watch::channel(false);
        let jobs = tokio::spawn(crate::app::jobs::run(
            crate::app::jobs::JobContext::new(&state)?,
            async move {
                let mut stopped = jobs_stopped;
                let _ = stopped.wait_for(|stop| *stop).await;
            },
        ));
        let retention = tokio::spawn(crate::governance::retention::daily(state.clone()));
        tracing::info!(addr = %listener.local_addr()?, "serving");
        let result = crate::app::server::serve(
            listener,
            crate::app::server::app(state).await?,
            crate::app::server::shutdown_signal(),
        )
        .await;
        let _ = stop_jobs.send(true);
        retention.abort();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), jobs).await;
        result?;
        anyhow::Ok(())
    }
    .await;
    close(db, cluster).await?;
    served
}

/// Connects to DATABASE_URL, or starts the embedded cluster; migrations are applied either way.
pub async fn open_database(settings: &Settings) -> anyhow::Result<(Db, Option<RunningCluster>)> {
    let (options, cluster) = database_options(settings).await?;
    match Db::connect(options, PoolSizes::default()).await {
        Ok(db) => Ok((db, cluster)),
        Err(error) => {
            if let Some(cluster) = cluster {
                cluster.stop().await.ok();
            }
            Err(error)
        }
    }
}

/// How to reach the database: `DATABASE_URL`, or the embedded cluster (started if needed).
async fn database_options(
    settings: &Settings,
) -> anyhow::Result<(PgConnectOptions, Option<RunningCluster>)> {
    Ok(match &settings.database_url {
        Some(url) => (
            url.parse::<PgConnectOptions>()
                .context("parsing DATABASE_URL")?,
            None,
        ),
        None => {
            let cluster = embedded::start(&settings.data_dir).await?;
            (cluster.connect_options(), Some(cluster))
        }
    })
}

async fn close(db: Db, cluster: Option<RunningCluster>) -> anyhow::Result<()> {
    db.close().await;
    if let Some(cluster) = cluster {
        cluster.stop().await?;
    }
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (12 to 128 characters): ");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    let length = password.chars().count();
    if !(12..=128).contains(&length) {
        bail!("the password must have 12 to 128 characters (it has {length})");
    }
    Ok(password)
}

/// Creates a platform administrator (email verified, active).
pub async fn create_admin(
    db: &Db,
    email: &str,
    role: Role,
    password: &str,
) -> anyhow::Result<uuid::Uuid> {
    let email = email.trim().to_lowercase();
    if !looks_like_email(&email) {
        bail!("`{email}` is not a valid email address");
    }
    let hash = Passwords::new(1)?
        .hash(password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = crate::infra::db::context::begin(&db.system).await?;
    let new = NewUser {
        password_hash: Some(&hash),
        email_verified: true,
        ..NewUser::new(&email, role)
    };
    let id = match create_user(&mut tx, &new).await {
        Err(e) if e.code() == "user.email_taken" => {
            bail!("a user with the email {email} already exists")
        }
        result => result.map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    Entry::new(Action::Create, "user")
        .target(id)
        .details(serde_json::json!({ "role": role, "via": "command line" }))
        .record(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}
