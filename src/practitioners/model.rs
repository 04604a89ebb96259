//! Practitioner vocabulary shared by registration, profiles and search.

use serde::{Deserialize, Serialize};

/// A practitioner's specialty (`specialty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "specialty", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Specialty {
    /// Clinical psychologist.
    PsychologueClinicien,
    /// Work psychologist.
    PsychologueTravail,
    /// Psychiatrist.
    Psychiatre,
    /// Psychotherapist.
    Psychotherapeute,
    /// Neuropsychologist.
    Neuropsychologue,
    /// Mental coach.
    CoachMental,
}

/// A consultation format (`consultation_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema)]
#[sqlx(type_name = "consultation_format", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Format {
    /// Jitsi video.
    Video,
    /// WebRTC audio call.
    Audio,
    /// At the practitioner's office.
    InPerson,
}

/// Whether `zone` is an IANA time zone name.
pub fn is_time_zone(zone: &str) -> bool {
    zone.parse::<chrono_tz::Tz>().is_ok()
}
