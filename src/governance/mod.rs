//! Governance: what platform staff and HR see of the whole (aggregates, never clinical content),
//! GDPR rights, backups and retention.

/// The employee's access list: who read their confidential items.
pub mod access_log;
/// Platform operations for SUPER_ADMIN: audit trail, health, metrics summary.
pub mod admin;
/// Encrypted database backups: dump, key snapshot, retention, reconciliation with the ledger.
pub mod backup;
/// GDPR: consents, the personal data export, erasure.
pub mod gdpr;
/// SUPER_ADMIN operations: the settings in effect and the structured logs.
pub mod operations;
/// Reports: counters and aggregates, never clinical content.
pub mod reports;
/// `huntzen restore`: a backup back to a serving state, erasures replayed.
pub mod restore;
/// Retention: purging old chat content and audit rows.
pub mod retention;
/// Support tickets: opened by anyone signed in, answered by platform admins, sealed at rest.
pub mod support;
