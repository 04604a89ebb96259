//! Who may act, and who decides it: suspension and reactivation of any account by exactly the
//! right admin (HR for its employees, ADMIN_HUNTZEN for practitioners and HR admins, SUPER_ADMIN
//! for platform admins), a company's HR admins (added, listed and removed by ADMIN_HUNTZEN), and
//! platform admins (created and listed by SUPER_ADMIN). Every act needs the actor's step-up where
//! it changes someone's powers, and is audited with its actor and reason.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::infra::audit::{Action, Entry};
use crate::infra::auth::{Auth, PlatformAdmin, SuperAdmin};
use crate::infra::error::{ApiError, ApiResult, OrNotFound, Validator};
use crate::infra::extract::{ApiJson, ApiQuery, Path};
use crate::infra::fields::{email, required};
use crate::infra::identity::Role;
use crate::infra::jobs::enqueue_mail;
use crate::infra::mail::MailKind;
use crate::infra::pagination::{Page, PageQuery};
use crate::infra::sessions::{self, ClientMeta};
use crate::infra::state::AppState;
use crate::people::accounts::step_up::{self, StepUp};
use crate::people::accounts::users::{NewUser, create_user};

/// A suspension: why, and the actor's step-up.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Suspension {
    /// Why (kept in the audit trail), 1 to 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    /// The actor's current password, and a 2FA code when theirs is on.
    #[serde(flatten)]
    pub step_up: StepUp,
}

/// An account as its admin sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// User id.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Company (HR admins and employees).
    pub company_id: Option<Uuid>,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// False while suspended or deactivated.
    pub is_active: bool,
    /// When the current suspension began.
    pub suspended_at: Option<DateTime<Utc>>,
    /// Whether the invitation was accepted (a password was set from the mailed link).
    pub email_verified: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A new HR admin or platform admin, invited by mail.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewAdmin {
    /// Their address: the invitation goes there.
    #[serde(default)]
    pub email: String,
    /// First name.
    #[serde(default)]
    pub first_name: String,
    /// Last name.
    #[serde(default)]
    pub last_name: String,
}

/// A new platform admin, with the creating SUPER_ADMIN's step-up.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewPlatformAdmin {
    /// Their address: the invitation goes there.
    #[serde(default)]
    pub email: String,
    /// `ADMIN_HUNTZEN` or `SUPER_ADMIN`.
    #[schema(schema_with = platform_role)]
    pub role: Role,
    /// First name.
    #[serde(default)]
    pub first_name: String,
    /// Last name.
    #[serde(default)]
    pub last_name: String,
    /// The SUPER_ADMIN's current password, and a 2FA code when theirs is on.
    #[serde(flatten)]
    pub step_up: StepUp,
}

fn platform_role() -> utoipa::openapi::Object {
    crate::infra::schemas::string_enum(&["ADMIN_HUNTZEN", "SUPER_ADMIN"])
}

/// Whether `actor` may suspend or reactivate an account of `target` (in `target_company`).
fn may_manage(
    actor: Role,
    actor_company: Option<Uuid>,
    target: Role,
    target_company: Option<Uuid>,
) -> bool {
    match actor {
        Role::AdminRh => {
            target == Role::Employee && actor_company.is_some() && target_company == actor_company
        }
        Role::AdminHuntzen => matches!(target, Role::Practitioner | Role::AdminRh),
        Role::SuperAdmin => matches!(target, Role::AdminHuntzen | Role::SuperAdmin),
        Role::Practitioner | Role::Employee => false,
    }
}

#[derive(Debug)]
struct Target {
    role: Role,
    company_id: Option<Uuid>,
    is_active: bool,
}

/// The account `id`, locked, if the actor may manage it; 404 otherwise (its existence is not
/// revealed to anyone who may not act on it).
async fn managed_target(
    conn: &mut PgConnection,
    actor: Role,
    actor_company: Option<Uuid>,
    id: Uuid,
) -> ApiResult<Target> {
    let row = sqlx::query!(
        r#"SELECT role AS "role: Role", company_id, is_active FROM users
           WHERE id = $1 AND erased_at IS NULL
           FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .filter(|r| may_manage(actor, actor_company, r.role, r.company_id))
    .or_not_found("user.not_found")?;
    Ok(Target {
        role: row.role,
        company_id: row.company_id,
        is_active: row.is_active,
    })
}

/// 409 when suspending `id` would leave no active SUPER_ADMIN (serialised by a lock, so two
/// SUPER_ADMINs cannot suspend each other at once).
async fn keep_a_super_admin(conn: &mut PgConnection, id: Uuid) -> ApiResult<()> {
    sqlx::query!(r#"SELECT pg_advisory_xact_lock(hashtext('huntzen:super_admins'))"#)
        .execute(&mut *conn)
        .await?;
    let others = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM users
           WHERE role = 'SUPER_ADMIN' AND is_active AND erased_at IS NULL AND id <> $1"#,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    if others == 0 {
        return Err(ApiError::conflict(
            "user.last_super_admin",
            "This is the last active SUPER_ADMIN; create or reactivate another first.",
        ));
    }
    Ok(())
}

/// Suspends `id` in `conn`'s transaction: inactive, every login ended (returned, to disconnect
/// their sockets), a practitioner unlisted. Audited with the actor and reason.
async fn suspend_in(
    conn: &mut PgConnection,
    actor: &crate::infra::identity::Principal,
    client: &ClientMeta,
    id: Uuid,
    target: &Target,
    reason: &str,
) -> ApiResult<Vec<Uuid>> {
    if !target.is_active {
        return Err(ApiError::conflict(
            "user.already_suspended",
            "This account is already suspended.",
        ));
    }
    if target.role == Role::SuperAdmin {
        keep_a_super_admin(conn, id).await?;
    }
    sqlx::query!(
        r#"UPDATE users SET is_active = false, suspended_at = now() WHERE id = $1"#,
        id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        r#"UPDATE practitioners SET is_active = false WHERE user_id = $1"#,
        id
    )
    .execute(&mut *conn)
    .await?;
    let ended = sessions::revoke_all(conn, id, "account suspended").await?;
    Entry::new(Action::Security, "user")
        .by_principal(actor)
        .target(id)
        .from_client(client)
        .details(serde_json::json!({ "event": "account_suspended", "reason": reason, "role": target.role, "companyId": target.company_id }))
        .record(conn)
        .await?;
    Ok(ended)
}

async fn find_account(conn: &mut PgConnection, id: Uuid) -> ApiResult<Account> {
    sqlx::query_as!(
        Account,
        r#"SELECT u.id, u.email, u.role AS "role: Role", u.company_id,
             coalesce(e.first_name, p.first_name, u.first_name) AS first_name,
             coalesce(e.last_name, p.last_name, u.last_name) AS last_name,
             u.is_active, u.suspended_at, u.email_verified, u.created_at
           FROM users u
             LEFT
           JOIN employees e ON e.user_id = u.id
             LEFT
           JOIN practitioners p ON p.user_id = u.id
           WHERE u.id = $1"#,
        id
    )
    .fetch_one(conn)
    .await
    .map_err(ApiError::from)
}

/// Suspend an account at once (next request and open sockets refused; nothing erased). ADMIN_RH:
/// its company's employees; ADMIN_HUNTZEN: practitioners and HR admins; SUPER_ADMIN: platform
/// admins (never the last active SUPER_ADMIN). Anyone else, or any other account: 404. Step-up.
#[utoipa::path(post, path = "/accounts/{userId}/suspend", tag = "accounts", security(("bearer" = [])),
    params(("userId" = Uuid, Path, description = "User id")), request_body = Suspension,
    responses((status = 200, body = Account), (status = 401, body = crate::infra::error::Problem),
              (status = 404, body = crate::infra::error::Problem), (status = 409, body = crate::infra::error::Problem),
              (status = 422, body = crate::infra::error::Problem)))]
pub async fn suspend_account(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth,
    Path(user_id): Path<Uuid>,
    body: Option<ApiJson<Suspension>>,
) -> ApiResult<Json<Account>> {
    let actor = auth.principal.clone();
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    // The target is checked first: someone who may not act on it learns nothing, not even
    // whether their password was right.
    let target = managed_target(&mut tx, actor.role, actor.company_id, user_id).await?;
    step_up::confirm(&state, &mut auth, body.as_ref().map(|b| &b.0.step_up)).await?;
    let mut v = Validator::new();
    let reason = required(
        &mut v,
        "reason",
        body.as_ref()
            .and_then(|b| b.0.reason.as_deref())
            .unwrap_or(""),
        500,
    );
    v.finish()?;
    if user_id == actor.user_id {
        return Err(ApiError::conflict(
            "user.self_suspension",
            "You cannot suspend your own account.",
        ));
    }
    let ended = suspend_in(&mut tx, &actor, &client, user_id, &target, &reason).await?;
    let account = find_account(&mut tx, user_id).await?;
    tx.commit().await?;
    auth.commit().await?;
    state.realtime.end_sessions(&ended).await;
    Ok(Json(account))
}

/// Reactivate a suspended (or deactivated) account: the same admins as `suspend`. The person
/// signs in again. Step-up.
#[utoipa::path(post, path = "/accounts/{userId}/reactivate", tag = "accounts", security(("bearer" = [])),
    params(("userId" = Uuid, Path, description = "User id")), request_body = StepUp,
    responses((status = 200, body = Account), (status = 401, body = crate::infra::error::Problem),
              (status = 404, body = crate::infra::error::Problem), (status = 409, body = crate::infra::error::Problem)))]
pub async fn reactivate_account(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth,
    Path(user_id): Path<Uuid>,
    body: Option<ApiJson<StepUp>>,
) -> ApiResult<Json<Account>> {
    let actor = auth.principal.clone();
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    let target = managed_target(&mut tx, actor.role, actor.company_id, user_id).await?;
    step_up::confirm(&state, &mut auth, body.as_ref().map(|b| &b.0)).await?;
    if target.is_active {
        return Err(ApiError::conflict(
            "user.not_suspended",
            "This account is not suspended.",
        ));
    }
    sqlx::query!(
        r#"UPDATE users SET is_active = true, suspended_at = NULL,
             awaiting_approval = CASE WHEN role = 'EMPLOYEE' THEN false ELSE awaiting_approval END
           WHERE id = $1"#,
        user_id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"UPDATE practitioners SET is_active = true WHERE user_id = $1"#,
        user_id
    )
    .execute(&mut *tx)
    .await?;
    Entry::new(Action::Security, "user")
        .by_principal(&actor)
        .target(user_id)
        .from_client(&client)
        .details(serde_json::json!({ "event": "account_reactivated", "role": target.role, "companyId": target.company_id }))
        .record(&mut tx)
        .await?;
    let account = find_account(&mut tx, user_id).await?;
    tx.commit().await?;
    auth.commit().await?;
    Ok(Json(account))
}

async fn list_accounts(
    conn: &mut PgConnection,
    roles: &[Role],
    company_id: Option<Uuid>,
    page: PageQuery,
) -> ApiResult<Page<Account>> {
    let paging = page.paging()?;
    let roles: Vec<String> = roles.iter().map(|r| r.as_str().to_owned()).collect();
    let rows = sqlx::query!(
        r#"SELECT u.id, u.email, u.role AS "role: Role", u.company_id, u.first_name, u.last_name,
             u.is_active, u.suspended_at, u.email_verified, u.created_at,
             count(*) OVER () AS "total!"
           FROM users u
           WHERE u.role::text = ANY($1) AND u.erased_at IS NULL
             AND ($2::uuid IS NULL OR u.company_id = $2)
           ORDER BY u.created_at, u.id
           LIMIT $3 OFFSET $4"#,
        &roles,
        company_id,
        paging.limit(),
        paging.offset()
    )
    .fetch_all(conn)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let items = rows
        .into_iter()
        .map(|r| Account {
            id: r.id,
            email: r.email,
            role: r.role,
            company_id: r.company_id,
            first_name: r.first_name,
            last_name: r.last_name,
            is_active: r.is_active,
            suspended_at: r.suspended_at,
            email_verified: r.email_verified,
            created_at: r.created_at,
        })
        .collect();
    Ok(Page::new(items, total, paging))
}

async fn live_company(conn: &mut PgConnection, id: Uuid) -> ApiResult<()> {
    sqlx::query_scalar!(
        r#"SELECT id FROM companies WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .map(|_| ())
    .or_not_found("company.not_found")
}

/// A company's HR admins (ADMIN_HUNTZEN).
#[utoipa::path(get, path = "/companies/{id}/hr-admins", tag = "companies", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Company id"), PageQuery),
    responses((status = 200, body = Page<Account>), (status = 404, body = crate::infra::error::Problem)))]
pub async fn list_hr_admins(
    State(state): State<AppState>,
    auth: Auth<PlatformAdmin>,
    Path(id): Path<Uuid>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Account>>> {
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    live_company(&mut tx, id).await?;
    let listed = list_accounts(&mut tx, &[Role::AdminRh], Some(id), page).await?;
    tx.commit().await?;
    auth.commit().await?;
    Ok(Json(listed))
}

/// Add an HR admin to a company (ADMIN_HUNTZEN): the account is created and invited by mail.
#[utoipa::path(post, path = "/companies/{id}/hr-admins", tag = "companies", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Company id")), request_body = NewAdmin,
    responses((status = 201, body = Account), (status = 404, body = crate::infra::error::Problem),
              (status = 409, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn add_hr_admin(
    State(state): State<AppState>,
    client: ClientMeta,
    auth: Auth<PlatformAdmin>,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<NewAdmin>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    let mut v = Validator::new();
    let address = email(&mut v, "email", &body.email);
    let first = required(&mut v, "firstName", &body.first_name, 100);
    let last = required(&mut v, "lastName", &body.last_name, 100);
    v.finish()?;
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    live_company(&mut tx, id).await?;
    let user_id = create_user(
        &mut tx,
        &NewUser {
            company_id: Some(id),
            first_name: Some(&first),
            last_name: Some(&last),
            ..NewUser::new(&address, Role::AdminRh)
        },
    )
    .await?;
    enqueue_mail(&mut tx, MailKind::Invitation, user_id).await?;
    Entry::new(Action::Create, "user")
        .by_principal(&auth.principal)
        .target(user_id)
        .from_client(&client)
        .details(serde_json::json!({ "event": "hr_admin_added", "companyId": id }))
        .record(&mut tx)
        .await?;
    let account = find_account(&mut tx, user_id).await?;
    tx.commit().await?;
    auth.commit().await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Remove an HR admin from a company (ADMIN_HUNTZEN): the account is suspended (reversible with
/// `reactivate`); a company keeps at least one active HR admin (409 `company.last_hr_admin`).
/// Step-up in the body; `reason` is optional here.
#[utoipa::path(delete, path = "/companies/{id}/hr-admins/{userId}", tag = "companies", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Company id"), ("userId" = Uuid, Path, description = "The HR admin's user id")),
    request_body = Suspension,
    responses((status = 204), (status = 401, body = crate::infra::error::Problem),
              (status = 404, body = crate::infra::error::Problem), (status = 409, body = crate::infra::error::Problem)))]
pub async fn remove_hr_admin(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<PlatformAdmin>,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
    body: Option<ApiJson<Suspension>>,
) -> ApiResult<StatusCode> {
    let actor = auth.principal.clone();
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    live_company(&mut tx, id).await?;
    let target = managed_target(&mut tx, actor.role, actor.company_id, user_id).await?;
    if target.role != Role::AdminRh || target.company_id != Some(id) {
        return Err(ApiError::not_found("user.not_found"));
    }
    step_up::confirm(&state, &mut auth, body.as_ref().map(|b| &b.0.step_up)).await?;
    // The company row is locked above, so two removals cannot both pass this count.
    let others = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM users
           WHERE company_id = $1 AND role = 'ADMIN_RH' AND is_active AND erased_at IS NULL AND id <> $2"#,
        id,
        user_id
    )
    .fetch_one(&mut *tx)
    .await?;
    if others == 0 {
        return Err(ApiError::conflict(
            "company.last_hr_admin",
            "A company keeps at least one active HR admin; add the replacement first.",
        ));
    }
    let reason = body
        .as_ref()
        .and_then(|b| b.0.reason.as_deref())
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| r.chars().take(500).collect::<String>())
        .unwrap_or_else(|| "removed from the company's HR admins".to_owned());
    let ended = suspend_in(&mut tx, &actor, &client, user_id, &target, &reason).await?;
    tx.commit().await?;
    auth.commit().await?;
    state.realtime.end_sessions(&ended).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Platform admins (ADMIN_HUNTZEN and SUPER_ADMIN accounts), for a SUPER_ADMIN.
#[utoipa::path(get, path = "/super-admin/admins", tag = "super-admin", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<Account>), (status = 403, body = crate::infra::error::Problem)))]
pub async fn list_platform_admins(
    State(state): State<AppState>,
    auth: Auth<SuperAdmin>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Account>>> {
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    let listed =
        list_accounts(&mut tx, &[Role::AdminHuntzen, Role::SuperAdmin], None, page).await?;
    tx.commit().await?;
    auth.commit().await?;
    Ok(Json(listed))
}

/// Create a platform admin (SUPER_ADMIN, with step-up): invited by mail to set their password.
#[utoipa::path(post, path = "/super-admin/admins", tag = "super-admin", security(("bearer" = [])),
    request_body = NewPlatformAdmin,
    responses((status = 201, body = Account), (status = 401, body = crate::infra::error::Problem),
              (status = 409, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn create_platform_admin(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<SuperAdmin>,
    body: Option<ApiJson<NewPlatformAdmin>>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    step_up::confirm(&state, &mut auth, body.as_ref().map(|b| &b.0.step_up)).await?;
    let Some(ApiJson(body)) = body else {
        return Err(ApiError::invalid_field("email", "is required"));
    };
    let mut v = Validator::new();
    let address = email(&mut v, "email", &body.email);
    let first = required(&mut v, "firstName", &body.first_name, 100);
    let last = required(&mut v, "lastName", &body.last_name, 100);
    v.check(
        matches!(body.role, Role::AdminHuntzen | Role::SuperAdmin),
        "role",
        "must be ADMIN_HUNTZEN or SUPER_ADMIN",
    );
    v.finish()?;
    let mut tx = crate::infra::db::context::begin(&state.db.system).await?;
    let user_id = create_user(
        &mut tx,
        &NewUser {
            first_name: Some(&first),
            last_name: Some(&last),
            ..NewUser::new(&address, body.role)
        },
    )
    .await?;
    enqueue_mail(&mut tx, MailKind::Invitation, user_id).await?;
    Entry::new(Action::Create, "user")
        .by_principal(&auth.principal)
        .target(user_id)
        .from_client(&client)
        .details(serde_json::json!({ "event": "platform_admin_created", "role": body.role }))
        .record(&mut tx)
        .await?;
    let account = find_account(&mut tx, user_id).await?;
    tx.commit().await?;
    auth.commit().await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(suspend_account))
        .routes(routes!(reactivate_account))
        .routes(routes!(list_hr_admins, add_hr_admin))
        .routes(routes!(remove_hr_admin))
        .routes(routes!(list_platform_admins, create_platform_admin))
}
