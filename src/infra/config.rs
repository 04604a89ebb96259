//! Settings come from environment variables (each documented in `huntzen --help`). Secrets are
//! checked here: in production a missing or weak one stops startup; in development a missing one
//! is generated once into `$DATA_DIR/secrets/` with a warning.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rand::Rng;
use zeroize::Zeroizing;

/// Deployment mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AppEnv {
    /// Local use: missing secrets are generated, logs are human-readable.
    Development,
    /// Real deployments: every secret must be given and strong, logs are JSON.
    Production,
}

/// Every setting of the server, read from the environment (or the matching flag).
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Directory for the embedded database, secrets, logs, outbox and files.
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// Address the HTTP server listens on.
    #[arg(
        long,
        env = "HTTP_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub http_addr: SocketAddr,

    /// PostgreSQL URL. Unset: a private cluster is started under `$DATA_DIR/postgres`.
    /// The role must own the database and have BYPASSRLS (or be a superuser).
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Access-token signing secret (at least 32 characters). Generated in development.
    #[arg(long, env = "JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Master keyring: comma-separated 64-hex-digit keys, the first is current. Generated in development.
    #[arg(long, env = "ENCRYPTION_KEY", global = true, hide_env_values = true)]
    pub encryption_key: Option<String>,

    /// Public base URL of the web front end, used in mailed links.
    #[arg(
        long,
        env = "PUBLIC_URL",
        default_value = "http://localhost:3000",
        global = true
    )]
    pub public_url: String,

    /// Origins allowed by CORS and Socket.IO, comma-separated (empty: same origin only).
    #[arg(long, env = "CORS_ORIGINS", default_value = "", global = true)]
    pub cors_origins: String,

    /// Jitsi Meet domain for video rooms.
    #[arg(
        long,
        env = "JITSI_DOMAIN",
        default_value = "meet.jitsi.local",
        global = true
    )]
    pub jitsi_domain: String,

    /// Jitsi application id (`iss` of room tokens).
    #[arg(long, env = "JITSI_APP_ID", default_value = "huntzen", global = true)]
    pub jitsi_app_id: String,

    /// Jitsi application secret (HS256 key of room tokens). Generated in development.
    #[arg(long, env = "JITSI_APP_SECRET", global = true, hide_env_values = true)]
    pub jitsi_app_secret: Option<String>,

    /// Shared secret Jitsi's event_sync module sends (`Authorization: Bearer …`) to
    /// `/api/webhooks/jitsi/events`. Unset: the webhook refuses every call.
    #[arg(
        long,
        env = "JITSI_WEBHOOK_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub jitsi_webhook_secret: Option<String>,

    /// Most live future bookings an employee may hold at once.
    #[arg(long, env = "MAX_LIVE_BOOKINGS", default_value_t = 3, global = true)]
    pub max_live_bookings: i64,
    /// Socket.IO events one user may send per second, across all their sockets and nodes.
    #[arg(
        long,
        env = "SOCKET_EVENTS_PER_SECOND",
        default_value_t = 30,
        global = true
    )]
    pub socket_events_per_second: u32,

    /// Retries of a failing background job (exponential backoff from 1 s) before it is left failed
    /// in `apalis.jobs` for inspection.
    #[arg(long, env = "JOB_RETRIES", default_value_t = 5, global = true)]
    pub job_retries: usize,

    /// Months after a consultation ends before its chat messages and attachments are purged.
    #[arg(
        long,
        env = "MESSAGE_RETENTION_MONTHS",
        default_value_t = 12,
        global = true
    )]
    pub message_retention_months: u32,

    /// Months audit rows are kept.
    #[arg(
        long,
        env = "AUDIT_RETENTION_MONTHS",
        default_value_t = 12,
        global = true
    )]
    pub audit_retention_months: u32,

    /// Days a backup (its dump and key snapshot) is kept in `$DATA_DIR/backups`; older ones are
    /// deleted by each backup run (docs/backup.md).
    #[arg(
        long,
        env = "BACKUP_RETENTION_DAYS",
        default_value_t = 30,
        global = true
    )]
    pub backup_retention_days: u32,

    /// Years an erased practitioner's clinical notes stay sealed (readable by no one) before the
    /// retention job destroys them (docs/gdpr.md).
    #[arg(
        long,
        env = "CLINICAL_NOTE_RETENTION_YEARS",
        default_value_t = 20,
        global = true
    )]
    pub clinical_note_retention_years: u32,

    /// Bearer token of `GET /metrics` (unset: loopback clients only).
    #[arg(long, env = "METRICS_TOKEN", global = true, hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// SMTP server URL (e.g. `smtp://user:pass@host:587`). Unset: mail is written to `$DATA_DIR/outbox/`.
    #[arg(long, env = "SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender of outgoing mail.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "HuntZen Care <no-reply@huntzen.care>",
        global = true
    )]
    pub mail_from: String,

    /// Redis URL for multi-node Socket.IO (must say `?protocol=resp3`). Unset: single node.
    #[arg(long, env = "REDIS_URL", global = true, hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Object storage URL for files (`file:///path` or `s3://bucket`). Unset: `$DATA_DIR/files`.
    #[arg(long, env = "STORAGE_URL", global = true)]
    pub storage_url: Option<String>,

    /// STUN server URLs for audio calls, comma-separated (empty: none; peers on one network still connect).
    #[arg(long, env = "STUN_URLS", default_value = "", global = true)]
    pub stun_urls: String,

    /// Seconds an audio call rings before it is missed.
    #[arg(long, env = "CALL_RING_SECONDS", default_value_t = 30, global = true)]
    pub call_ring_seconds: u64,

    /// TURN server URLs for audio calls, comma-separated.
    #[arg(long, env = "TURN_URLS", global = true)]
    pub turn_urls: Option<String>,

    /// TURN shared secret for short-lived TURN credentials.
    #[arg(long, env = "TURN_SECRET", global = true, hide_env_values = true)]
    pub turn_secret: Option<String>,

    /// Reverse proxies whose `X-Forwarded-For` is believed (IP addresses or CIDR blocks,
    /// comma-separated, e.g. nginx's address). Empty: the TCP peer is the client.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "", global = true)]
    pub trusted_proxies: String,

    /// `development` or `production`.
    #[arg(
        long,
        env = "APP_ENV",
        value_enum,
        default_value = "development",
        global = true
    )]
    pub app_env: AppEnv,
}

impl Settings {
    /// An empty optional setting counts as unset. Compose passes `SMTP_URL: ${SMTP_URL:-}` as
    /// `SMTP_URL=`, which must mean "no SMTP server", not "an SMTP server whose URL is empty".
    pub fn unset_blank_values(&mut self) {
        let optional = [
            &mut self.database_url,
            &mut self.jwt_secret,
            &mut self.encryption_key,
            &mut self.jitsi_app_secret,
            &mut self.jitsi_webhook_secret,
            &mut self.metrics_token,
            &mut self.smtp_url,
            &mut self.redis_url,
            &mut self.storage_url,
            &mut self.turn_urls,
            &mut self.turn_secret,
        ];
        for value in optional {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *value = None;
            }
        }
    }

    /// Origins allowed by CORS, parsed from `CORS_ORIGINS`.
    pub fn allowed_origins(&self) -> Vec<String> {
        self.cors_origins
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Resolves every secret, generating missing ones in development.
    pub fn secrets(&self) -> anyhow::Result<Secrets> {
        let production = self.app_env == AppEnv::Production;
        let store = SecretStore::new(&self.data_dir);
        let jwt = resolve(
            &store,
            "JWT_SECRET",
            self.jwt_secret.as_deref(),
            production,
            generate_text,
        )?;
        check_text_secret("JWT_SECRET", &jwt)?;
        let jitsi = resolve(
            &store,
            "JITSI_APP_SECRET",
            self.jitsi_app_secret.as_deref(),
            production,
            generate_text,
        )?;
        check_text_secret("JITSI_APP_SECRET", &jitsi)?;
        let keyring = resolve(
            &store,
            "ENCRYPTION_KEY",
            self.encryption_key.as_deref(),
            production,
            generate_hex_key,
        )?;
        let master_keys = parse_keyring(&keyring)?;
        Ok(Secrets {
            jwt_secret: Zeroizing::new(jwt.as_bytes().to_vec()),
            jitsi_app_secret: Zeroizing::new(jitsi.as_bytes().to_vec()),
            master_keys,
        })
    }
}

/// Secret material. Never printed by `Debug`; zeroized when dropped.
pub struct Secrets {
    /// HS256 key of access tokens.
    pub jwt_secret: Zeroizing<Vec<u8>>,
    /// HS256 key of Jitsi room tokens.
    pub jitsi_app_secret: Zeroizing<Vec<u8>>,
    /// Master keys, current first.
    pub master_keys: Vec<MasterKey>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

/// A 256-bit master key and its id (a short fingerprint, safe to store beside wrapped keys).
pub struct MasterKey {
    /// Fingerprint: first 8 hex digits of SHA-256 of the key.
    pub id: String,
    /// Key bytes.
    pub key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

/// Secrets generated in development live in `$DATA_DIR/secrets/<NAME>`, readable by the owner only.
struct SecretStore {
    dir: PathBuf,
}

impl SecretStore {
    fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("secrets"),
        }
    }

    fn load_or_generate(&self, name: &str, generate: fn() -> String) -> anyhow::Result<String> {
        let path = self.dir.join(name);
        if let Ok(existing) = std::fs::read_to_string(&path) {
            return Ok(existing.trim().to_owned());
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        set_mode(&self.dir, 0o700)?;
        let value = generate();
        std::fs::write(&path, &value).with_context(|| format!("writing {}", path.display()))?;
        set_mode(&path, 0o600)?;
        tracing::warn!(
            secret = name,
            path = %path.display(),
            "{name} is not set: generated a development value (set it explicitly in production)"
        );
        Ok(value)
    }
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("restricting permissions of {}", path.display()))
}

fn resolve(
    store: &SecretStore,
    name: &str,
    given: Option<&str>,
    production: bool,
    generate: fn() -> String,
) -> anyhow::Result<String> {
    match given.map(str::trim).filter(|value| !value.is_empty()) {
        Some(value) => Ok(value.to_owned()),
        None if production => bail!("{name} must be set when APP_ENV=production"),
        None => store.load_or_generate(name, generate),
    }
}

fn generate_text() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn generate_hex_key() -> String {
    generate_text()
}

const PLACEHOLDERS: &[&str] = &[
    "changeme",
    "change-me",
    "secret",
    "password",
    "your-secret",
    "jwt-secret",
];

fn check_text_secret(name: &str, value: &str) -> anyhow::Result<()> {
    let distinct = value
        .chars()
        .collect::<std::collections::HashSet<_>>()
        .len();
    let lower = value.to_ascii_lowercase();
    if value.len() < 32 || distinct < 8 || PLACEHOLDERS.iter().any(|p| lower.contains(p)) {
        bail!(
            "{name} is too weak: use at least 32 random characters (e.g. `openssl rand -hex 32`)"
        );
    }
    Ok(())
}

/// Parses `ENCRYPTION_KEY`: comma-separated 32-byte hex keys, the first being current.
pub fn parse_keyring(value: &str) -> anyhow::Result<Vec<MasterKey>> {
    let mut keys = Vec::new();
    for (index, part) in value.split(',').map(str::trim).enumerate() {
        let mut key = Zeroizing::new([0u8; 32]);
        if part.len() != 64 || hex::decode_to_slice(part, key.as_mut()).is_err() {
            bail!(
                "ENCRYPTION_KEY entry {} is not 64 hex digits (32 bytes)",
                index + 1
            );
        }
        if key.iter().collect::<std::collections::HashSet<_>>().len() < 8 {
            bail!(
                "ENCRYPTION_KEY entry {} is too weak: use random bytes (`openssl rand -hex 32`)",
                index + 1
            );
        }
        use sha2::Digest;
        let id = hex::encode(&sha2::Sha256::digest(key.as_ref())[..4]);
        keys.push(MasterKey { id, key });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Command {
        #[command(flatten)]
        settings: Settings,
    }

    #[test]
    fn an_empty_optional_setting_is_unset() {
        let mut settings = Command::try_parse_from([
            "huntzen",
            "--smtp-url",
            "",
            "--redis-url",
            " ",
            "--turn-secret",
            "",
        ])
        .expect("parse")
        .settings;
        settings.unset_blank_values();
        assert_eq!(settings.smtp_url, None);
        assert_eq!(settings.redis_url, None);
        assert_eq!(settings.turn_secret, None);
        let mut given = Command::try_parse_from(["huntzen", "--smtp-url", "smtp://mail:25"])
            .expect("parse")
            .settings;
        given.unset_blank_values();
        assert_eq!(given.smtp_url.as_deref(), Some("smtp://mail:25"));
    }

    /// `unset_blank_values` lists the optional settings by hand: every setting without a default
    /// that accepts an empty value must be on that list.
    #[test]
    fn every_optional_setting_left_blank_is_unset() {
        use clap::CommandFactory as _;
        let mut checked = 0;
        for arg in Command::command().get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if !arg.get_default_values().is_empty() {
                continue;
            }
            let flag = format!("--{long}");
            let Ok(parsed) = Command::try_parse_from(["huntzen", flag.as_str(), ""]) else {
                continue;
            };
            let mut settings = parsed.settings;
            settings.unset_blank_values();
            assert!(
                !format!("{settings:?}").contains("Some(\"\")"),
                "{flag} given empty stays set: add it to Settings::unset_blank_values"
            );
            checked += 1;
        }
        assert!(checked >= 11, "only {checked} optional settings found");
    }

    #[test]
    fn keyring_rejects_short_and_weak_keys() {
        assert!(parse_keyring("abcd").is_err());
        assert!(parse_keyring(&"00".repeat(32)).is_err());
        let good = generate_hex_key();
        let ring = parse_keyring(&format!("{good}, {}", generate_hex_key())).expect("two keys");
        assert_eq!(ring.len(), 2);
        assert_eq!(ring[0].id.len(), 8);
        assert!(!format!("{:?}", ring[0]).contains(&good));
    }

    #[test]
    fn text_secrets_must_be_long_and_random() {
        assert!(check_text_secret("JWT_SECRET", "short").is_err());
        assert!(check_text_secret("JWT_SECRET", &"a".repeat(40)).is_err());
        assert!(
            check_text_secret("JWT_SECRET", "changeme-changeme-changeme-changeme-123").is_err()
        );
        assert!(check_text_secret("JWT_SECRET", &generate_text()).is_ok());
    }
}
