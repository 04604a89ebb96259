//! The employee as HR and the employee see it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where an employee's account stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EmployeeStatus {
    /// Can sign in.
    Active,
    /// Deactivated by HR.
    Inactive,
    /// Self-registered, waiting for HR approval.
    Pending,
    /// Removed from the company (kept for usage counters).
    Removed,
}

/// An employee.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Employee {
    pub id: Uuid,
    pub user_id: Uuid,
    pub company_id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub department: Option<String>,
    pub position: Option<String>,
    pub phone_number: Option<String>,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub cover_url: Option<String>,
    pub status: EmployeeStatus,
    pub is_active: bool,
    pub email_verified: bool,
    pub locale: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `SELECT` list for `Employee` over `employees e JOIN users u`.
pub const SELECT: &str = "SELECT e.id, e.user_id, e.company_id, u.email, e.first_name, e.last_name, e.department, \
    e.position, e.phone_number, e.bio, e.avatar_url, e.cover_url, \
    CASE WHEN e.removed_at IS NOT NULL THEN 'REMOVED' WHEN u.awaiting_approval THEN 'PENDING' \
         WHEN u.is_active THEN 'ACTIVE' ELSE 'INACTIVE' END AS status, \
    u.is_active, u.email_verified, u.locale, e.created_at, e.updated_at \
    FROM employees e JOIN users u ON u.id = e.user_id";

/// The email domains of a company (`companies.domains`), as the caller may read them.
pub async fn company_domains(
    conn: &mut sqlx::PgConnection,
    company_id: uuid::Uuid,
) -> Result<Vec<String>, sqlx::Error> {
    Ok(
        sqlx::query_scalar!(r#"SELECT domains FROM companies WHERE id = $1"#, company_id)
            .fetch_optional(conn)
            .await?
            .unwrap_or_default(),
    )
}

/// Whether `email` (normalised) is at one of `domains`.
pub fn in_domains(email: &str, domains: &[String]) -> bool {
    email
        .rsplit_once('@')
        .is_some_and(|(_, domain)| domains.iter().any(|d| d == domain))
}

/// The 422 message for an address outside the company's domains.
pub fn outside_domains(domains: &[String]) -> String {
    if domains.is_empty() {
        "your company lists no email domain yet; ask HuntZen Care to add yours".to_owned()
    } else {
        format!("must be an address at {}", domains.join(", "))
    }
}
