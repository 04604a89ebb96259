//! HuntZen Care: a confidential teleconsultation backend (REST + Socket.IO) on PostgreSQL with
//! row-level security.
#![forbid(unsafe_code)]

/// Platform operations for SUPER_ADMIN: audit trail, health, metrics summary.
pub mod admin;
/// The HTTP API: the route table, middleware and the OpenAPI document.
pub mod api;
/// Audit trail: who did what, never a secret.
pub mod audit;
/// Identity: passwords, access tokens, login sessions and the request extractors.
pub mod auth;
/// Encrypted database backups.
pub mod backup;
/// The blog: platform-written articles, public reading.
pub mod blog;
/// Chat beside a consultation (sealed messages, attachments).
pub mod chat;
/// The `huntzen` command line: `serve`, `migrate`, `create-admin`.
pub mod cli;
/// The client's address behind trusted reverse proxies (`TRUSTED_PROXIES`).
pub mod client_ip;
/// Clinical notes: the practitioner's own, sealed, every read audited.
pub mod clinical;
/// Companies (tenants): creation, validation, profile.
pub mod companies;
/// Configuration from the environment, and secrets (generated in development).
pub mod config;
/// AES-256-GCM sealing with associated data and the master keyring.
pub mod crypto;
/// PostgreSQL: the embedded cluster, the two pools and per-request RLS context.
pub mod db;
/// `huntzen seed-demo`: demo tenant, practitioners and consultations.
pub mod demo;
/// Employees: HR management, CSV import, own profile.
pub mod employees;
/// The one error type, rendered as RFC 9457 problem details with stable codes.
pub mod error;
/// Request body extraction and input validation that answer in the error format.
pub mod extract;
/// Uploaded files: type sniffing, sealing, download.
pub mod files;
/// GDPR: consents and the personal data export.
pub mod gdpr;
/// Liveness and readiness.
pub mod health;
/// `huntzen healthcheck`: `GET /api/ready` without an HTTP client.
pub mod healthcheck;
/// Background jobs on the durable PostgreSQL queue (mail).
pub mod jobs;
/// The employee's private journal, sealed.
pub mod journal;
/// Outgoing mail: SMTP, or `.eml` files in the outbox.
pub mod mail;
/// The caller's own account: `GET /api/me`.
pub mod me;
/// Prometheus metrics at `/metrics`.
pub mod metrics;
/// Company news written by HR.
pub mod news;
/// A user's notifications.
pub mod notifications;
/// Page-based list parameters and answers.
pub mod pagination;
/// Practitioners: profiles, validation, search.
pub mod practitioners;
/// Socket.IO: chat, presence, notifications, call signalling.
pub mod realtime;
/// Reports: counters and aggregates, never clinical content.
pub mod reports;
/// Retention: purging old chat content and audit rows.
pub mod retention;
/// Scheduling: availability, slots, consultations, rooms.
pub mod scheduling;
/// Listening, middleware stack and graceful shutdown.
pub mod server;
/// Shared application state handed to every handler.
pub mod state;
/// Blob storage of encrypted files.
pub mod storage;
/// Logging: structured, JSON in production, rotated daily under `$DATA_DIR/logs`.
pub mod telemetry;
/// The consultation room page, `/room`, embedded in the binary.
pub mod web_room;
