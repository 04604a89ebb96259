//! SUPER_ADMIN operations: the settings in effect (secrets only as set/unset and a fingerprint)
//! and the structured log files under `$DATA_DIR/logs`, filtered and paged. Logs never hold
//! request bodies or confidential text (see `infra::telemetry`), so reading them is safe.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::Path;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::infra::auth::{Auth, SuperAdmin};
use crate::infra::config::{AppEnv, Settings};
use crate::infra::error::{ApiError, ApiResult};
use crate::infra::extract::ApiQuery;
use crate::infra::pagination::{Page, PageQuery};
use crate::infra::state::AppState;

/// A secret setting: never its value.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretSetting {
    pub set: bool,
    /// 12 hex digits of a keyed hash of the value (the same on every replica sharing the database,
    /// useless to guess the value). `ENCRYPTION_KEY`: the master key ids, current first.
    pub fingerprint: Option<String>,
    /// Not configured: generated in development and kept under `$DATA_DIR`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub generated: bool,
}

/// One setting: its value, or a [`SecretSetting`].
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Setting {
    Value(Value),
    Secret(SecretSetting),
}

/// The settings in effect, by environment variable name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    pub app_env: String,
    /// The running version.
    pub version: String,
    /// Each setting by its environment variable: its value, or for a secret a `SecretSetting`
    /// (`{ set, fingerprint, generated? }`).
    #[schema(value_type = Object)]
    pub settings: BTreeMap<String, Setting>,
}

fn env_name(env: AppEnv) -> &'static str {
    match env {
        AppEnv::Production => "production",
        AppEnv::Development => "development",
    }
}

fn plain(value: impl Serialize) -> Setting {
    Setting::Value(serde_json::to_value(value).unwrap_or(Value::Null))
}

/// The settings of `settings`: configured secrets fingerprinted with `fingerprint`, the others
/// looked up in `effective` (fingerprints of the secrets in effect, generated ones included).
fn describe(
    settings: &Settings,
    effective: &BTreeMap<&'static str, String>,
    fingerprint: impl Fn(&str, &[u8]) -> String,
) -> BTreeMap<String, Setting> {
    let secret = |name: &str, configured: Option<&str>| {
        let print = configured
            .map(|v| fingerprint(name, v.as_bytes()))
            .or_else(|| effective.get(name).cloned());
        Setting::Secret(SecretSetting {
            set: print.is_some(),
            fingerprint: print,
            generated: configured.is_none() && effective.contains_key(name),
        })
    };
    let mut out = BTreeMap::new();
    let mut put = |name: &str, setting: Setting| {
        out.insert(name.to_owned(), setting);
    };
    put("APP_ENV", plain(env_name(settings.app_env)));
    put("DATA_DIR", plain(settings.data_dir.display().to_string()));
    put("HTTP_ADDR", plain(settings.http_addr.to_string()));
    put(
        "DATABASE_URL",
        secret("DATABASE_URL", settings.database_url.as_deref()),
    );
    put(
        "JWT_SECRET",
        secret("JWT_SECRET", settings.jwt_secret.as_deref()),
    );
    put(
        "ENCRYPTION_KEY",
        Setting::Secret(SecretSetting {
            set: true,
            fingerprint: effective.get("ENCRYPTION_KEY").cloned(),
            generated: settings.encryption_key.is_none(),
        }),
    );
    put("PUBLIC_URL", plain(&settings.public_url));
    put("CORS_ORIGINS", plain(settings.allowed_origins()));
    put("JITSI_DOMAIN", plain(&settings.jitsi_domain));
    put("JITSI_APP_ID", plain(&settings.jitsi_app_id));
    put(
        "JITSI_APP_SECRET",
        secret("JITSI_APP_SECRET", settings.jitsi_app_secret.as_deref()),
    );
    put(
        "JITSI_WEBHOOK_SECRET",
        secret(
            "JITSI_WEBHOOK_SECRET",
            settings.jitsi_webhook_secret.as_deref(),
        ),
    );
    put("MAX_LIVE_BOOKINGS", plain(settings.max_live_bookings));
    put(
        "SOCKET_EVENTS_PER_SECOND",
        plain(settings.socket_events_per_second),
    );
    put("JOB_RETRIES", plain(settings.job_retries));
    put(
        "MESSAGE_RETENTION_MONTHS",
        plain(settings.message_retention_months),
    );
    put(
        "AUDIT_RETENTION_MONTHS",
        plain(settings.audit_retention_months),
    );
    put(
        "BACKUP_RETENTION_DAYS",
        plain(settings.backup_retention_days),
    );
    put(
        "CLINICAL_NOTE_RETENTION_YEARS",
        plain(settings.clinical_note_retention_years),
    );
    put(
        "METRICS_TOKEN",
        secret("METRICS_TOKEN", settings.metrics_token.as_deref()),
    );
    // URLs that may carry a password are secrets as a whole.
    put("SMTP_URL", secret("SMTP_URL", settings.smtp_url.as_deref()));
    put("MAIL_FROM", plain(&settings.mail_from));
    put(
        "REDIS_URL",
        secret("REDIS_URL", settings.redis_url.as_deref()),
    );
    put(
        "STORAGE_URL",
        secret("STORAGE_URL", settings.storage_url.as_deref()),
    );
    put("STUN_URLS", plain(&settings.stun_urls));
    put("CALL_RING_SECONDS", plain(settings.call_ring_seconds));
    put("TURN_URLS", plain(&settings.turn_urls));
    put(
        "TURN_SECRET",
        secret("TURN_SECRET", settings.turn_secret.as_deref()),
    );
    put("TRUSTED_PROXIES", plain(&settings.trusted_proxies));
    out
}

/// The settings in effect on this replica, by environment variable name. Secrets (and URLs that
/// may hold a password) show only whether they are set and a fingerprint.
#[utoipa::path(get, path = "/super-admin/config", tag = "super-admin", security(("bearer" = [])),
    responses((status = 200, body = Config)))]
pub async fn get_config(
    State(state): State<AppState>,
    auth: Auth<SuperAdmin>,
) -> ApiResult<Json<Config>> {
    auth.commit().await?;
    let pseudonyms = state.pseudonyms.clone();
    let settings = describe(
        &state.settings,
        &state.secret_fingerprints,
        |name, value| pseudonyms.fingerprint(name, value),
    );
    Ok(Json(Config {
        app_env: env_name(state.settings.app_env).to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        settings,
    }))
}

/// Log filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Lowest level shown: `error`, `warn`, `info` (default), `debug` or `trace`.
    pub level: Option<String>,
    /// Only entries at or after this instant (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Only the entries of one request (its `x-request-id`).
    pub request_id: Option<String>,
}

/// One log entry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub timestamp: Option<DateTime<Utc>>,
    pub level: String,
    pub target: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    /// The request's method and path, when logged inside one.
    pub method: Option<String>,
    pub path: Option<String>,
    /// The event's other fields.
    #[schema(value_type = Object)]
    pub fields: Value,
}

fn severity(level: &str) -> Option<u8> {
    match level.to_ascii_uppercase().as_str() {
        "ERROR" => Some(1),
        "WARN" => Some(2),
        "INFO" => Some(3),
        "DEBUG" => Some(4),
        "TRACE" => Some(5),
        _ => None,
    }
}

/// A field of the innermost request span of a JSON log line.
fn span_field(line: &Value, field: &str) -> Option<String> {
    let from = |span: &Value| span.get(field).and_then(Value::as_str).map(str::to_owned);
    line.get("span").and_then(from).or_else(|| {
        line.get("spans")
            .and_then(Value::as_array)
            .and_then(|spans| spans.iter().rev().find_map(from))
    })
}

/// An entry from one line of a log file, if it is one and passes the filters.
fn entry(
    line: &str,
    most: u8,
    since: Option<DateTime<Utc>>,
    request_id: Option<&str>,
) -> Option<LogEntry> {
    let value: Value = serde_json::from_str(line).ok()?;
    let level = value.get("level")?.as_str()?.to_owned();
    if severity(&level)? > most {
        return None;
    }
    let timestamp = value
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    if since.is_some_and(|since| timestamp.is_none_or(|t| t < since)) {
        return None;
    }
    let id = span_field(&value, "request_id");
    if request_id.is_some_and(|wanted| id.as_deref() != Some(wanted)) {
        return None;
    }
    let mut fields = value.get("fields").cloned().unwrap_or(Value::Null);
    let message = fields
        .as_object_mut()
        .and_then(|f| f.remove("message"))
        .and_then(|m| m.as_str().map(str::to_owned));
    Some(LogEntry {
        timestamp,
        level,
        target: value
            .get("target")
            .and_then(Value::as_str)
            .map(str::to_owned),
        message,
        request_id: id,
        method: span_field(&value, "method"),
        path: span_field(&value, "path"),
        fields,
    })
}

/// The matching entries of the log files in `dir`, newest first: (the requested page, total).
/// Files are `huntzen.YYYY-MM-DD.log`; those of days before `since` are not opened.
pub fn read_logs(
    dir: &Path,
    query: &LogQuery,
    offset: usize,
    limit: usize,
) -> ApiResult<(Vec<LogEntry>, usize)> {
    let most = match &query.level {
        Some(level) => severity(level).ok_or_else(|| {
            ApiError::invalid_field("level", "must be error, warn, info, debug or trace")
        })?,
        None => 3,
    };
    let mut files: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name.starts_with("huntzen") && name.ends_with(".log")).then(|| (name, e.path()))
        })
        .collect();
    // Newest first: the date sorts with the name.
    files.sort_by(|a, b| b.0.cmp(&a.0));
    let since_day = query.since.map(|s| s.format("%Y-%m-%d").to_string());
    let (mut page, mut total) = (Vec::new(), 0usize);
    for (name, path) in files {
        let day = name.trim_start_matches("huntzen.").trim_end_matches(".log");
        if since_day
            .as_deref()
            .is_some_and(|since| day.len() == 10 && day < since)
        {
            continue;
        }
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        let mut matching: Vec<LogEntry> = std::io::BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| entry(&line, most, query.since, query.request_id.as_deref()))
            .collect();
        matching.reverse();
        for item in matching {
            if total >= offset && page.len() < limit {
                page.push(item);
            }
            total += 1;
        }
    }
    Ok((page, total))
}

/// This replica's structured log entries, newest first, filtered by lowest `level`, `since` and
/// `requestId`, paged. They hold methods, paths, ids, codes and timings, never a request body or
/// confidential text.
#[utoipa::path(get, path = "/super-admin/logs", tag = "super-admin", security(("bearer" = [])), params(LogQuery, PageQuery),
    responses((status = 200, body = Page<LogEntry>), (status = 422, body = crate::infra::error::Problem)))]
pub async fn list_logs(
    State(state): State<AppState>,
    auth: Auth<SuperAdmin>,
    ApiQuery(query): ApiQuery<LogQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<LogEntry>>> {
    auth.commit().await?;
    let paging = page.paging()?;
    let dir = state.settings.data_dir.join("logs");
    let offset = usize::try_from(paging.offset()).unwrap_or(usize::MAX);
    let limit = usize::try_from(paging.limit()).unwrap_or(0);
    let (items, total) =
        tokio::task::spawn_blocking(move || read_logs(&dir, &query, offset, limit))
            .await
            .map_err(ApiError::internal)??;
    Ok(Json(Page::new(
        items,
        i64::try_from(total).unwrap_or(i64::MAX),
        paging,
    )))
}

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_config))
        .routes(routes!(list_logs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_read_filtered_and_never_invented() {
        let line = r#"{"timestamp":"2026-12-08T02:00:00.5Z","level":"WARN","fields":{"message":"slow","ms":900},"target":"huntzen::x","span":{"method":"GET","path":"/api/me","request_id":"r-1","name":"request"},"spans":[{"method":"GET","path":"/api/me","request_id":"r-1","name":"request"}]}"#;
        let read = entry(line, 3, None, Some("r-1")).expect("entry");
        assert_eq!(read.message.as_deref(), Some("slow"));
        assert_eq!(read.path.as_deref(), Some("/api/me"));
        assert_eq!(read.fields["ms"], 900);
        assert!(entry(line, 1, None, None).is_none(), "below the level");
        assert!(
            entry(line, 3, None, Some("r-2")).is_none(),
            "another request"
        );
        let later = "2026-12-08T03:00:00Z".parse().ok();
        assert!(entry(line, 3, later, None).is_none(), "before since");
        assert!(entry("not json", 5, None, None).is_none());
    }
}
