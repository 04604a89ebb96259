//! Identity: password hashing, access tokens, login sessions, the `Auth` extractor and sign-in.

pub mod extract;
pub mod login;
pub mod password;
pub mod role;
pub mod session;
pub mod token;

pub use extract::Auth;
pub use role::Role;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Routes under `/api/auth`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login::login))
}
