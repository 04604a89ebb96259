//! The API map: every feature router nested under `/api`, the OpenAPI 3.1 document built from the
//! same routes (`/api/openapi.json`, rendered at `/api/docs`) with every operation's error answers,
//! and problem+json fallbacks.

use axum::Router;
use axum::http::StatusCode;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use super::{aliases, responses};

use crate::infra::error::ApiError;
use crate::infra::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "HuntZen Care API", description = "Confidential teleconsultation backend. Contract: API.md. \
        No text may hold U+0000 (PostgreSQL cannot store it): a body value or key, query or path that does is a 422 \
        `validation.failed` naming the field."),
    modifiers(&BearerAuth),
    components(schemas(crate::infra::error::Problem, crate::infra::error::FieldError))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every API route with its OpenAPI description, paths relative to `/api`.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(crate::app::health::router())
        .merge(crate::people::accounts::router())
        .merge(crate::people::me::router())
        .merge(crate::people::access::router())
        .merge(crate::people::companies::router())
        .merge(crate::people::employees::router())
        .merge(crate::care::practitioners::router())
        .merge(crate::care::scheduling::router())
        .merge(crate::care::notifications::router())
        .merge(crate::care::chat::router())
        .merge(crate::care::clinical::router())
        .merge(crate::care::journal::router())
        .merge(crate::governance::reports::router())
        .merge(crate::publishing::blog::router())
        .merge(crate::publishing::news::router())
        .merge(crate::publishing::crisis::router())
        .merge(crate::governance::gdpr::router())
        .merge(crate::care::files::router())
        .merge(crate::governance::admin::router())
        .merge(crate::governance::support::router())
        .merge(crate::governance::operations::router())
}

/// The OpenAPI document of every route, aliases included.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut openapi = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .nest("/api", routes())
        .into_openapi();
    complete(&mut openapi);
    openapi
}

/// Aliases, then the error answers every operation can give.
fn complete(openapi: &mut utoipa::openapi::OpenApi) {
    aliases::document(openapi);
    responses::document(openapi);
}

/// The application router (state still to be provided).
pub fn router() -> Router<AppState> {
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api", routes())
        .split_for_parts();
    complete(&mut openapi);
    router
        .route_layer(axum::middleware::from_fn(crate::infra::metrics::track))
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "route.not_found", "No such route.")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "route.method_not_allowed",
                "Method not allowed on this route.",
            )
        })
}
