//! Changing a company: platform admins any company (suspension and reactivation included), an HR
//! admin their own (never its activity or allowance).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use uuid::Uuid;

use super::handlers::{check_common, end_logins};
use super::model::{Company, CompanySize, normalise_domain};
use crate::infra::audit::Action;
use crate::infra::auth::{Auth, CompanyEditor, HrAdmin};
use crate::infra::error::{ApiError, ApiResult, OrNotFound, Validator};
use crate::infra::extract::{ApiJson, Path, apply, patch};
use crate::infra::fields::required;
use crate::infra::identity::Role;
use crate::infra::sessions::ClientMeta;
use crate::infra::state::AppState;

/// Changes to a company: absent fields stay, `null` clears.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCompany {
    pub name: Option<String>,
    /// Platform admins only: the first email domain.
    #[serde(default, deserialize_with = "patch")]
    pub domain: Option<Option<String>>,
    /// Platform admins only: every email domain (replaces the list; its first becomes `domain`).
    #[serde(default)]
    pub domains: Option<Vec<String>>,
    /// IANA time zone of its reports.
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default, deserialize_with = "patch")]
    pub sector: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub size: Option<Option<CompanySize>>,
    #[serde(default, deserialize_with = "patch")]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub city: Option<Option<String>>,
    pub country: Option<String>,
    #[serde(default, deserialize_with = "patch")]
    pub logo_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub cover_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub primary_color: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub contact_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub contact_phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub website_url: Option<Option<String>>,
    pub auto_approve_employees: Option<bool>,
    pub allow_internal_news: Option<bool>,
    /// Platform admins only.
    #[serde(default, deserialize_with = "patch")]
    pub sessions_per_employee_per_year: Option<Option<i32>>,
    /// Hours before the start inside which an employee's cancellation or reschedule uses one
    /// session of the allowance (0–336; HR admins and platform admins).
    pub late_cancellation_hours: Option<i32>,
    /// Platform admins only. `false` suspends the company: its users are refused from their next
    /// request and their logins end. `true` makes it usable again (validating it if it was not).
    pub is_active: Option<bool>,
}

async fn apply_update<R: crate::infra::auth::RoleSet>(
    auth: &mut Auth<R>,
    client: &ClientMeta,
    id: Uuid,
    body: UpdateCompany,
) -> ApiResult<Company> {
    let platform = auth.principal.role == Role::AdminHuntzen;
    let mut v = Validator::new();
    if !platform {
        v.check(
            body.domain.is_none() && body.domains.is_none(),
            "domain",
            "only platform administrators change the email domains",
        );
        v.check(
            body.sessions_per_employee_per_year.is_none(),
            "sessionsPerEmployeePerYear",
            "only platform administrators change the allowance",
        );
        v.check(
            body.is_active.is_none(),
            "isActive",
            "only platform administrators activate or suspend a company",
        );
    }
    let mut company = sqlx::query_as!(
        Company,
        r#"SELECT id, name, slug, domain, domains, time_zone, sector, size, address, city, country, logo_url, cover_url,
             primary_color, contact_email, contact_phone, website_url, auto_approve_employees,
             allow_internal_news, sessions_per_employee_per_year, late_cancellation_hours, is_active, validated_at,
             deleted_at, created_at, updated_at
           FROM companies
           WHERE id = $1 AND deleted_at IS NULL
           FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut *auth.tx)
    .await?
    .or_not_found("company.not_found")?;
    if let Some(name) = &body.name {
        company.name = required(&mut v, "name", name, 200);
    }
    if let Some(country) = &body.country {
        company.country = required(&mut v, "country", country, 100);
    }
    if let Some(Some(domain)) = &body.domain {
        let normalised = normalise_domain(domain);
        v.check(
            normalised.is_some(),
            "domain",
            "must be an email domain such as acme.fr",
        );
        company.domain = normalised;
    } else if let Some(None) = body.domain {
        company.domain = None;
    }
    if let Some(list) = &body.domains {
        company.domains = super::model::normalise_domains(&mut v, None, Some(list));
        company.domain = company.domains.first().cloned();
    }
    if let Some(zone) = &body.time_zone {
        v.check(
            crate::care::practitioners::model::is_time_zone(zone),
            "timeZone",
            "must be an IANA time zone such as Europe/Paris",
        );
        company.time_zone = zone.clone();
    }
    apply(&mut company.sector, body.sector);
    apply(&mut company.size, body.size);
    apply(&mut company.address, body.address);
    apply(&mut company.city, body.city);
    crate::infra::fields::check_url_patch(&mut v, "logoUrl", &body.logo_url);
    crate::infra::fields::check_url_patch(&mut v, "coverUrl", &body.cover_url);
    crate::infra::fields::check_url_patch(&mut v, "websiteUrl", &body.website_url);
    apply(&mut company.logo_url, body.logo_url);
    apply(&mut company.cover_url, body.cover_url);
    apply(&mut company.primary_color, body.primary_color);
    apply(&mut company.contact_email, body.contact_email);
    apply(&mut company.contact_phone, body.contact_phone);
    apply(&mut company.website_url, body.website_url);
    apply(
        &mut company.sessions_per_employee_per_year,
        body.sessions_per_employee_per_year,
    );
    company.auto_approve_employees = body
        .auto_approve_employees
        .unwrap_or(company.auto_approve_employees);
    company.allow_internal_news = body
        .allow_internal_news
        .unwrap_or(company.allow_internal_news);
    company.is_active = body.is_active.unwrap_or(company.is_active);
    if let Some(hours) = body.late_cancellation_hours {
        v.check(
            (0..=336).contains(&hours),
            "lateCancellationHours",
            "must be between 0 and 336 (14 days)",
        );
        company.late_cancellation_hours = hours;
    }
    check_common(
        &mut v,
        company.contact_email.as_deref(),
        company.primary_color.as_deref(),
        company.sessions_per_employee_per_year,
    );
    v.finish()?;
    let updated = sqlx::query_as!(
        Company,
        r#"UPDATE companies SET name = $2, domain = $3, sector = $4, size = $5, address = $6,
             city = $7, country = $8, logo_url = $9, cover_url = $10, primary_color = $11,
             contact_email = $12, contact_phone = $13, website_url = $14,
             auto_approve_employees = $15, allow_internal_news = $16,
             sessions_per_employee_per_year = $17, is_active = $18,
             validated_at = CASE WHEN $18 THEN coalesce(validated_at, now()) ELSE validated_at END,
             validated_by = CASE WHEN $18 AND validated_at IS NULL THEN $19 ELSE validated_by END,
             domains = $20, time_zone = $21, late_cancellation_hours = $22
           WHERE id = $1
           RETURNING id, name, slug, domain, domains, time_zone, sector, size, address, city, country, logo_url,
             cover_url, primary_color, contact_email, contact_phone, website_url,
             auto_approve_employees, allow_internal_news, sessions_per_employee_per_year, late_cancellation_hours,
             is_active, validated_at, deleted_at, created_at, updated_at"#,
        id,
        &company.name,
        company.domain.as_deref(),
        company.sector.as_deref(),
        company.size,
        company.address.as_deref(),
        company.city.as_deref(),
        &company.country,
        company.logo_url.as_deref(),
        company.cover_url.as_deref(),
        company.primary_color.as_deref(),
        company.contact_email.as_deref(),
        company.contact_phone.as_deref(),
        company.website_url.as_deref(),
        company.auto_approve_employees,
        company.allow_internal_news,
        company.sessions_per_employee_per_year,
        company.is_active,
        auth.principal.user_id,
        &company.domains,
        &company.time_zone,
        company.late_cancellation_hours
    )
    .fetch_one(&mut *auth.tx)
    .await
    .map_err(
        |e| match e.as_database_error().and_then(|d| d.code()).as_deref() {
            Some("23505") => ApiError::conflict(
                "company.domain_taken",
                "Another company already uses this email domain.",
            ),
            _ => ApiError::from(e),
        },
    )?;
    auth.audit(client, Action::Update, "company", Some(id), None)
        .await?;
    Ok(updated)
}

/// Update a company: platform admins any, an HR admin their own.
#[utoipa::path(put, path = "/companies/{id}", tag = "companies", security(("bearer" = [])), request_body = UpdateCompany,
    responses((status = 200, body = Company), (status = 404, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn update_company(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<CompanyEditor>,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<UpdateCompany>,
) -> ApiResult<Json<Company>> {
    let suspends = body.is_active == Some(false);
    let company = apply_update(&mut auth, &client, id, body).await?;
    auth.commit().await?;
    if suspends {
        end_logins(&state, id, "company suspended").await?;
    }
    Ok(Json(company))
}

/// Update the HR admin's own company.
#[utoipa::path(put, path = "/companies/me", tag = "companies", security(("bearer" = [])), request_body = UpdateCompany,
    responses((status = 200, body = Company), (status = 422, body = crate::infra::error::Problem)))]
pub async fn update_my_company(
    client: ClientMeta,
    mut auth: Auth<HrAdmin>,
    ApiJson(body): ApiJson<UpdateCompany>,
) -> ApiResult<Json<Company>> {
    let id = auth
        .principal
        .company_id
        .or_not_found("company.not_found")?;
    let company = apply_update(&mut auth, &client, id, body).await?;
    auth.commit().await?;
    Ok(Json(company))
}
