//! Company news: the HR admin writes (when the company allows internal news); the company's
//! employees read; publishing notifies them. Another company's news is never visible (RLS).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::care::files::{self, Link, Purpose, StoredFile, Upload};
use crate::infra::audit::Action;
use crate::infra::auth::Auth;
use crate::infra::auth::{Deletable, HrAdmin, RoleSet};
use crate::infra::error::{ApiError, ApiResult, OrNotFound, Validator};
use crate::infra::extract::{ApiJson, ApiQuery, Path};
use crate::infra::fields::required;
use crate::infra::pagination::{Page, PageQuery};
use crate::infra::sessions::ClientMeta;
use crate::infra::state::AppState;

/// Who reads company news: its employees and its HR admin.
#[derive(Debug)]
pub struct CompanyMember;

impl RoleSet for CompanyMember {
    const ROLES: &'static [crate::infra::identity::Role] = &[
        crate::infra::identity::Role::Employee,
        crate::infra::identity::Role::AdminRh,
    ];
}

/// A news item.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct News {
    pub id: Uuid,
    pub company_id: Uuid,
    pub title: String,
    pub content: String,
    pub image_url: Option<String>,
    pub published_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A news item to publish.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewNews {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub title: String,
    #[schema(min_length = 1, max_length = 20000, pattern = "\\S")]
    pub content: String,
    pub image_url: Option<String>,
}

/// The fields of a news item to change (absent fields stay).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewsInput {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub title: Option<String>,
    #[schema(min_length = 1, max_length = 20000, pattern = "\\S")]
    pub content: Option<String>,
    pub image_url: Option<String>,
}

/// The company's news, newest first.
#[utoipa::path(get, path = "/news", tag = "news", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<News>)))]
pub async fn list_news(
    mut auth: Auth<CompanyMember>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<News>>> {
    let paging = page.paging()?;
    let items: Vec<News> = sqlx::query_as!(
        News,
        r#"SELECT id, company_id, title, content, image_url, published_at, created_at, updated_at
           FROM news
           WHERE company_id = app_company_id()
           ORDER BY published_at DESC, id
           LIMIT $1 OFFSET $2"#,
        paging.limit(),
        paging.offset()
    )
    .fetch_all(&mut *auth.tx)
    .await?;
    let total: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "value!"
               FROM news
               WHERE company_id = app_company_id()"#
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    Ok(Json(Page::new(items, total, paging)))
}

/// The same (the brief's employee path).
#[utoipa::path(get, path = "/news/company", tag = "news", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<News>)))]
pub async fn list_company_news(
    auth: Auth<CompanyMember>,
    query: ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<News>>> {
    list_news(auth, query).await
}

/// Publish a news item to the company (its employees are notified).
#[utoipa::path(post, path = "/news", tag = "news", security(("bearer" = [])), request_body = NewNews,
    responses((status = 201, body = News), (status = 409, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn create_news(
    client: ClientMeta,
    mut auth: Auth<HrAdmin>,
    ApiJson(input): ApiJson<NewNews>,
) -> ApiResult<(StatusCode, Json<News>)> {
    let mut v = Validator::new();
    let title = required(&mut v, "title", &input.title, 200);
    let content = required(&mut v, "content", &input.content, 20_000);
    let image_url = crate::infra::fields::url_field(&mut v, "imageUrl", input.image_url.as_deref());
    v.finish()?;
    let allowed: bool = sqlx::query_scalar!(
        r#"SELECT allow_internal_news
           FROM companies
           WHERE id = app_company_id()"#
    )
    .fetch_optional(&mut *auth.tx)
    .await?
    .unwrap_or(false);
    if !allowed {
        return Err(ApiError::conflict(
            "news.disabled",
            "Internal news are turned off for this company.",
        ));
    }
    let news: News = sqlx::query_as!(
        News,
        r#"INSERT INTO news (company_id, title, content, image_url, author_id)
           VALUES (app_company_id(), $1, $2, $3, app_user_id())
           RETURNING id, company_id, title, content, image_url, published_at, created_at, updated_at"#,
        &title,
        &content,
        image_url.as_deref()
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    sqlx::query!(r#"SELECT FROM notify_company_news($1)"#, news.id)
        .execute(&mut *auth.tx)
        .await?;
    auth.audit(&client, Action::Create, "news", Some(news.id), None)
        .await?;
    auth.commit().await?;
    Ok((StatusCode::CREATED, Json(news)))
}

/// Change a news item.
#[utoipa::path(put, path = "/news/{id}", tag = "news", security(("bearer" = [])), request_body = NewsInput,
    responses((status = 200, body = News), (status = 404, body = crate::infra::error::Problem)))]
pub async fn update_news(
    client: ClientMeta,
    mut auth: Auth<HrAdmin>,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<NewsInput>,
) -> ApiResult<Json<News>> {
    let mut v = Validator::new();
    let title = input
        .title
        .as_deref()
        .map(|t| required(&mut v, "title", t, 200));
    let content = input
        .content
        .as_deref()
        .map(|c| required(&mut v, "content", c, 20_000));
    let image_url = crate::infra::fields::url_field(&mut v, "imageUrl", input.image_url.as_deref());
    v.finish()?;
    let news: News = sqlx::query_as!(
        News,
        r#"UPDATE news SET title = coalesce($2, title), content = coalesce($3, content),
             image_url = coalesce($4, image_url)
           WHERE id = $1
           RETURNING id, company_id, title, content, image_url, published_at, created_at, updated_at"#,
        id,
        title,
        content,
        image_url.as_deref()
    )
    .fetch_optional(&mut *auth.tx)
    .await?
    .or_not_found("news.not_found")?;
    auth.audit(&client, Action::Update, "news", Some(id), None)
        .await?;
    auth.commit().await?;
    Ok(Json(news))
}

/// What `delete` removes.
const NEWS: Deletable = Deletable {
    table: "news",
    resource: "news",
    not_found: "news.not_found",
};

/// Delete a news item (and its images).
#[utoipa::path(delete, path = "/news/{id}", tag = "news", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = crate::infra::error::Problem)))]
pub async fn delete_news(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<HrAdmin>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let images = files::detach(&mut auth.tx, Link::News(id), None).await?;
    auth.delete_audited(&client, &NEWS, id).await?;
    auth.commit().await?;
    files::discard(&state, &images).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give a news item its image (PNG, JPEG or WebP, at most 10 MiB, multipart field `file`; its
/// metadata stripped, sealed like every file). The company's employees read it at the returned
/// `url`, which becomes the item's `imageUrl`; a previous image is deleted.
#[utoipa::path(post, path = "/news/{id}/image", tag = "news", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", content = String),
    responses((status = 201, body = StoredFile), (status = 404, body = crate::infra::error::Problem),
              (status = 413, body = crate::infra::error::Problem), (status = 415, body = crate::infra::error::Problem)))]
pub async fn upload_news_image(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<HrAdmin>,
    Path(id): Path<Uuid>,
    upload: Upload,
) -> ApiResult<(StatusCode, Json<StoredFile>)> {
    // Locked: two uploads at once leave one image, the later one.
    sqlx::query!("SELECT id FROM news WHERE id = $1 FOR UPDATE", id)
        .fetch_optional(&mut *auth.tx)
        .await?
        .or_not_found("news.not_found")?;
    let stored = files::picture(
        &state,
        &mut auth,
        upload,
        Link::News(id),
        Purpose::NewsImage,
    )
    .await?;
    sqlx::query!(
        "UPDATE news SET image_url = $2 WHERE id = $1",
        id,
        &stored.url
    )
    .execute(&mut *auth.tx)
    .await?;
    let replaced = files::detach(&mut auth.tx, Link::News(id), Some(stored.id)).await?;
    auth.audit(
        &client,
        Action::Update,
        "news",
        Some(id),
        Some(serde_json::json!({ "image": stored.id })),
    )
    .await?;
    auth.commit().await?;
    files::discard(&state, &replaced).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_news, create_news))
        .routes(routes!(list_company_news))
        .routes(routes!(update_news, delete_news))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(upload_news_image))
                .route_layer(files::upload_body_limit()),
        )
}
