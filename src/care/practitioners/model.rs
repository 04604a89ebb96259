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
    /// Professional registration number (RPPS, ADELI…), checked at validation.
    pub license_number: Option<String>,
    /// Credential changes waiting for a platform admin's review; `null` when none.
    pub pending_review: Option<PendingReview>,
    /// When a platform admin last refused the application or a review (`null` once the
    /// practitioner changes their profile or adds a document: they are back in the queue).
    pub rejected_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The reason given with the last refusal (also mailed to the practitioner).
    pub rejection_reason: Option<String>,
    /// Where IN_PERSON sessions happen. Shown to the practitioner, to platform admins and, in the
    /// consultation, to an employee with an IN_PERSON booking; never in the public profile.
    pub office_address: Option<String>,
    /// How to get in (floor, door code…), shown with the address.
    pub office_access_notes: Option<String>,
    /// In the review queue (`GET /api/practitioners/pending`): their documents, all and verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents: Option<DocumentCounts>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// How many vetting documents a practitioner uploaded, and how many were verified.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentCounts {
    pub total: i64,
    pub verified: i64,
}

/// The kinds of vetting documents (multipart field `kind` of the upload; default `OTHER`).
pub const DOCUMENT_KINDS: &[&str] = &["DIPLOMA", "REGISTRATION", "IDENTITY", "INSURANCE", "OTHER"];

/// One vetting document.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VettingDocument {
    pub id: uuid::Uuid,
    /// `DIPLOMA`, `REGISTRATION`, `IDENTITY`, `INSURANCE` or `OTHER`.
    pub kind: String,
    /// The name it was uploaded with.
    pub file_name: Option<String>,
    /// Bytes.
    pub size: i64,
    pub content_type: String,
    /// Where to read it (`GET /api/files/{id}`).
    pub url: String,
    pub uploaded_at: chrono::DateTime<chrono::Utc>,
    pub verified_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The platform admin who verified it.
    pub verified_by: Option<uuid::Uuid>,
}

/// What a validated practitioner asked to change among the fields validation vouched for.
/// The public profile keeps the validated values until a platform admin validates again.
/// Each field is present only when a change to it is waiting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingReview {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specialty: Option<Specialty>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diplomas: Option<Vec<String>>,
    /// `Some(None)`: the number is to be removed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::infra::extract::patch"
    )]
    #[schema(value_type = Option<String>)]
    pub license_number: Option<Option<String>>,
    /// When the latest change was asked for.
    pub requested_at: chrono::DateTime<chrono::Utc>,
}

impl PendingReview {
    /// Whether no change is waiting.
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.specialty.is_none()
            && self.diplomas.is_none()
            && self.license_number.is_none()
    }

    /// The names of the fields waiting for review (for audit rows: names, never values).
    pub fn fields(&self) -> Vec<&'static str> {
        [
            ("title", self.title.is_some()),
            ("specialty", self.specialty.is_some()),
            ("diplomas", self.diplomas.is_some()),
            ("licenseNumber", self.license_number.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, waiting)| waiting.then_some(name))
        .collect()
    }
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
            license_number: r.license_number,
            pending_review: r.pending_review.map(|j| j.0),
            rejected_at: r.rejected_at,
            rejection_reason: r.rejection_reason,
            office_address: r.office_address,
            office_access_notes: r.office_access_notes,
            documents: None,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }};
}
pub(crate) use account_from_record;
