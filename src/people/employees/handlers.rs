//! Employee routes for HR admins (their company only, by RLS) and for employees themselves.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use super::model::{Employee, EmployeeStatus};
use crate::infra::audit::Action;
use crate::infra::auth::Auth;
use crate::infra::auth::{Employee as EmployeeRole, HrAdmin};
use crate::infra::error::{ApiError, ApiResult, OrNotFound, Validator};
use crate::infra::extract::{ApiJson, ApiQuery, Path, apply, patch};
use crate::infra::fields::{email, locale, optional, required};
use crate::infra::identity::Role;
use crate::infra::jobs::enqueue_mail;
use crate::infra::mail::MailKind;
use crate::infra::pagination::{Page, PageQuery, contains_pattern};
use crate::infra::sessions::{self, ClientMeta};
use crate::infra::state::AppState;
use crate::people::accounts::users::{NewUser, create_user};

/// A new employee, invited by mail.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEmployee {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub department: Option<String>,
    pub position: Option<String>,
    pub phone_number: Option<String>,
}

/// HR's changes to an employee: absent fields stay, `null` clears.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateEmployee {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "patch")]
    pub department: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub position: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub phone_number: Option<Option<String>>,
}

/// An employee's changes to their own profile. Account fields (email, role, company, status) are
/// not part of it: sending them is a 422.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateOwnProfile {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(default, deserialize_with = "patch")]
    pub department: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub position: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub phone_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub bio: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub avatar_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub cover_url: Option<Option<String>>,
    /// `fr` or `en`.
    #[schema(pattern = "^(fr|en)$")]
    pub locale: Option<String>,
}

/// List filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct EmployeeFilter {
    /// Text in the name or email.
    pub q: Option<String>,
    /// Exact department.
    pub department: Option<String>,
    /// ACTIVE, INACTIVE, PENDING or REMOVED (default: all but REMOVED).
    pub status: Option<EmployeeStatus>,
}

async fn find<R: crate::infra::auth::RoleSet>(auth: &mut Auth<R>, id: Uuid) -> ApiResult<Employee> {
    sqlx::query_as!(
        Employee,
        r#"SELECT e.id, e.user_id, e.company_id, u.email, e.first_name, e.last_name, e.department,
             e.position, e.phone_number, e.bio, e.avatar_url, e.cover_url,
             CASE WHEN e.removed_at IS NOT NULL THEN 'REMOVED' WHEN u.awaiting_approval THEN 'PENDING' WHEN u.is_active THEN 'ACTIVE' ELSE 'INACTIVE' END AS "status!: EmployeeStatus",
             u.is_active, u.email_verified, u.locale, e.created_at, e.updated_at
           FROM employees e
           JOIN users u ON u.id = e.user_id
           WHERE e.id = $1"#,
        id
    )
        .fetch_optional(&mut *auth.tx)
        .await?
        .or_not_found("employee.not_found")
}

fn company_of(auth: &Auth<HrAdmin>) -> ApiResult<Uuid> {
    auth.principal.company_id.or_not_found("company.not_found")
}

/// Create an employee and mail them an invitation to set their password.
#[utoipa::path(post, path = "/employees", tag = "employees", security(("bearer" = [])), request_body = CreateEmployee,
    responses((status = 201, body = Employee), (status = 409, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn create_employee(
    client: ClientMeta,
    mut auth: Auth<HrAdmin>,
    ApiJson(body): ApiJson<CreateEmployee>,
) -> ApiResult<(StatusCode, Json<Employee>)> {
    let company_id = company_of(&auth)?;
    let mut v = Validator::new();
    let email = email(&mut v, "email", &body.email);
    let first_name = required(&mut v, "firstName", &body.first_name, 100);
    let last_name = required(&mut v, "lastName", &body.last_name, 100);
    let department = optional(&mut v, "department", body.department.as_deref(), 100);
    let position = optional(&mut v, "position", body.position.as_deref(), 100);
    let phone = optional(&mut v, "phoneNumber", body.phone_number.as_deref(), 40);
    let domains = super::model::company_domains(&mut auth.tx, company_id).await?;
    if !email.is_empty() && !super::model::in_domains(&email, &domains) {
        v.check(false, "email", super::model::outside_domains(&domains));
    }
    v.finish()?;
    let user_id = create_user(
        &mut auth.tx,
        &NewUser {
            company_id: Some(company_id),
            ..NewUser::new(&email, Role::Employee)
        },
    )
    .await?;
    let id: Uuid = sqlx::query_scalar!(
        r#"INSERT INTO employees (user_id, company_id, first_name, last_name, department, position, phone_number)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           RETURNING id"#,
        user_id,
        company_id,
        &first_name,
        &last_name,
        department,
        position,
        phone
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    enqueue_mail(&mut auth.tx, MailKind::Invitation, user_id).await?;
    auth.audit(&client, Action::Create, "employee", Some(id), None)
        .await?;
    let employee = find(&mut auth, id).await?;
    auth.commit().await?;
    Ok((StatusCode::CREATED, Json(employee)))
}

/// The company's employees, with search, department and status filters.
#[utoipa::path(get, path = "/employees", tag = "employees", security(("bearer" = [])), params(EmployeeFilter, PageQuery),
    responses((status = 200, body = Page<Employee>)))]
pub async fn list_employees(
    mut auth: Auth<HrAdmin>,
    ApiQuery(filter): ApiQuery<EmployeeFilter>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Employee>>> {
    let paging = page.paging()?;
    let q = contains_pattern(filter.q.as_deref());
    let status = filter.status.map(|s| match s {
        EmployeeStatus::Active => "ACTIVE",
        EmployeeStatus::Inactive => "INACTIVE",
        EmployeeStatus::Pending => "PENDING",
        EmployeeStatus::Removed => "REMOVED",
    });
    let all: Vec<Employee> = sqlx::query_as!(
        Employee,
        r#"SELECT id AS "id!", user_id AS "user_id!", company_id AS "company_id!",
             email AS "email!", first_name AS "first_name!", last_name AS "last_name!", department,
             position, phone_number, bio, avatar_url, cover_url,
             status AS "status!: EmployeeStatus", is_active AS "is_active!",
             email_verified AS "email_verified!", locale AS "locale!", created_at AS "created_at!",
             updated_at AS "updated_at!"
           FROM (SELECT e.id, e.user_id, e.company_id, u.email, e.first_name, e.last_name, e.department, e.position, e.phone_number, e.bio, e.avatar_url, e.cover_url, CASE WHEN e.removed_at IS NOT NULL THEN 'REMOVED' WHEN u.awaiting_approval THEN 'PENDING' WHEN u.is_active THEN 'ACTIVE' ELSE 'INACTIVE' END AS status, u.is_active, u.email_verified, u.locale, e.created_at, e.updated_at FROM employees e JOIN users u ON u.id = e.user_id) AS listed
           WHERE ($1::text IS NULL OR lower(first_name || ' ' || last_name) LIKE $1 OR lower(email) LIKE $1)
             AND ($2::text IS NULL OR department = $2)
             AND (CASE WHEN $3::text IS NULL THEN status <> 'REMOVED' ELSE status = $3 END)
           ORDER BY lower(last_name), lower(first_name), id
           LIMIT $4 OFFSET $5"#,
        q.as_deref(),
        filter.department.as_deref(),
        status,
        paging.limit(),
        paging.offset()
    )
    .fetch_all(&mut *auth.tx)
    .await?;
    let total: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!"
           FROM (SELECT e.id, e.user_id, e.company_id, u.email, e.first_name, e.last_name, e.department, e.position, e.phone_number, e.bio, e.avatar_url, e.cover_url, CASE WHEN e.removed_at IS NOT NULL THEN 'REMOVED' WHEN u.awaiting_approval THEN 'PENDING' WHEN u.is_active THEN 'ACTIVE' ELSE 'INACTIVE' END AS status, u.is_active, u.email_verified, u.locale, e.created_at, e.updated_at FROM employees e JOIN users u ON u.id = e.user_id) AS listed
           WHERE ($1::text IS NULL OR lower(first_name || ' ' || last_name) LIKE $1 OR lower(email) LIKE $1)
             AND ($2::text IS NULL OR department = $2)
             AND (CASE WHEN $3::text IS NULL THEN status <> 'REMOVED' ELSE status = $3 END)"#,
        q.as_deref(),
        filter.department.as_deref(),
        status
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    Ok(Json(Page::new(all, total, paging)))
}

/// One employee of the HR admin's company.
#[utoipa::path(get, path = "/employees/{id}", tag = "employees", security(("bearer" = [])),
    responses((status = 200, body = Employee), (status = 404, body = crate::infra::error::Problem)))]
pub async fn get_employee(
    mut auth: Auth<HrAdmin>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Employee>> {
    let employee = find(&mut auth, id).await?;
    auth.commit().await?;
    Ok(Json(employee))
}

/// Update an employee's HR fields.
#[utoipa::path(put, path = "/employees/{id}", tag = "employees", security(("bearer" = [])), request_body = UpdateEmployee,
    responses((status = 200, body = Employee), (status = 404, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn update_employee(
    client: ClientMeta,
    mut auth: Auth<HrAdmin>,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<UpdateEmployee>,
) -> ApiResult<Json<Employee>> {
    let mut employee = find(&mut auth, id).await?;
    let mut v = Validator::new();
    if let Some(first) = &body.first_name {
        employee.first_name = required(&mut v, "firstName", first, 100);
    }
    if let Some(last) = &body.last_name {
        employee.last_name = required(&mut v, "lastName", last, 100);
    }
    apply(&mut employee.department, body.department);
    apply(&mut employee.position, body.position);
    apply(&mut employee.phone_number, body.phone_number);
    v.finish()?;
    save_profile(&mut auth, &employee).await?;
    auth.audit(&client, Action::Update, "employee", Some(id), None)
        .await?;
    let employee = find(&mut auth, id).await?;
    auth.commit().await?;
    Ok(Json(employee))
}

async fn save_profile<R: crate::infra::auth::RoleSet>(
    auth: &mut Auth<R>,
    e: &Employee,
) -> ApiResult<()> {
    let done = sqlx::query!(
        r#"UPDATE employees SET first_name = $2, last_name = $3, department = $4, position = $5,
             phone_number = $6, bio = $7, avatar_url = $8, cover_url = $9
           WHERE id = $1"#,
        e.id,
        &e.first_name,
        &e.last_name,
        e.department.as_deref(),
        e.position.as_deref(),
        e.phone_number.as_deref(),
        e.bio.as_deref(),
        e.avatar_url.as_deref(),
        e.cover_url.as_deref()
    )
    .execute(&mut *auth.tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("employee.not_found"));
    }
    Ok(())
}

async fn set_state(
    state: &AppState,
    client: &ClientMeta,
    mut auth: Auth<HrAdmin>,
    id: Uuid,
    change: StateChange,
) -> ApiResult<Employee> {
    let employee = find(&mut auth, id).await?;
    if employee.status == EmployeeStatus::Removed && change != StateChange::Remove {
        return Err(ApiError::conflict(
            "employee.removed",
            "This employee was removed from the company.",
        ));
    }
    let action = if change == StateChange::Remove {
        Action::Delete
    } else {
        Action::Update
    };
    // Activating also ends a wait for approval; deactivating and removing only deactivate.
    let activate = change == StateChange::Activate;
    sqlx::query!(
        "UPDATE users SET is_active = $2, awaiting_approval = CASE WHEN $2 THEN false ELSE awaiting_approval END WHERE id = $1",
        employee.user_id,
        activate
    )
    .execute(&mut *auth.tx)
    .await?;
    if change == StateChange::Remove {
        sqlx::query!(
            r#"UPDATE employees SET removed_at = coalesce(removed_at, now()) WHERE id = $1"#,
            id
        )
        .execute(&mut *auth.tx)
        .await?;
    }
    auth.audit(
        client,
        action,
        "employee",
        Some(id),
        Some(serde_json::json!({ "change": format!("{change:?}") })),
    )
    .await?;
    let updated = find(&mut auth, id).await?;
    auth.commit().await?;
    if change != StateChange::Activate {
        // Every request already checks the account; end its logins as well.
        let mut conn = state.db.system.acquire().await?;
        let ended = sessions::revoke_all(&mut conn, employee.user_id, "deactivated by HR").await?;
        state.realtime.end_sessions(&ended).await;
    }
    Ok(updated)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StateChange {
    Activate,
    Deactivate,
    Remove,
}

/// Activate (or approve) an employee's account.
#[utoipa::path(put, path = "/employees/{id}/activate", tag = "employees", security(("bearer" = [])),
    responses((status = 200, body = Employee), (status = 404, body = crate::infra::error::Problem), (status = 409, body = crate::infra::error::Problem)))]
pub async fn activate_employee(
    State(state): State<AppState>,
    client: ClientMeta,
    auth: Auth<HrAdmin>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Employee>> {
    set_state(&state, &client, auth, id, StateChange::Activate)
        .await
        .map(Json)
}

/// Deactivate an employee's account: blocked from their next request.
#[utoipa::path(put, path = "/employees/{id}/deactivate", tag = "employees", security(("bearer" = [])),
    responses((status = 200, body = Employee), (status = 404, body = crate::infra::error::Problem)))]
pub async fn deactivate_employee(
    State(state): State<AppState>,
    client: ClientMeta,
    auth: Auth<HrAdmin>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Employee>> {
    set_state(&state, &client, auth, id, StateChange::Deactivate)
        .await
        .map(Json)
}

/// Remove an employee from the company: the account is closed; anonymous counters stay.
#[utoipa::path(delete, path = "/employees/{id}", tag = "employees", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = crate::infra::error::Problem)))]
pub async fn delete_employee(
    State(state): State<AppState>,
    client: ClientMeta,
    auth: Auth<HrAdmin>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    set_state(&state, &client, auth, id, StateChange::Remove).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn own_id(auth: &mut Auth<EmployeeRole>) -> ApiResult<Uuid> {
    auth.principal
        .employee_id
        .or_not_found("employee.not_found")
}

/// The employee's own profile.
#[utoipa::path(get, path = "/employees/me", tag = "employees", security(("bearer" = [])),
    responses((status = 200, body = Employee)))]
pub async fn get_my_employee_profile(mut auth: Auth<EmployeeRole>) -> ApiResult<Json<Employee>> {
    let id = own_id(&mut auth).await?;
    let employee = find(&mut auth, id).await?;
    auth.commit().await?;
    Ok(Json(employee))
}

/// Update the employee's own profile fields.
#[utoipa::path(put, path = "/employees/me", tag = "employees", security(("bearer" = [])), request_body = UpdateOwnProfile,
    responses((status = 200, body = Employee), (status = 422, body = crate::infra::error::Problem)))]
pub async fn update_my_employee_profile(
    mut auth: Auth<EmployeeRole>,
    ApiJson(body): ApiJson<UpdateOwnProfile>,
) -> ApiResult<Json<Employee>> {
    let id = own_id(&mut auth).await?;
    let mut employee = find(&mut auth, id).await?;
    let mut v = Validator::new();
    if let Some(first) = &body.first_name {
        employee.first_name = required(&mut v, "firstName", first, 100);
    }
    if let Some(last) = &body.last_name {
        employee.last_name = required(&mut v, "lastName", last, 100);
    }
    apply(&mut employee.department, body.department);
    apply(&mut employee.position, body.position);
    apply(&mut employee.phone_number, body.phone_number);
    apply(&mut employee.bio, body.bio);
    crate::infra::fields::check_url_patch(&mut v, "avatarUrl", &body.avatar_url);
    crate::infra::fields::check_url_patch(&mut v, "coverUrl", &body.cover_url);
    apply(&mut employee.avatar_url, body.avatar_url);
    apply(&mut employee.cover_url, body.cover_url);
    v.check(
        employee
            .bio
            .as_deref()
            .is_none_or(|b| b.chars().count() <= 2000),
        "bio",
        "must have at most 2000 characters",
    );
    let new_locale = body.locale.as_deref().map(|l| locale(&mut v, Some(l)));
    v.finish()?;
    save_profile(&mut auth, &employee).await?;
    if let Some(new_locale) = new_locale {
        sqlx::query!(
            r#"UPDATE users SET locale = $2 WHERE id = $1"#,
            auth.principal.user_id,
            new_locale
        )
        .execute(&mut *auth.tx)
        .await?;
    }
    let employee = find(&mut auth, id).await?;
    auth.commit().await?;
    Ok(Json(employee))
}
