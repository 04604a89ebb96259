//! The five roles, as stored (`user_role`) and as sent (UPPER_SNAKE).

use uuid::Uuid;

use serde::{Deserialize, Serialize};

/// A user's role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "user_role", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Infrastructure operator: health, metrics, audit, backups.
    SuperAdmin,
    /// Platform governance: onboards companies, validates practitioners, publishes the blog.
    AdminHuntzen,
    /// A company's HR admin: its employees and usage counters.
    AdminRh,
    /// A validated care professional.
    Practitioner,
    /// A company's employee, the person receiving care.
    Employee,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::SuperAdmin,
        Role::AdminHuntzen,
        Role::AdminRh,
        Role::Practitioner,
        Role::Employee,
    ];

    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SuperAdmin => "SUPER_ADMIN",
            Role::AdminHuntzen => "ADMIN_HUNTZEN",
            Role::AdminRh => "ADMIN_RH",
            Role::Practitioner => "PRACTITIONER",
            Role::Employee => "EMPLOYEE",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`"))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is calling, as the database knows them now (not as the token claimed).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Principal {
    /// The user.
    pub user_id: Uuid,
    /// Their role.
    pub role: Role,
    /// Their company (HR admins and employees).
    pub company_id: Option<Uuid>,
    /// Their employee profile.
    pub employee_id: Option<Uuid>,
    /// Their practitioner profile.
    pub practitioner_id: Option<Uuid>,
}
