//! Governance: what platform staff and HR see of the whole (aggregates, never clinical content),
//! GDPR rights, backups and retention.

/// Platform operations for SUPER_ADMIN: audit trail, health, metrics summary.
pub mod admin;
/// Encrypted database backups.
pub mod backup;
/// GDPR: consents, the personal data export, erasure.
pub mod gdpr;
/// Reports: counters and aggregates, never clinical content.
pub mod reports;
/// Retention: purging old chat content and audit rows.
pub mod retention;
