//! Identity: password hashing, access tokens, login sessions, the `Auth` extractor and sign-in.

pub mod extract;
pub mod login;
pub mod one_time;
pub mod password;
pub mod recovery;
pub mod refresh;
pub mod register;
pub mod role;
pub mod session;
pub mod throttle;
pub mod token;
pub mod two_factor;

pub use extract::Auth;
pub use role::Role;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Routes under `/api/auth`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login::login))
        .routes(routes!(register::register))
        .routes(routes!(refresh::refresh))
        .routes(routes!(refresh::logout))
        .routes(routes!(recovery::verify_email))
        .routes(routes!(recovery::resend_verification))
        .routes(routes!(recovery::forgot_password))
        .routes(routes!(recovery::reset_password))
        .routes(routes!(two_factor::setup))
        .routes(routes!(two_factor::verify))
        .routes(routes!(two_factor::disable))
}
