//! `GET /api/me`: the caller's account and, for employees and practitioners, their profile. Read
//! under the caller's own RLS context.

use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::infra::auth::Auth;
use crate::infra::error::ApiResult;
use crate::infra::identity::Role;
use crate::infra::state::AppState;

/// The caller's account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// User id.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Role.
    pub role: Role,
    /// Company (HR admins and employees).
    pub company_id: Option<Uuid>,
    /// Whether the account is active.
    pub is_active: bool,
    /// Whether the email was verified.
    pub email_verified: bool,
    /// Whether 2FA is on.
    pub two_factor_enabled: bool,
    /// `fr` or `en`.
    pub locale: String,
    /// Last sign-in.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// The employee or practitioner profile (camelCase fields), if any.
    #[schema(value_type = Option<Object>)]
    pub profile: Option<Value>,
    /// Employees and practitioners: completed consultations and their minutes.
    pub usage: Option<crate::care::scheduling::usage::Usage>,
    /// Employees only: the company allowance this year (`null` when the company sets no limit;
    /// absent for other roles).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::care::scheduling::usage::Allowance>)]
    pub allowance: Option<Option<crate::care::scheduling::usage::Allowance>>,
}

/// The caller's account and profile.
#[utoipa::path(get, path = "/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = crate::infra::error::Problem)))]
pub async fn get_me(mut auth: Auth) -> ApiResult<Json<Me>> {
    let row = sqlx::query!(
        r#"SELECT u.id, u.email, u.role, u.company_id, u.is_active, u.email_verified,
             u.totp_enabled_at IS NOT NULL AS "two_factor_enabled!", u.locale, u.last_login_at,
             u.created_at,
             coalesce( (SELECT jsonb_build_object('id', e.id, 'firstName', e.first_name, 'lastName', e.last_name, 'department', e.department, 'position', e.position, 'phoneNumber', e.phone_number, 'bio', e.bio, 'avatarUrl', e.avatar_url, 'coverUrl', e.cover_url) FROM employees e WHERE e.user_id = u.id), (SELECT jsonb_build_object('id', p.id, 'firstName', p.first_name, 'lastName', p.last_name, 'title', p.title, 'specialty', p.specialty, 'languages', p.languages, 'bio', p.bio, 'isValidated', p.is_validated, 'timeZone', p.time_zone) FROM practitioners p WHERE p.user_id = u.id)) AS profile
           FROM users u
           WHERE u.id = $1"#,
        auth.principal.user_id
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    let mut me = Me {
        id: row.id,
        email: row.email,
        role: row.role,
        company_id: row.company_id,
        is_active: row.is_active,
        email_verified: row.email_verified,
        two_factor_enabled: row.two_factor_enabled,
        locale: row.locale,
        last_login_at: row.last_login_at,
        created_at: row.created_at,
        profile: row.profile,
        usage: None,
        allowance: None,
    };
    if matches!(me.role, Role::Employee | Role::Practitioner) {
        me.usage = Some(crate::care::scheduling::usage::own_totals(&mut auth.tx).await?);
    }
    if me.role == Role::Employee {
        me.allowance = Some(crate::care::scheduling::usage::own_allowance(&mut auth.tx).await?);
    }
    auth.commit().await?;
    Ok(Json(me))
}

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me))
}
