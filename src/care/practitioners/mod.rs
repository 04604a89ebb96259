//! Practitioners: vocabulary (specialties, formats), the directory, own profile, validation.

pub mod handlers;
pub mod model;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::infra::state::AppState;

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::search_practitioners))
        .routes(routes!(handlers::list_pending_practitioners))
        .routes(routes!(
            handlers::get_my_practitioner_profile,
            handlers::update_my_practitioner_profile
        ))
        .routes(routes!(handlers::get_practitioner))
        .routes(routes!(
            handlers::validate_practitioner,
            handlers::approve_practitioner
        ))
        .routes(routes!(handlers::verify_practitioner_documents))
        .routes(routes!(handlers::list_practitioner_documents))
        .routes(routes!(handlers::reject_practitioner))
}
