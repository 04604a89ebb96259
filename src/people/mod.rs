//! People: who may sign in and how, the companies they belong to, their own account.

/// Suspension and reactivation, a company's HR admins, platform admins.
pub mod access;
/// Sign-in flows: login, registration, refresh, recovery, two-factor, throttling.
pub mod accounts;
/// Companies (tenants): creation, validation, profile.
pub mod companies;
/// Employees: HR management, CSV import, own profile.
pub mod employees;
/// The caller's own account: `GET /api/me`.
pub mod me;
