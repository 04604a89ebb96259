//! Companies (tenants): created and validated by the platform, maintained by their HR admin.

pub mod handlers;
pub mod model;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::create, handlers::list))
        .routes(routes!(handlers::me, handlers::update_me))
        .routes(routes!(handlers::get, handlers::update, handlers::delete))
        .routes(routes!(handlers::validate))
        .routes(routes!(handlers::super_admin_list))
}
