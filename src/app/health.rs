//! `GET /api/health` (the process answers) and `GET /api/ready` (the database answers and every
//! migration is applied).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::infra::db::embedded::ClusterReport;
use crate::infra::error::{ApiError, ApiResult};
use crate::infra::state::AppState;

/// Health answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = HealthStatus)]
pub struct Status {
    /// `ok` (liveness) or `ready` (readiness).
    pub status: &'static str,
    /// The embedded PostgreSQL this server runs and watches (absent with `DATABASE_URL`): whether
    /// it runs, and how often the server had to restart it.
    #[serde(rename = "embeddedDatabase", skip_serializing_if = "Option::is_none")]
    pub embedded_database: Option<ClusterReport>,
}

/// Liveness: the process is up (it answers `ok` while it restarts a dead embedded PostgreSQL, and
/// says so in `embeddedDatabase`).
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Status)))]
pub async fn check_liveness(State(state): State<AppState>) -> Json<Status> {
    Json(Status {
        status: "ok",
        embedded_database: state.embedded_database.as_ref().map(|h| h.report()),
    })
}

/// Readiness: the database is reachable and migrated.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses((status = 200, body = Status), (status = 503, body = crate::infra::error::Problem)))]
pub async fn check_readiness(State(state): State<AppState>) -> ApiResult<Json<Status>> {
    if state.db.is_ready().await {
        Ok(Json(Status {
            status: "ready",
            embedded_database: None,
        }))
    } else {
        Err(ApiError::unavailable(
            "The database is not reachable or not migrated.",
        ))
    }
}

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(check_liveness))
        .routes(routes!(check_readiness))
}
