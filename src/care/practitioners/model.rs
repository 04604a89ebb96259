//! Practitioner vocabulary shared by registration, profiles and search.

use serde::{Deserialize, Serialize};

/// A practitioner's specialty (`specialty`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(flatten)]
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

/// Builds an [`Account`] from a query record holding its columns (the profile's flattened):
/// `query_as!` cannot fill a nested struct.
macro_rules! account_from_record {
    ($r:expr) => {{
        let r = $r;
        $crate::care::practitioners::model::Account {
            profile: $crate::care::practitioners::model::Profile {
                id: r.id,
                first_name: r.first_name,
                last_name: r.last_name,
                title: r.title,
                specialty: r.specialty,
                languages: r.languages,
                bio: r.bio,
                experience: r.experience,
                diplomas: r.diplomas,
                avatar_url: r.avatar_url,
                cover_url: r.cover_url,
                offers_video: r.offers_video,
                offers_phone: r.offers_phone,
                offers_in_person: r.offers_in_person,
                time_zone: r.time_zone,
                minimum_notice_minutes: r.minimum_notice_minutes,
                booking_horizon_days: r.booking_horizon_days,
            },
            user_id: r.user_id,
            email: r.email,
            is_validated: r.is_validated,
            validated_at: r.validated_at,
            documents_verified: r.documents_verified,
            is_active: r.is_active,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }};
}
pub(crate) use account_from_record;
