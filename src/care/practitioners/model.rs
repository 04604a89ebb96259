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

impl Format {
    /// The API and database spelling (`VIDEO`, `AUDIO`, `IN_PERSON`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Video => "VIDEO",
            Self::Audio => "AUDIO",
            Self::InPerson => "IN_PERSON",
        }
    }
}

/// Whether `zone` is an IANA time zone name.
pub fn is_time_zone(zone: &str) -> bool {
    zone.parse::<chrono_tz::Tz>().is_ok()
}

/// A practitioner as employees see them in the directory.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub id: uuid::Uuid,
    pub first_name: String,
    pub last_name: String,
    pub title: String,
    pub specialty: Specialty,
    pub languages: Vec<String>,
    pub bio: String,
    pub experience: Option<i32>,
    pub diplomas: Vec<String>,
    pub avatar_url: Option<String>,
    pub cover_url: Option<String>,
    pub offers_video: bool,
    pub offers_phone: bool,
    pub offers_in_person: bool,
    /// IANA time zone of their availability.
    pub time_zone: String,
    pub minimum_notice_minutes: i32,
    pub booking_horizon_days: Option<i32>,
}

/// A practitioner as they themselves and platform admins see them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub profile: Profile,
    pub user_id: uuid::Uuid,
    pub email: String,
    pub is_validated: bool,
    pub validated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub documents_verified: bool,
    pub is_active: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Columns of `Profile` over `practitioners p`.
pub const PROFILE_COLUMNS: &str = "p.id, p.first_name, p.last_name, p.title, p.specialty, p.languages, p.bio, \
    p.experience, p.diplomas, p.avatar_url, p.cover_url, p.offers_video, p.offers_phone, p.offers_in_person, \
    p.time_zone, p.minimum_notice_minutes, p.booking_horizon_days";

/// `SELECT` of `Account` over `practitioners p JOIN users u`.
pub fn account_select() -> String {
    format!(
        "SELECT {PROFILE_COLUMNS}, p.user_id, u.email, p.is_validated, p.validated_at, p.documents_verified, \
         p.is_active, p.created_at, p.updated_at FROM practitioners p JOIN users u ON u.id = p.user_id"
    )
}
