//! Consultations as stored and as sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::care::practitioners::model::Format;

/// Where a consultation stands (`consultation_status`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(type_name = "consultation_status", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(as = ConsultationStatus)]
pub enum Status {
    Scheduled,
    Confirmed,
    InProgress,
    Completed,
    Cancelled,
    NoShow,
}

/// What happened to a consultation (`consultation_event_type`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, utoipa::ToSchema,
)]
#[sqlx(
    type_name = "consultation_event_type",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    Scheduled,
    Confirmed,
    Cancelled,
    RoomJoined,
    RoomLeft,
    Started,
    Ended,
    NoShow,
    RoomCreated,
    RoomDestroyed,
    CallStarted,
    CallEnded,
    Rescheduled,
}

/// The other party, as a participant sees them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    /// Practitioners only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A consultation, for its two participants.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Consultation {
    pub id: Uuid,
    pub employee_id: Uuid,
    pub practitioner_id: Uuid,
    pub scheduled_at: DateTime<Utc>,
    /// Planned minutes.
    pub duration: i32,
    pub format: Format,
    pub status: Status,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Whole minutes between start and end, rounded to the nearest.
    pub actual_duration: Option<i32>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<Uuid>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub practitioner: Party,
    pub employee: Party,
    /// Sessions of the company allowance this consultation used by being cancelled or
    /// rescheduled by the employee inside the company's `lateCancellationHours`.
    pub late_changes: i16,
    /// IN_PERSON and not cancelled: where it happens (the practitioner's office). Never in a
    /// public profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_address: Option<String>,
    /// IN_PERSON and not cancelled: how to get in (floor, code…), when the practitioner gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office_access_notes: Option<String>,
}

/// A stored row with the parties' names.
#[derive(Debug, sqlx::FromRow)]
pub struct Row {
    pub id: Uuid,
    pub employee_id: Uuid,
    pub practitioner_id: Uuid,
    pub scheduled_at: DateTime<Utc>,
    pub duration: i32,
    pub format: Format,
    pub status: Status,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub actual_duration: Option<i32>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<Uuid>,
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub room_name: Option<String>,
    pub late_changes: i16,
    pub p_office_address: Option<String>,
    pub p_office_access_notes: Option<String>,
    pub p_first_name: String,
    pub p_last_name: String,
    pub p_title: String,
    pub p_user_id: Uuid,
    pub e_first_name: String,
    pub e_last_name: String,
    pub e_user_id: Uuid,
}

/// `SELECT` of `Row`; the caller appends `WHERE …`.
pub const SELECT: &str = "SELECT c.id, c.employee_id, c.practitioner_id, c.scheduled_at, c.duration, c.format, c.status, \
    c.started_at, c.ended_at, c.actual_duration, c.cancelled_at, c.cancelled_by, c.cancel_reason, c.created_at, \
    c.updated_at, c.room_name, c.late_changes, p.office_address AS p_office_address, \
    p.office_access_notes AS p_office_access_notes, p.first_name AS p_first_name, p.last_name AS p_last_name, p.title AS p_title, \
    p.user_id AS p_user_id, e.first_name AS e_first_name, e.last_name AS e_last_name, e.user_id AS e_user_id \
    FROM consultations c JOIN practitioners p ON p.id = c.practitioner_id JOIN employees e ON e.id = c.employee_id";

impl Row {
    /// The participant's view.
    pub fn view(&self) -> Consultation {
        let office = self.format == Format::InPerson && self.status != Status::Cancelled;
        Consultation {
            id: self.id,
            employee_id: self.employee_id,
            practitioner_id: self.practitioner_id,
            scheduled_at: self.scheduled_at,
            duration: self.duration,
            format: self.format,
            status: self.status,
            started_at: self.started_at,
            ended_at: self.ended_at,
            actual_duration: self.actual_duration,
            cancelled_at: self.cancelled_at,
            cancelled_by: self.cancelled_by,
            cancel_reason: self.cancel_reason.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            practitioner: Party {
                id: self.practitioner_id,
                first_name: self.p_first_name.clone(),
                last_name: self.p_last_name.clone(),
                title: Some(self.p_title.clone()),
            },
            employee: Party {
                id: self.employee_id,
                first_name: self.e_first_name.clone(),
                last_name: self.e_last_name.clone(),
                title: None,
            },
            late_changes: self.late_changes,
            office_address: self.p_office_address.clone().filter(|_| office),
            office_access_notes: self.p_office_access_notes.clone().filter(|_| office),
        }
    }

    /// Planned end.
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.scheduled_at + chrono::Duration::minutes(i64::from(self.duration))
    }
}

/// Whole minutes from `start` to `end`, rounded to the nearest (30 s rounds up).
pub fn whole_minutes(start: DateTime<Utc>, end: DateTime<Utc>) -> i32 {
    let seconds = (end - start).num_seconds().max(0);
    i32::try_from((seconds + 30) / 60).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::whole_minutes;

    #[test]
    fn minutes_round_to_nearest() {
        let t0: chrono::DateTime<chrono::Utc> = "2026-01-01T10:00:00Z".parse().expect("t");
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        assert_eq!(whole_minutes(t0, at(29)), 0);
        assert_eq!(whole_minutes(t0, at(30)), 1);
        assert_eq!(whole_minutes(t0, at(50 * 60 + 29)), 50);
        assert_eq!(whole_minutes(t0, at(50 * 60 + 30)), 51);
        assert_eq!(whole_minutes(at(10), t0), 0);
    }
}
