//! Employees: created, imported and managed by their HR admin; their own profile.

pub mod handlers;
pub mod import;
pub mod model;

use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::infra::state::AppState;

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    let import = OpenApiRouter::new()
        .routes(routes!(import::import_employees))
        .route_layer(DefaultBodyLimit::max(import::MAX_BYTES + 64 * 1024));
    OpenApiRouter::new()
        .merge(import)
        .routes(routes!(handlers::create_employee, handlers::list_employees))
        .routes(routes!(
            handlers::get_my_employee_profile,
            handlers::update_my_employee_profile
        ))
        .routes(routes!(
            handlers::get_employee,
            handlers::update_employee,
            handlers::delete_employee
        ))
        .routes(routes!(handlers::activate_employee))
        .routes(routes!(handlers::deactivate_employee))
}
