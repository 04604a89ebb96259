//! A user's notifications (`/api/notifications`): each user reads and clears only their own (RLS).

use axum::Json;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::infra::auth::Auth;
use crate::infra::error::{ApiError, ApiResult, OrNotFound};
use crate::infra::extract::{ApiQuery, Path};
use crate::infra::pagination::{Page, PageQuery};
use crate::infra::state::AppState;

/// A notification.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: Uuid,
    /// CONSULTATION_BOOKED, CONSULTATION_CONFIRMED, CONSULTATION_CANCELLED, CONSULTATION_REMINDER,
    /// MESSAGE_RECEIVED, NEWS_PUBLISHED or SYSTEM.
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub message: String,
    pub link_url: Option<String>,
    pub is_read: bool,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// List filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only unread ones.
    pub unread: Option<bool>,
}

/// The caller's notifications, newest first.
#[utoipa::path(get, path = "/notifications", tag = "notifications", security(("bearer" = [])), params(NotificationQuery, PageQuery),
    responses((status = 200, body = Page<Notification>)))]
pub async fn list_notifications(
    mut auth: Auth,
    ApiQuery(query): ApiQuery<NotificationQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Notification>>> {
    let paging = page.paging()?;
    let unread = query.unread.unwrap_or(false);
    let items: Vec<Notification> = sqlx::query_as!(
        Notification,
        r#"SELECT id, type::text AS "kind!", title, message, link_url, is_read, read_at, created_at
           FROM notifications
           WHERE user_id = app_user_id() AND (NOT $1 OR NOT is_read)
           ORDER BY created_at DESC, id
           LIMIT $2 OFFSET $3"#,
        unread,
        paging.limit(),
        paging.offset()
    )
    .fetch_all(&mut *auth.tx)
    .await?;
    let total: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "value!"
           FROM notifications
           WHERE user_id = app_user_id() AND (NOT $1 OR NOT is_read)"#,
        unread
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    Ok(Json(Page::new(items, total, paging)))
}

/// Mark one notification read.
#[utoipa::path(put, path = "/notifications/{id}/read", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = Notification), (status = 404, body = crate::infra::error::Problem)))]
pub async fn mark_notification_read(
    mut auth: Auth,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Notification>> {
    let notification = sqlx::query_as!(
        Notification,
        r#"UPDATE notifications SET is_read = true, read_at = coalesce(read_at, now())
           WHERE id = $1 AND user_id = app_user_id()
           RETURNING id, type::text AS "kind!", title, message, link_url, is_read, read_at,
             created_at"#,
        id
    )
    .fetch_optional(&mut *auth.tx)
    .await?
    .or_not_found("notification.not_found")?;
    auth.commit().await?;
    Ok(Json(notification))
}

/// How many were marked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Marked {
    pub updated: u64,
}

/// Mark every notification read.
#[utoipa::path(put, path = "/notifications/read-all", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = Marked)))]
pub async fn mark_all_notifications_read(mut auth: Auth) -> ApiResult<Json<Marked>> {
    let done = sqlx::query!(
        r#"UPDATE notifications SET is_read = true, read_at = now()
           WHERE user_id = app_user_id() AND NOT is_read"#
    )
    .execute(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    Ok(Json(Marked {
        updated: done.rows_affected(),
    }))
}

/// Delete a notification.
#[utoipa::path(delete, path = "/notifications/{id}", tag = "notifications", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = crate::infra::error::Problem)))]
pub async fn delete_notification(mut auth: Auth, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    let done = sqlx::query!(
        r#"DELETE FROM notifications WHERE id = $1 AND user_id = app_user_id()"#,
        id
    )
    .execute(&mut *auth.tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("notification.not_found"));
    }
    auth.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(mark_all_notifications_read))
        .routes(routes!(mark_notification_read))
        .routes(routes!(delete_notification))
}
