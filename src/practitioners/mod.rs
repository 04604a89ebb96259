//! Practitioners: vocabulary (specialties, formats), the directory, own profile, validation.

pub mod handlers;
pub mod model;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::search))
        .routes(routes!(handlers::pending))
        .routes(routes!(handlers::me, handlers::update_me))
        .routes(routes!(handlers::get))
        .routes(routes!(handlers::validate))
        .routes(routes!(handlers::documents_verified))
}
