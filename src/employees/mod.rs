//! Employees: created, imported and managed by their HR admin; their own profile.

pub mod handlers;
pub mod import;
pub mod model;

use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    let import = OpenApiRouter::new()
        .routes(routes!(import::import))
        .route_layer(DefaultBodyLimit::max(import::MAX_BYTES + 64 * 1024));
    OpenApiRouter::new()
        .merge(import)
        .routes(routes!(handlers::create, handlers::list))
        .routes(routes!(handlers::me, handlers::update_me))
        .routes(routes!(handlers::get, handlers::update, handlers::delete))
        .routes(routes!(handlers::activate))
        .routes(routes!(handlers::deactivate))
}
