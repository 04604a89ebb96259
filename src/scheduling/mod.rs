//! Scheduling: availability, free slots, consultations and their lifecycle, Jitsi rooms,
//! attendance events, usage counters.

pub mod availability;
pub mod consultations;
pub mod model;
pub mod room;
pub mod schedule;
pub mod slots;
pub mod usage;
pub mod webhook;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(availability::list, availability::create))
        .routes(routes!(availability::update, availability::delete))
        .routes(routes!(schedule::by_query))
        .routes(routes!(schedule::for_practitioner))
        .routes(routes!(consultations::book, consultations::participant_list))
        .routes(routes!(consultations::mine))
        .routes(routes!(consultations::upcoming))
        .routes(routes!(consultations::history))
        .routes(routes!(consultations::get))
        .routes(routes!(consultations::confirm))
        .routes(routes!(consultations::start))
        .routes(routes!(consultations::end))
        .routes(routes!(consultations::cancel))
        .routes(routes!(consultations::no_show))
        .routes(routes!(consultations::attendance))
        .routes(routes!(room::room))
        .routes(routes!(webhook::jitsi_events))
        .routes(routes!(usage::practitioner_stats))
}
