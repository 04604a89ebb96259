//! The company as stored and as sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Company size (`company_size`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "company_size", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CompanySize {
    /// 1–50.
    Small,
    /// 51–250.
    Medium,
    /// 251–1000.
    Large,
    /// Over 1000.
    Enterprise,
}

/// A company (tenant).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Company {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    /// The first of `domains` (the brief's single domain).
    pub domain: Option<String>,
    /// Every email domain of its employees: self-registration, HR creation and import.
    pub domains: Vec<String>,
    /// IANA zone of its reports' days and months (default `Europe/Paris`).
    pub time_zone: String,
    pub sector: Option<String>,
    pub size: Option<CompanySize>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: String,
    pub logo_url: Option<String>,
    pub cover_url: Option<String>,
    pub primary_color: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub website_url: Option<String>,
    /// Self-registered employees are active at once.
    pub auto_approve_employees: bool,
    pub allow_internal_news: bool,
    /// Yearly consultation allowance per employee (null: unlimited).
    pub sessions_per_employee_per_year: Option<i32>,
    /// An employee's cancellation or reschedule less than this many hours before the start uses
    /// one session of the allowance (default 24; 0 turns the rule off).
    pub late_cancellation_hours: i32,
    /// False until validated by the platform, and after deletion.
    pub is_active: bool,
    pub validated_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A URL-safe slug from a name (ASCII letters and digits, dashes).
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'à' | 'â' | 'ä' | 'á' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' | 'í' => 'i',
            'ô' | 'ö' | 'ó' => 'o',
            'ù' | 'û' | 'ü' | 'ú' => 'u',
            'ç' => 'c',
            other => other,
        };
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "company".to_owned()
    } else {
        slug
    }
}

/// Normalises a list of domains (`field` names it in errors), the brief's `domain` first.
pub fn normalise_domains(
    v: &mut crate::infra::error::Validator,
    first: Option<&str>,
    rest: Option<&[String]>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let given = first
        .filter(|d| !d.trim().is_empty())
        .map(|d| ("domain", d))
        .into_iter()
        .chain(rest.into_iter().flatten().map(|d| ("domains", d.as_str())));
    for (field, raw) in given {
        match normalise_domain(raw) {
            Some(d) if !out.contains(&d) => out.push(d),
            Some(_) => {}
            None => {
                v.check(false, field, "must be email domains such as acme.fr");
            }
        }
    }
    v.check(out.len() <= 20, "domains", "at most 20 domains");
    out
}

/// Normalises and checks an email domain (`acme.fr`, no `@`).
pub fn normalise_domain(domain: &str) -> Option<String> {
    let domain = domain.trim().trim_start_matches('@').to_lowercase();
    let valid = domain.contains('.')
        && domain.len() <= 253
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    valid.then_some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_domains() {
        assert_eq!(slugify("Société Générale & Co"), "societe-generale-co");
        assert_eq!(slugify("!!!"), "company");
        assert_eq!(normalise_domain("@Acme.FR").as_deref(), Some("acme.fr"));
        assert_eq!(normalise_domain("acme"), None);
        assert_eq!(normalise_domain("ac me.fr"), None);
    }
}
