//! Companies (tenants): created and validated by the platform, maintained by their HR admin.

pub mod handlers;
pub mod model;
pub mod update;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::infra::state::AppState;

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::create_company, handlers::list_companies))
        .routes(routes!(handlers::get_my_company, update::update_my_company))
        .routes(routes!(
            handlers::get_company,
            update::update_company,
            handlers::delete_company
        ))
        .routes(routes!(handlers::validate_company))
        .routes(routes!(handlers::list_all_companies))
}
