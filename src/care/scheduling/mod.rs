//! Scheduling: availability, free slots, consultations and their lifecycle, Jitsi rooms,
//! attendance events, usage counters.

pub mod availability;
pub mod calendar;
pub mod consultations;
pub mod model;
pub mod room;
pub mod schedule;
pub mod slots;
pub mod usage;
pub mod webhook;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::infra::state::AppState;

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            availability::list_availability,
            availability::create_availability
        ))
        .routes(routes!(
            availability::update_availability,
            availability::delete_availability
        ))
        .routes(routes!(schedule::list_free_slots))
        .routes(routes!(schedule::list_practitioner_free_slots))
        .routes(routes!(
            consultations::book_consultation,
            consultations::list_consultations
        ))
        .routes(routes!(consultations::list_my_consultations))
        .routes(routes!(consultations::list_upcoming_consultations))
        .routes(routes!(consultations::list_past_consultations))
        .routes(routes!(consultations::get_consultation))
        .routes(routes!(consultations::confirm_consultation))
        .routes(routes!(consultations::start_consultation))
        .routes(routes!(consultations::end_consultation))
        .routes(routes!(consultations::cancel_consultation))
        .routes(routes!(consultations::reschedule_consultation))
        .routes(routes!(calendar::get_consultation_calendar))
        .routes(routes!(consultations::mark_no_show))
        .routes(routes!(consultations::record_attendance))
        .routes(routes!(room::get_room))
        .routes(routes!(webhook::receive_jitsi_events))
        .routes(routes!(usage::get_practitioner_stats))
}
