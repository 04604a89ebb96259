//! Where a user row is born: every account (self-registration, HR's invitations and imports'
//! single rows, a company's first HR admin, the command line, demo data) is created here, and an
//! address already in use is the same `user.email_taken` everywhere.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::infra::error::{ApiError, ApiResult};
use crate::infra::identity::Role;

/// A new account. `None` fields keep the column's default.
#[derive(Debug, Clone, Copy)]
pub struct NewUser<'a> {
    /// Email, already normalised (trimmed, lowercase).
    pub email: &'a str,
    /// Role.
    pub role: Role,
    /// Company (HR admins and employees).
    pub company_id: Option<Uuid>,
    /// argon2id hash; `None` for an invited account that sets its password from the mail.
    pub password_hash: Option<&'a str>,
    /// First name (kept on the user for roles without a profile).
    pub first_name: Option<&'a str>,
    /// Last name.
    pub last_name: Option<&'a str>,
    /// Whether the address is already proven (accounts made by operators).
    pub email_verified: bool,
    /// Whether HR must approve the account first.
    pub awaiting_approval: bool,
    /// `fr` or `en`; `None`: the default (`fr`).
    pub locale: Option<&'a str>,
    /// Made by `POST /api/auth/register` (replaced by a later creation while unverified).
    pub self_registered: bool,
}

impl<'a> NewUser<'a> {
    /// An account with every optional field at its default.
    pub fn new(email: &'a str, role: Role) -> Self {
        Self {
            email,
            role,
            company_id: None,
            password_hash: None,
            first_name: None,
            last_name: None,
            email_verified: false,
            awaiting_approval: false,
            locale: None,
            self_registered: false,
        }
    }
}

/// Creates the user in the caller's transaction; 409 `user.email_taken` when an account already
/// uses the address (`ON CONFLICT DO NOTHING`, so the transaction stays usable). An unverified
/// self-registration of the address is replaced (it never granted anything).
pub async fn create_user(conn: &mut PgConnection, new: &NewUser<'_>) -> ApiResult<Uuid> {
    sqlx::query_scalar!(
        r#"SELECT release_unverified_registration($1) AS "released!""#,
        new.email
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query_scalar!(
        r#"INSERT INTO users (email, password_hash, role, company_id, first_name, last_name, email_verified,
                              awaiting_approval, locale, password_changed_at, self_registered)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, 'fr'), CASE WHEN $2::text IS NOT NULL THEN now() END, $10)
           ON CONFLICT DO NOTHING
           RETURNING id"#,
        new.email,
        new.password_hash,
        new.role,
        new.company_id,
        new.first_name,
        new.last_name,
        new.email_verified,
        new.awaiting_approval,
        new.locale,
        new.self_registered
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::conflict("user.email_taken", "An account already uses this email."))
}
