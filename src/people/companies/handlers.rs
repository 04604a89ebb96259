//! Company routes. Row visibility is the database's: an HR admin's transaction only sees their own
//! company, so another company's id answers 404.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{Company, CompanySize, normalise_domains, slugify};
use crate::infra::audit::Action;
use crate::infra::auth::Auth;
use crate::infra::auth::{CompanyReader, HrAdmin, PlatformAdmin, PlatformStaff, SuperAdmin};
use crate::infra::error::{ApiError, ApiResult, OrNotFound, Validator, looks_like_email};
use crate::infra::extract::{ApiJson, ApiQuery, Path};
use crate::infra::fields::{email, optional, required};
use crate::infra::identity::Role;
use crate::infra::jobs::enqueue_mail;
use crate::infra::mail::MailKind;
use crate::infra::pagination::{Page, PageQuery, contains_pattern};
use crate::infra::sessions::{self, ClientMeta};
use crate::infra::state::AppState;
use crate::people::accounts::users::{NewUser, create_user};

/// The company's first HR admin, invited by mail.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HrAdminInvite {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// A new company.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCompany {
    pub name: String,
    /// The first email domain (the brief's field); `domains` may list more.
    pub domain: Option<String>,
    /// Every email domain of its employees.
    pub domains: Option<Vec<String>>,
    /// IANA time zone of its reports (default `Europe/Paris`).
    pub time_zone: Option<String>,
    pub sector: Option<String>,
    pub size: Option<CompanySize>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub primary_color: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub website_url: Option<String>,
    pub auto_approve_employees: Option<bool>,
    pub allow_internal_news: Option<bool>,
    pub sessions_per_employee_per_year: Option<i32>,
    /// Invited by mail to set their password.
    pub hr_admin: HrAdminInvite,
}

/// The created company and its invited HR admin.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedCompany {
    #[serde(flatten)]
    pub company: Company,
    pub hr_admin: InvitedUser,
}

/// An invited account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitedUser {
    pub id: Uuid,
    pub email: String,
}

/// List filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CompanyFilter {
    /// Text in the name or domain.
    pub q: Option<String>,
    /// Only active (true) or inactive (false) companies.
    pub is_active: Option<bool>,
}

pub(super) fn is_color(value: &str) -> bool {
    value.len() == 7 && value.starts_with('#') && value[1..].chars().all(|c| c.is_ascii_hexdigit())
}

pub(super) fn check_common(
    v: &mut Validator,
    contact_email: Option<&str>,
    color: Option<&str>,
    allowance: Option<i32>,
) {
    v.check(
        contact_email.is_none_or(looks_like_email),
        "contactEmail",
        "must be a valid email address",
    );
    v.check(
        color.is_none_or(is_color),
        "primaryColor",
        "must be a colour like #4A90E2",
    );
    v.check(
        allowance.is_none_or(|a| (0..=1000).contains(&a)),
        "sessionsPerEmployeePerYear",
        "must be between 0 and 1000",
    );
}

pub(super) async fn find(
    auth: &mut Auth<impl crate::infra::auth::RoleSet>,
    id: Uuid,
) -> ApiResult<Company> {
    sqlx::query_as!(
        Company,
        r#"SELECT id, name, slug, domain, domains, time_zone, sector, size, address, city, country, logo_url, cover_url,
             primary_color, contact_email, contact_phone, website_url, auto_approve_employees,
             allow_internal_news, sessions_per_employee_per_year, late_cancellation_hours, is_active, validated_at,
             deleted_at, created_at, updated_at
           FROM companies
           WHERE id = $1"#,
        id
    )
    .fetch_optional(&mut *auth.tx)
    .await?
    .or_not_found("company.not_found")
}

/// Create a company (inactive until validated) and invite its HR admin.
#[utoipa::path(post, path = "/companies", tag = "companies", security(("bearer" = [])), request_body = CreateCompany,
    responses((status = 201, body = CreatedCompany), (status = 409, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn create_company(
    client: ClientMeta,
    mut auth: Auth<PlatformAdmin>,
    ApiJson(body): ApiJson<CreateCompany>,
) -> ApiResult<(StatusCode, Json<CreatedCompany>)> {
    let mut v = Validator::new();
    let name = required(&mut v, "name", &body.name, 200);
    let domains = normalise_domains(&mut v, body.domain.as_deref(), body.domains.as_deref());
    let hr_email = email(&mut v, "hrAdmin.email", &body.hr_admin.email);
    let hr_first = required(&mut v, "hrAdmin.firstName", &body.hr_admin.first_name, 100);
    let hr_last = required(&mut v, "hrAdmin.lastName", &body.hr_admin.last_name, 100);
    check_common(
        &mut v,
        body.contact_email.as_deref(),
        body.primary_color.as_deref(),
        body.sessions_per_employee_per_year,
    );
    let sector = optional(&mut v, "sector", body.sector.as_deref(), 100);
    let website =
        crate::infra::fields::url_field(&mut v, "websiteUrl", body.website_url.as_deref());
    v.check(
        body.time_zone
            .as_deref()
            .is_none_or(crate::care::practitioners::model::is_time_zone),
        "timeZone",
        "must be an IANA time zone such as Europe/Paris",
    );
    v.finish()?;

    if !domains.is_empty() {
        let taken: bool = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM companies WHERE domains && $1 AND deleted_at IS NULL) AS "value!""#,
            &domains
        )
        .fetch_one(&mut *auth.tx)
        .await?;
        if taken {
            return Err(ApiError::conflict(
                "company.domain_taken",
                "Another company already uses this email domain.",
            ));
        }
    }
    let base = slugify(&name);
    let clashes: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "value!" FROM companies WHERE slug = $1 OR slug LIKE $1 || '-%'"#,
        &base
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    let slug = if clashes == 0 {
        base
    } else {
        format!("{base}-{}", &Uuid::new_v4().simple().to_string()[..6])
    };
    let company = sqlx::query_as!(
        Company,
        r#"INSERT INTO companies (name, slug, domains, sector, size, address, city, country, primary_color, contact_email, contact_phone, website_url, auto_approve_employees, allow_internal_news, sessions_per_employee_per_year, time_zone)
           VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, 'France'), coalesce($9, '#4A90E2'), $10, $11, $12, coalesce($13, false), coalesce($14, true), $15, coalesce($16, 'Europe/Paris'))
           RETURNING id, name, slug, domain, domains, time_zone, sector, size, address, city, country, logo_url,
             cover_url, primary_color, contact_email, contact_phone, website_url,
             auto_approve_employees, allow_internal_news, sessions_per_employee_per_year, late_cancellation_hours,
             is_active, validated_at, deleted_at, created_at, updated_at"#,
        &name,
        &slug,
        &domains,
        sector,
        body.size,
        body.address.as_deref().map(str::trim),
        body.city.as_deref().map(str::trim),
        body.country.as_deref().map(str::trim),
        body.primary_color.as_deref(),
        body.contact_email.as_deref().map(|e| e.trim().to_lowercase()),
        body.contact_phone.as_deref().map(str::trim),
        website.as_deref(),
        body.auto_approve_employees,
        body.allow_internal_news,
        body.sessions_per_employee_per_year,
        body.time_zone.as_deref()
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    let hr_id = create_user(
        &mut auth.tx,
        &NewUser {
            company_id: Some(company.id),
            first_name: Some(&hr_first),
            last_name: Some(&hr_last),
            ..NewUser::new(&hr_email, Role::AdminRh)
        },
    )
    .await?;
    enqueue_mail(&mut auth.tx, MailKind::Invitation, hr_id).await?;
    auth.audit(
        &client,
        Action::Create,
        "company",
        Some(company.id),
        Some(serde_json::json!({ "hrAdminId": hr_id })),
    )
    .await?;
    auth.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedCompany {
            company,
            hr_admin: InvitedUser {
                id: hr_id,
                email: hr_email,
            },
        }),
    ))
}

/// List companies (platform).
#[utoipa::path(get, path = "/companies", tag = "companies", security(("bearer" = [])), params(CompanyFilter, PageQuery),
    responses((status = 200, body = Page<Company>)))]
pub async fn list_companies(
    mut auth: Auth<PlatformStaff>,
    ApiQuery(filter): ApiQuery<CompanyFilter>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Company>>> {
    let paging = page.paging()?;
    let q = contains_pattern(filter.q.as_deref());
    // The page and the total in one statement (a window count), so the record is mapped here.
    let rows: Vec<(Company, i64)> = sqlx::query!(
        r#"SELECT id, name, slug, domain, domains, time_zone, sector, size, address, city, country, logo_url, cover_url,
             primary_color, contact_email, contact_phone, website_url, auto_approve_employees,
             allow_internal_news, sessions_per_employee_per_year, late_cancellation_hours, is_active, validated_at,
             deleted_at, created_at, updated_at, count(*) OVER () AS "total!"
           FROM companies
           WHERE deleted_at IS NULL
             AND ($1::text IS NULL OR lower(name) LIKE $1 OR lower(coalesce(domain, '')) LIKE $1)
             AND ($2::bool IS NULL OR is_active = $2)
           ORDER BY name, id
           LIMIT $3 OFFSET $4"#,
        q.as_deref(),
        filter.is_active,
        paging.limit(),
        paging.offset()
    )
    .map(|r| {
        (
            Company {
                id: r.id,
                name: r.name,
                slug: r.slug,
                domain: r.domain,
                domains: r.domains,
                time_zone: r.time_zone,
                sector: r.sector,
                size: r.size,
                address: r.address,
                city: r.city,
                country: r.country,
                logo_url: r.logo_url,
                cover_url: r.cover_url,
                primary_color: r.primary_color,
                contact_email: r.contact_email,
                contact_phone: r.contact_phone,
                website_url: r.website_url,
                auto_approve_employees: r.auto_approve_employees,
                allow_internal_news: r.allow_internal_news,
                sessions_per_employee_per_year: r.sessions_per_employee_per_year,
                late_cancellation_hours: r.late_cancellation_hours,
                is_active: r.is_active,
                validated_at: r.validated_at,
                deleted_at: r.deleted_at,
                created_at: r.created_at,
                updated_at: r.updated_at,
            },
            r.total,
        )
    })
    .fetch_all(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    let total = rows.first().map_or(0, |r| r.1);
    Ok(Json(Page::new(
        rows.into_iter().map(|r| r.0).collect(),
        total,
        paging,
    )))
}

/// Every company (operators).
#[utoipa::path(get, path = "/super-admin/companies", tag = "super-admin", security(("bearer" = [])), params(CompanyFilter, PageQuery),
    responses((status = 200, body = Page<Company>)))]
pub async fn list_all_companies(
    auth: Auth<SuperAdmin>,
    query: ApiQuery<CompanyFilter>,
    page: ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Company>>> {
    let Auth {
        principal,
        session_id,
        tx,
        ..
    } = auth;
    list_companies(Auth::from_parts(principal, session_id, tx), query, page).await
}

/// A company: platform roles any, an HR admin their own (another's answers 404).
#[utoipa::path(get, path = "/companies/{id}", tag = "companies", security(("bearer" = [])),
    responses((status = 200, body = Company), (status = 404, body = crate::infra::error::Problem)))]
pub async fn get_company(
    mut auth: Auth<CompanyReader>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Company>> {
    let company = find(&mut auth, id).await?;
    auth.commit().await?;
    Ok(Json(company))
}

/// The HR admin's own company.
#[utoipa::path(get, path = "/companies/me", tag = "companies", security(("bearer" = [])),
    responses((status = 200, body = Company)))]
pub async fn get_my_company(mut auth: Auth<HrAdmin>) -> ApiResult<Json<Company>> {
    let id = auth
        .principal
        .company_id
        .or_not_found("company.not_found")?;
    let company = find(&mut auth, id).await?;
    auth.commit().await?;
    Ok(Json(company))
}

/// Validate (activate) a company: its users can sign in.
#[utoipa::path(put, path = "/companies/{id}/validate", tag = "companies", security(("bearer" = [])),
    responses((status = 200, body = Company), (status = 404, body = crate::infra::error::Problem)))]
pub async fn validate_company(
    client: ClientMeta,
    mut auth: Auth<PlatformAdmin>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Company>> {
    let company = sqlx::query_as!(
        Company,
        r#"UPDATE companies SET is_active = true, validated_at = coalesce(validated_at, now()),
             validated_by = coalesce(validated_by, $2)
           WHERE id = $1 AND deleted_at IS NULL
           RETURNING id, name, slug, domain, domains, time_zone, sector, size, address, city, country, logo_url,
             cover_url, primary_color, contact_email, contact_phone, website_url,
             auto_approve_employees, allow_internal_news, sessions_per_employee_per_year, late_cancellation_hours,
             is_active, validated_at, deleted_at, created_at, updated_at"#,
        id,
        auth.principal.user_id
    )
    .fetch_optional(&mut *auth.tx)
    .await?
    .or_not_found("company.not_found")?;
    auth.audit(&client, Action::Validate, "company", Some(id), None)
        .await?;
    auth.commit().await?;
    Ok(Json(company))
}

/// Delete a company (soft): every one of its users is blocked at once; its data stays for counters.
#[utoipa::path(delete, path = "/companies/{id}", tag = "companies", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = crate::infra::error::Problem)))]
pub async fn delete_company(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<PlatformAdmin>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let done = sqlx::query!(
        r#"UPDATE companies SET is_active = false, deleted_at = now()
           WHERE id = $1 AND deleted_at IS NULL"#,
        id
    )
    .execute(&mut *auth.tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("company.not_found"));
    }
    auth.audit(&client, Action::Delete, "company", Some(id), None)
        .await?;
    auth.commit().await?;
    end_logins(&state, id, "company deleted").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends the logins of a company's users once it is suspended or deleted. Their requests are
/// already refused (every request checks the company); their sessions end too.
pub(super) async fn end_logins(state: &AppState, company: Uuid, reason: &str) -> ApiResult<()> {
    let mut conn = state.db.system.acquire().await?;
    sessions::revoke_company(&mut conn, company, reason).await?;
    Ok(())
}
