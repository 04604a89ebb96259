//! Logs go to stderr (human-readable in development, JSON in production) and to a file rotated daily
//! under `$DATA_DIR/logs` (always JSON, 14 files kept). `RUST_LOG` overrides the default filter.
//! Nothing here logs request bodies: tokens, passwords, keys and confidential text never reach a log.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

use crate::infra::config::AppEnv;

const DEFAULT_FILTER: &str = "info,sqlx=warn,tower_http=info";

/// Installs the global subscriber. Keep the guard alive for the life of the process: dropping it
/// flushes and stops the file writer.
pub fn init(data_dir: &Path, env: AppEnv) -> Option<WorkerGuard> {
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let stderr = match env {
        AppEnv::Production => fmt::layer().json().with_writer(std::io::stderr).boxed(),
        AppEnv::Development => fmt::layer().with_writer(std::io::stderr).boxed(),
    };
    let (file_layer, guard) = match file_appender(data_dir) {
        Some(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = fmt::layer().json().with_ansi(false).with_writer(writer);
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    // One global filter for both outputs. (Each layer with its own copy of the same filter was
    // tried: per-layer filtering dropped the request span from some JSON file lines at random,
    // losing their `request_id`.) A second init (tests, several commands in one process) keeps
    // the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter())
        .with(stderr)
        .with(file_layer)
        .try_init();
    guard
}

fn file_appender(data_dir: &Path) -> Option<RollingFileAppender> {
    let dir = data_dir.join("logs");
    std::fs::create_dir_all(&dir).ok()?;
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("huntzen")
        .filename_suffix("log")
        .max_log_files(14)
        .build(dir)
        .ok()
}
