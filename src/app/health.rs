//! `GET /api/health` (the process answers) and `GET /api/ready` (the database answers and every
//! migration is applied).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::infra::error::{ApiError, ApiResult};
use crate::infra::state::AppState;

/// Health answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = HealthStatus)]
pub struct Status {
    /// `ok`.
    pub status: &'static str,
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Status)))]
pub async fn check_liveness() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Readiness: the database is reachable and migrated.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses((status = 200, body = Status), (status = 503, body = crate::infra::error::Problem)))]
pub async fn check_readiness(State(state): State<AppState>) -> ApiResult<Json<Status>> {
    if state.db.is_ready().await {
        Ok(Json(Status { status: "ready" }))
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
