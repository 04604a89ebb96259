//! Sign-in flows under `/api/auth`: login, registration, refresh and logout, email verification
//! and password recovery, two-factor authentication; the caller's own credentials and logins
//! (`/api/me/password`, `/api/me/email`, `/api/me/sessions`); one-time tokens, sign-in throttling and the
//! creation of every user row.

pub mod login;
pub mod one_time;
pub mod recovery;
pub mod refresh;
pub mod register;
pub mod self_service;
pub mod step_up;
pub mod throttle;
pub mod totp;
pub mod two_factor;
pub mod users;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::infra::state::AppState;

/// Routes under `/api/auth`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login::login))
        .routes(routes!(register::register))
        .routes(routes!(refresh::refresh_session))
        .routes(routes!(refresh::logout))
        .routes(routes!(recovery::verify_email))
        .routes(routes!(recovery::resend_verification))
        .routes(routes!(recovery::forgot_password))
        .routes(routes!(recovery::reset_password))
        .routes(routes!(two_factor::setup_two_factor))
        .routes(routes!(two_factor::verify_two_factor))
        .routes(routes!(two_factor::disable_two_factor))
        .routes(routes!(two_factor::regenerate_recovery_codes))
        .routes(routes!(self_service::change_password))
        .routes(routes!(self_service::change_email))
        .routes(routes!(
            self_service::list_sessions,
            self_service::delete_other_sessions
        ))
        .routes(routes!(self_service::delete_session))
}
