//! Platform operations for SUPER_ADMIN: the audit trail, health and a metrics summary. Aggregates
//! and bookkeeping only — never a person's content.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::infra::auth::Auth;
use crate::infra::auth::SuperAdmin;
use crate::infra::error::ApiResult;
use crate::infra::extract::ApiQuery;
use crate::infra::pagination::{Page, PageQuery};
use crate::infra::state::AppState;

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Marks the process start (uptime is measured from the first call).
pub fn started() -> Instant {
    *STARTED.get_or_init(Instant::now)
}

/// An audit row.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditRow {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub user_role: Option<String>,
    pub action: String,
    pub resource: String,
    pub resource_id: Option<String>,
    pub company_id: Option<Uuid>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
    pub created_at: DateTime<Utc>,
}

/// Audit filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// LOGIN, LOGIN_FAILED, LOGOUT, CREATE, READ, UPDATE, DELETE, EXPORT, IMPORT, VALIDATE, CANCEL, SECURITY.
    pub action: Option<String>,
    pub resource: Option<String>,
    pub company_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// The audit trail, newest first.
#[utoipa::path(get, path = "/super-admin/audit-logs", tag = "super-admin", security(("bearer" = [])), params(AuditQuery, PageQuery),
    responses((status = 200, body = Page<AuditRow>)))]
pub async fn list_audit_logs(
    mut auth: Auth<SuperAdmin>,
    ApiQuery(q): ApiQuery<AuditQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<AuditRow>>> {
    let paging = page.paging()?;
    let items: Vec<AuditRow> = sqlx::query_as!(
        AuditRow,
        r#"SELECT id, user_id, user_role::text, action::text AS "action!", resource, resource_id,
             company_id, ip_address, user_agent, details, created_at
           FROM audit_logs
           WHERE ($1::text IS NULL OR action::text = upper($1))
             AND ($2::text IS NULL OR resource = $2) AND ($3::uuid IS NULL OR company_id = $3)
             AND ($4::uuid IS NULL OR user_id = $4)
             AND ($5::timestamptz IS NULL OR created_at >= $5)
             AND ($6::timestamptz IS NULL OR created_at < $6)
           ORDER BY created_at DESC, id
           LIMIT $7 OFFSET $8"#,
        q.action.as_deref(),
        q.resource.as_deref(),
        q.company_id,
        q.user_id,
        q.from,
        q.to,
        paging.limit(),
        paging.offset()
    )
    .fetch_all(&mut *auth.tx)
    .await?;
    let total: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "value!"
           FROM audit_logs
           WHERE ($1::text IS NULL OR action::text = upper($1))
             AND ($2::text IS NULL OR resource = $2) AND ($3::uuid IS NULL OR company_id = $3)
             AND ($4::uuid IS NULL OR user_id = $4)
             AND ($5::timestamptz IS NULL OR created_at >= $5)
             AND ($6::timestamptz IS NULL OR created_at < $6)"#,
        q.action.as_deref(),
        q.resource.as_deref(),
        q.company_id,
        q.user_id,
        q.from,
        q.to
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    Ok(Json(Page::new(items, total, paging)))
}

async fn job_counts(state: &AppState) -> Value {
    let rows: Result<Vec<(String, String, i64)>, _> = sqlx::query!(
        r#"SELECT job_type AS "job_type!", status AS "status!", count(*) AS "col2!"
               FROM apalis.jobs
               GROUP BY 1, 2
               ORDER BY 1, 2"#
    )
    .map(|r| (r.job_type, r.status, r.col2))
    .fetch_all(&state.db.system)
    .await;
    match rows {
        Ok(rows) => Value::Array(
            rows.into_iter()
                .map(|(queue, status, count)| json!({ "queue": queue, "status": status, "count": count }))
                .collect(),
        ),
        Err(_) => Value::Null,
    }
}

fn free_disk_bytes(dir: &std::path::Path) -> Option<u64> {
    let output = std::process::Command::new("df")
        .arg("-Pk")
        .arg(dir)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Health of the service: database, migrations, job queue, disk, version, uptime.
#[utoipa::path(get, path = "/super-admin/health", tag = "super-admin", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
pub async fn get_platform_health(
    State(state): State<AppState>,
    auth: Auth<SuperAdmin>,
) -> ApiResult<Json<Value>> {
    auth.commit().await?;
    let started = Instant::now();
    let ready = state.db.is_ready().await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok(Json(json!({
        "status": if ready { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptimeSeconds": started_seconds(),
        "database": { "ready": ready, "latencyMs": latency_ms },
        "jobs": job_counts(&state).await,
        "disk": { "dataDirFreeBytes": free_disk_bytes(&state.settings.data_dir) },
        "redis": if state.realtime.is_clustered() { json!("connected: Socket.IO rooms span every node") } else { json!("not configured: single node") },
    })))
}

fn started_seconds() -> u64 {
    started().elapsed().as_secs()
}

/// A metrics summary: pools, sockets, jobs, counts.
#[utoipa::path(get, path = "/super-admin/metrics", tag = "super-admin", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
pub async fn get_metrics_summary(
    State(state): State<AppState>,
    mut auth: Auth<SuperAdmin>,
) -> ApiResult<Json<Value>> {
    let kpis: Option<Value> = sqlx::query_scalar!(r#"SELECT report_platform_kpis()"#)
        .fetch_one(&mut *auth.tx)
        .await?;
    auth.commit().await?;
    let sockets: usize = state.realtime.local_sockets();
    Ok(Json(json!({
        "uptimeSeconds": started_seconds(),
        "pools": {
            "app": { "size": state.db.app.size(), "idle": state.db.app.num_idle() },
            "system": { "size": state.db.system.size(), "idle": state.db.system.num_idle() },
        },
        "socketsConnected": sockets,
        "jobs": job_counts(&state).await,
        "platform": kpis,
    })))
}

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    started();
    OpenApiRouter::new()
        .routes(routes!(list_audit_logs))
        .routes(routes!(get_platform_health))
        .routes(routes!(get_metrics_summary))
        .routes(routes!(start_backup))
}

/// A backup was queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupQueued {
    pub job_id: Uuid,
    pub status: &'static str,
}

/// Take an encrypted backup now (written by a job to `$DATA_DIR/backups`).
#[utoipa::path(post, path = "/super-admin/backup", tag = "super-admin", security(("bearer" = [])),
    responses((status = 202, body = BackupQueued)))]
pub async fn start_backup(
    client: crate::infra::sessions::ClientMeta,
    mut auth: Auth<SuperAdmin>,
) -> ApiResult<(axum::http::StatusCode, Json<BackupQueued>)> {
    let id = Uuid::new_v4();
    crate::infra::jobs::enqueue_backup(&mut auth.tx, id).await?;
    auth.audit(
        &client,
        crate::infra::audit::Action::Export,
        "backup",
        Some(id),
        None,
    )
    .await?;
    auth.commit().await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(BackupQueued {
            job_id: id,
            status: "QUEUED",
        }),
    ))
}
