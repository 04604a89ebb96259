//! HuntZen Care: a confidential teleconsultation backend (REST + Socket.IO) on PostgreSQL with
//! row-level security.
//!
//! Layers, each importing only from the ones below it (`docs/ARCHITECTURE.md`):
//! `app` → `governance`, `publishing` → `people` → `care` → `infra`.
#![forbid(unsafe_code)]

/// The composition root: route table, server, command line, socket wiring, job workers, demo data.
pub mod app;
/// Care: practitioners, scheduling, chat, calls, clinical notes, journal, files, notifications.
pub mod care;
/// Governance: reports, GDPR, platform administration, backups, retention.
pub mod governance;
/// Infrastructure: errors, extractors, configuration, database, crypto, identity, real-time hub.
pub mod infra;
/// People: accounts and sign-in flows, companies, employees, the caller's own account.
pub mod people;
/// Publishing: the blog and company news.
pub mod publishing;
