//! Infrastructure: what every feature stands on. Nothing here names a feature module.

/// Audit trail: who did what, never a secret.
pub mod audit;
/// The `Auth<R>` extractor and the role sets handlers ask for.
pub mod auth;
/// The files beside the dumps: key snapshots and the erasure ledger.
pub mod backup_files;
/// The client's address behind trusted reverse proxies (`TRUSTED_PROXIES`).
pub mod client_ip;
/// Configuration from the environment, and secrets (generated in development).
pub mod config;
/// AES-256-GCM sealing with associated data and the master keyring.
pub mod crypto;
/// PostgreSQL: the embedded cluster, the two pools and per-request RLS context.
pub mod db;
/// The one error type, rendered as RFC 9457 problem details with stable codes.
pub mod error;
/// Request body, query and path extraction that answers in the error format.
pub mod extract;
/// Rules for text fields shared by every feature (required, optional, locale).
pub mod fields;
/// Who is calling: `Role` and `Principal`.
pub mod identity;
/// Job payloads and their enqueueing in the caller's transaction.
pub mod jobs;
/// Outgoing mail: SMTP, or `.eml` files in the outbox.
pub mod mail;
/// Prometheus metrics at `/metrics`.
pub mod metrics;
/// Page-based list parameters and answers.
pub mod pagination;
/// argon2id password hashing on a bounded pool, and the password rules.
pub mod passwords;
/// The Socket.IO hub: adapters, authentication, rooms, event transactions.
pub mod realtime;
/// Hand-made OpenAPI schema pieces.
pub mod schemas;
/// Login sessions, refresh-token rotation and the client's metadata.
pub mod sessions;
/// Shared application state handed to every handler.
pub mod state;
/// Blob storage of encrypted files.
pub mod storage;
/// Logging: structured, JSON in production, rotated daily under `$DATA_DIR/logs`.
pub mod telemetry;
/// Access tokens (JWT).
pub mod tokens;
