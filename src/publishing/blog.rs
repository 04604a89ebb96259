//! The blog (`/api/articles`, alias `POST /api/admin-huntzen/blog/articles`): platform admins
//! write; anyone, signed in or not, reads published articles. `{id}` in paths is the article's
//! id or, for reading and `view`, its slug (one path parameter name serves both).

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
use crate::infra::auth::{AnyRole, Deletable, PlatformStaff};
use crate::infra::db::context::begin_anonymous;
use crate::infra::error::{ApiResult, OrNotFound, Validator};
use crate::infra::extract::{ApiJson, ApiQuery, Path};
use crate::infra::fields::required;
use crate::infra::pagination::{Page, PageQuery};
use crate::infra::sessions::ClientMeta;
use crate::infra::state::AppState;
use crate::people::companies::model::slugify;

/// Article category (`article_category`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "article_category", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Category {
    MentalHealth,
    StressManagement,
    WorkLifeBalance,
    Productivity,
    Relationships,
    Wellbeing,
}

/// Publication state (`article_status`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "article_status", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ArticleStatus {
    Draft,
    Published,
    Archived,
}

/// An article.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Article {
    pub id: Uuid,
    pub title: String,
    pub slug: String,
    pub excerpt: String,
    pub content: String,
    pub cover_url: Option<String>,
    pub meta_title: Option<String>,
    pub meta_description: Option<String>,
    pub category: Category,
    pub tags: Vec<String>,
    pub status: ArticleStatus,
    pub published_at: Option<DateTime<Utc>>,
    pub view_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new article.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewArticle {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub title: String,
    pub excerpt: Option<String>,
    #[schema(min_length = 1, max_length = 100000, pattern = "\\S")]
    pub content: String,
    pub cover_url: Option<String>,
    pub meta_title: Option<String>,
    pub meta_description: Option<String>,
    pub category: Category,
    pub tags: Option<Vec<String>>,
    /// `DRAFT` unless given.
    pub status: Option<ArticleStatus>,
}

/// The fields of an article to change (absent fields stay).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArticleInput {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub title: Option<String>,
    pub excerpt: Option<String>,
    #[schema(min_length = 1, max_length = 100000, pattern = "\\S")]
    pub content: Option<String>,
    pub cover_url: Option<String>,
    pub meta_title: Option<String>,
    pub meta_description: Option<String>,
    pub category: Option<Category>,
    pub tags: Option<Vec<String>>,
    pub status: Option<ArticleStatus>,
}

/// List filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ArticleQuery {
    pub category: Option<Category>,
    pub tag: Option<String>,
    /// Platform staff only (signed in): DRAFT or ARCHIVED.
    pub status: Option<ArticleStatus>,
}

async fn tx_for(
    state: &AppState,
    auth: Option<Auth<AnyRole>>,
) -> ApiResult<(crate::infra::db::Tx, bool)> {
    Ok(match auth {
        Some(auth) => {
            let staff = matches!(
                auth.principal.role,
                crate::infra::identity::Role::AdminHuntzen
                    | crate::infra::identity::Role::SuperAdmin
            );
            (auth.tx, staff)
        }
        None => (begin_anonymous(&state.db.app).await?, false),
    })
}

/// Published articles (platform staff, signed in, may ask for other statuses).
#[utoipa::path(get, path = "/articles", tag = "blog", params(ArticleQuery, PageQuery), security((), ("bearer" = [])),
    responses((status = 200, body = Page<Article>)))]
pub async fn list_articles(
    State(state): State<AppState>,
    auth: Option<Auth<AnyRole>>,
    ApiQuery(q): ApiQuery<ArticleQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Article>>> {
    let paging = page.paging()?;
    let (mut tx, staff) = tx_for(&state, auth).await?;
    let status = if staff {
        q.status.unwrap_or(ArticleStatus::Published)
    } else {
        ArticleStatus::Published
    };
    let tag = q.tag.as_deref().map(|t| t.trim().to_lowercase());
    let items: Vec<Article> = sqlx::query_as!(
        Article,
        r#"SELECT id, title, slug, excerpt, content, cover_url, meta_title, meta_description,
             category, tags, status, published_at, view_count, created_at, updated_at
           FROM articles
           WHERE status = $1 AND ($2::article_category IS NULL OR category = $2)
             AND ($3::text IS NULL OR $3 = ANY(tags))
           ORDER BY published_at DESC NULLS LAST, created_at DESC, id
           LIMIT $4 OFFSET $5"#,
        status,
        q.category,
        tag.as_deref(),
        paging.limit(),
        paging.offset()
    )
    .fetch_all(&mut *tx)
    .await?;
    let total: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "value!"
           FROM articles
           WHERE status = $1 AND ($2::article_category IS NULL OR category = $2)
             AND ($3::text IS NULL OR $3 = ANY(tags))"#,
        status,
        q.category,
        tag.as_deref()
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(Page::new(items, total, paging)))
}

/// One article by slug (or id); drafts only to platform staff.
#[utoipa::path(get, path = "/articles/{id}", tag = "blog", security((), ("bearer" = [])),
    responses((status = 200, body = Article), (status = 404, body = crate::infra::error::Problem)))]
pub async fn get_article(
    State(state): State<AppState>,
    auth: Option<Auth<AnyRole>>,
    Path(key): Path<String>,
) -> ApiResult<Json<Article>> {
    let (mut tx, _) = tx_for(&state, auth).await?;
    let article: Article = sqlx::query_as!(
        Article,
        r#"SELECT id, title, slug, excerpt, content, cover_url, meta_title, meta_description,
             category, tags, status, published_at, view_count, created_at, updated_at
           FROM articles
           WHERE slug = $1 OR id::text = $1"#,
        &key
    )
    .fetch_optional(&mut *tx)
    .await?
    .or_not_found("article.not_found")?;
    tx.commit().await?;
    Ok(Json(article))
}

/// Count a view of a published article (no login needed).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Views {
    pub view_count: i32,
}

/// Count one view.
#[utoipa::path(put, path = "/articles/{id}/view", tag = "blog",
    responses((status = 200, body = Views), (status = 404, body = crate::infra::error::Problem)))]
pub async fn count_article_view(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<Views>> {
    let mut tx = begin_anonymous(&state.db.app).await?;
    let count: Option<i32> = sqlx::query_scalar!(r#"SELECT article_viewed($1)"#, &key)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    count
        .map(|view_count| Json(Views { view_count }))
        .or_not_found("article.not_found")
}

fn clean_tags(tags: &[String]) -> Vec<String> {
    tags.iter()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .take(20)
        .collect()
}

async fn unique_slug(tx: &mut crate::infra::db::Tx, title: &str) -> ApiResult<String> {
    let base = slugify(title);
    let taken: Vec<String> = sqlx::query_scalar!(
        r#"SELECT slug FROM articles WHERE slug = $1 OR slug LIKE $1 || '-%'"#,
        &base
    )
    .fetch_all(&mut **tx)
    .await?;
    if !taken.contains(&base) {
        return Ok(base);
    }
    Ok((2..)
        .map(|n| format!("{base}-{n}"))
        .find(|s| !taken.contains(s))
        .unwrap_or(base))
}

/// Write an article (DRAFT unless `status` says otherwise).
#[utoipa::path(post, path = "/articles", tag = "blog", security(("bearer" = [])), request_body = NewArticle,
    responses((status = 201, body = Article), (status = 409, description = "Another article has this slug (`resource.duplicate`).", body = crate::infra::error::Problem),
              (status = 422, body = crate::infra::error::Problem)))]
pub async fn create_article(
    client: ClientMeta,
    mut auth: Auth<PlatformStaff>,
    ApiJson(input): ApiJson<NewArticle>,
) -> ApiResult<(StatusCode, Json<Article>)> {
    let mut v = Validator::new();
    let title = required(&mut v, "title", &input.title, 200);
    let content = required(&mut v, "content", &input.content, 100_000);
    let cover = crate::infra::fields::url_field(&mut v, "coverUrl", input.cover_url.as_deref());
    v.finish()?;
    let slug = unique_slug(&mut auth.tx, &title).await?;
    let status = input.status.unwrap_or(ArticleStatus::Draft);
    let article: Article = sqlx::query_as!(
        Article,
        r#"INSERT INTO articles (title, slug, excerpt, content, cover_url, meta_title, meta_description, category, tags, status, published_at, author_id, author_role)
           VALUES ($1, $2, coalesce($3, ''), $4, $5, $6, $7, $8, $9, $10, CASE WHEN $10::article_status = 'PUBLISHED' THEN now() END, app_user_id(), app_role())
           RETURNING id, title, slug, excerpt, content, cover_url, meta_title, meta_description,
             category, tags, status, published_at, view_count, created_at, updated_at"#,
        &title,
        &slug,
        input.excerpt.as_deref().map(str::trim),
        &content,
        cover.as_deref(),
        input.meta_title.as_deref(),
        input.meta_description.as_deref(),
        input.category,
        &clean_tags(input.tags.as_deref().unwrap_or_default()),
        status
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    auth.audit(&client, Action::Create, "article", Some(article.id), None)
        .await?;
    auth.commit().await?;
    Ok((StatusCode::CREATED, Json(article)))
}

async fn find(tx: &mut crate::infra::db::Tx, id: Uuid) -> ApiResult<Article> {
    sqlx::query_as!(
        Article,
        r#"SELECT id, title, slug, excerpt, content, cover_url, meta_title, meta_description,
             category, tags, status, published_at, view_count, created_at, updated_at
           FROM articles
           WHERE id = $1
           FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut **tx)
    .await?
    .or_not_found("article.not_found")
}

/// Change an article.
#[utoipa::path(put, path = "/articles/{id}", tag = "blog", security(("bearer" = [])), request_body = ArticleInput,
    responses((status = 200, body = Article), (status = 404, body = crate::infra::error::Problem),
              (status = 409, description = "Another article has this slug (`resource.duplicate`).", body = crate::infra::error::Problem),
              (status = 422, body = crate::infra::error::Problem)))]
pub async fn update_article(
    client: ClientMeta,
    mut auth: Auth<PlatformStaff>,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<ArticleInput>,
) -> ApiResult<Json<Article>> {
    let mut a = find(&mut auth.tx, id).await?;
    let mut v = Validator::new();
    if let Some(title) = &input.title {
        a.title = required(&mut v, "title", title, 200);
    }
    if let Some(content) = &input.content {
        a.content = required(&mut v, "content", content, 100_000);
    }
    if let Some(cover) = &input.cover_url {
        a.cover_url = crate::infra::fields::url_field(&mut v, "coverUrl", Some(cover));
    }
    v.finish()?;
    a.excerpt = input
        .excerpt
        .map(|e| e.trim().to_owned())
        .unwrap_or(a.excerpt);
    a.meta_title = input.meta_title.or(a.meta_title);
    a.meta_description = input.meta_description.or(a.meta_description);
    a.category = input.category.unwrap_or(a.category);
    a.tags = input.tags.map(|t| clean_tags(&t)).unwrap_or(a.tags);
    a.status = input.status.unwrap_or(a.status);
    let article: Article = sqlx::query_as!(
        Article,
        r#"UPDATE articles SET title = $2, excerpt = $3, content = $4, cover_url = $5,
             meta_title = $6, meta_description = $7, category = $8, tags = $9, status = $10,
             published_at = CASE WHEN $10::article_status = 'PUBLISHED' THEN coalesce(published_at, now()) ELSE published_at END
           WHERE id = $1
           RETURNING id, title, slug, excerpt, content, cover_url, meta_title, meta_description,
             category, tags, status, published_at, view_count, created_at, updated_at"#,
        id,
        &a.title,
        &a.excerpt,
        &a.content,
        a.cover_url.as_deref(),
        a.meta_title.as_deref(),
        a.meta_description.as_deref(),
        a.category,
        &a.tags,
        a.status
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    auth.audit(&client, Action::Update, "article", Some(id), None)
        .await?;
    auth.commit().await?;
    Ok(Json(article))
}

/// Publish an article now.
#[utoipa::path(post, path = "/articles/{id}/publish", tag = "blog", security(("bearer" = [])),
    responses((status = 200, body = Article), (status = 404, body = crate::infra::error::Problem)))]
pub async fn publish_article(
    client: ClientMeta,
    mut auth: Auth<PlatformStaff>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Article>> {
    let article: Article = sqlx::query_as!(
        Article,
        r#"UPDATE articles SET status = 'PUBLISHED', published_at = coalesce(published_at, now())
           WHERE id = $1
           RETURNING id, title, slug, excerpt, content, cover_url, meta_title, meta_description,
             category, tags, status, published_at, view_count, created_at, updated_at"#,
        id
    )
    .fetch_optional(&mut *auth.tx)
    .await?
    .or_not_found("article.not_found")?;
    auth.audit(
        &client,
        Action::Update,
        "article",
        Some(id),
        Some(serde_json::json!({ "event": "published" })),
    )
    .await?;
    auth.commit().await?;
    Ok(Json(article))
}

/// What `delete` removes.
const ARTICLE: Deletable = Deletable {
    table: "articles",
    resource: "article",
    not_found: "article.not_found",
};

/// Delete an article.
#[utoipa::path(delete, path = "/articles/{id}", tag = "blog", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = crate::infra::error::Problem)))]
pub async fn delete_article(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<PlatformStaff>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let covers = files::detach(&mut auth.tx, Link::Article(id), None).await?;
    auth.delete_audited(&client, &ARTICLE, id).await?;
    auth.commit().await?;
    files::discard(&state, &covers).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give an article its cover (PNG, JPEG or WebP, at most 10 MiB, multipart field `file`; its
/// metadata stripped, sealed like every file). Its `coverUrl` becomes `/api/articles/{id}/cover`,
/// readable by anyone once the article is published (a draft's only by platform staff); a
/// previous cover is deleted.
#[utoipa::path(post, path = "/articles/{id}/cover", tag = "blog", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", content = String),
    responses((status = 201, body = StoredFile), (status = 404, body = crate::infra::error::Problem),
              (status = 413, body = crate::infra::error::Problem), (status = 415, body = crate::infra::error::Problem)))]
pub async fn upload_article_cover(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<PlatformStaff>,
    Path(id): Path<Uuid>,
    upload: Upload,
) -> ApiResult<(StatusCode, Json<StoredFile>)> {
    sqlx::query!("SELECT id FROM articles WHERE id = $1 FOR UPDATE", id)
        .fetch_optional(&mut *auth.tx)
        .await?
        .or_not_found("article.not_found")?;
    let mut stored = files::picture(
        &state,
        &mut auth,
        upload,
        Link::Article(id),
        Purpose::ArticleCover,
    )
    .await?;
    stored.url = format!("/api/articles/{id}/cover");
    sqlx::query!(
        "UPDATE articles SET cover_url = $2 WHERE id = $1",
        id,
        &stored.url
    )
    .execute(&mut *auth.tx)
    .await?;
    let replaced = files::detach(&mut auth.tx, Link::Article(id), Some(stored.id)).await?;
    auth.audit(
        &client,
        Action::Update,
        "article",
        Some(id),
        Some(serde_json::json!({ "cover": stored.id })),
    )
    .await?;
    auth.commit().await?;
    files::discard(&state, &replaced).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// An article's cover image: anyone for a published article (no login needed), platform staff
/// for a draft; otherwise 404.
#[utoipa::path(get, path = "/articles/{id}/cover", tag = "blog", security((), ("bearer" = [])),
    responses((status = 200, description = "The image's bytes"), (status = 404, body = crate::infra::error::Problem)))]
pub async fn get_article_cover(
    State(state): State<AppState>,
    auth: Option<Auth<AnyRole>>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::response::Response> {
    let (mut tx, _) = tx_for(&state, auth).await?;
    let cover = sqlx::query!(
        r#"SELECT f.id, a.status = 'PUBLISHED' AS "published!"
           FROM files f
           JOIN articles a ON a.id = f.article_id
           WHERE f.article_id = $1 AND f.purpose = 'ARTICLE_COVER'
           ORDER BY f.created_at DESC
           LIMIT 1"#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .or_not_found("file.not_found")?;
    let file = files::locate(&state, &mut tx, cover.id).await?;
    tx.commit().await?;
    // A published cover may be cached by browsers and proxies for a short while; a draft's not.
    let cache = if cover.published {
        "public, max-age=300"
    } else {
        "private, no-store"
    };
    file.respond(&state, cache).await
}

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_articles, create_article))
        .routes(routes!(get_article, update_article, delete_article))
        .routes(routes!(count_article_view))
        .routes(routes!(publish_article))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(upload_article_cover, get_article_cover))
                .route_layer(files::upload_body_limit()),
        )
}
