//! A practitioner's schedule as the caller may see it (bookability, weekly ranges, exceptions, live
//! consultations), read in one statement, and the free-slots routes served from it.

use axum::Json;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::slots::{Constraints, Exception, Slot, Weekly, free_slots};
use crate::infra::auth::Auth;
use crate::infra::auth::Participant;
use crate::infra::db::Tx;
use crate::infra::error::{ApiError, ApiResult, OrNotFound, Validator};
use crate::infra::extract::{ApiQuery, Path};

/// Longest window asked at once, in days.
pub const MAX_DAYS: i64 = 62;

/// A window of local dates (default: today and the next 13 days).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct Window {
    /// First local date, `YYYY-MM-DD`.
    pub from: Option<NaiveDate>,
    /// Last local date (inclusive), at most 62 days after `from`.
    pub to: Option<NaiveDate>,
}

/// The same, naming the practitioner.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SlotsQuery {
    pub practitioner_id: Uuid,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Free slots, in UTC, and the zone they were computed in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Slots {
    pub time_zone: String,
    pub slots: Vec<Slot>,
}

/// One row: the practitioner, then their active availability rows and their live consultations
/// in the window, column by column (`NULL` when there are none).
#[derive(Debug, sqlx::FromRow)]
struct ScheduleRow {
    time_zone: String,
    minimum_notice_minutes: i32,
    booking_horizon_days: Option<i32>,
    is_validated: bool,
    is_active: bool,
    offers_video: bool,
    offers_phone: bool,
    offers_in_person: bool,
    is_exception: Option<Vec<bool>>,
    day_of_week: Option<Vec<Option<i16>>>,
    start_time: Option<Vec<Option<NaiveTime>>>,
    end_time: Option<Vec<Option<NaiveTime>>>,
    slot_duration: Option<Vec<i32>>,
    exception_date: Option<Vec<Option<NaiveDate>>>,
    busy_starts: Option<Vec<DateTime<Utc>>>,
    busy_ends: Option<Vec<DateTime<Utc>>>,
}

/// What booking and free slots need to know about a practitioner.
#[derive(Debug)]
pub struct Schedule {
    pub time_zone: String,
    pub zone: Tz,
    pub is_bookable: bool,
    pub offers_video: bool,
    pub offers_phone: bool,
    pub offers_in_person: bool,
    minimum_notice_minutes: i32,
    booking_horizon_days: Option<i32>,
    weekly: Vec<Weekly>,
    exceptions: Vec<Exception>,
    busy: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

/// The practitioner as the caller may see them (or 404), with the live consultations that meet
/// local dates `from..=to` in any time zone (UTC midnights, widened by the ±14 h zones span).
pub async fn load(tx: &mut Tx, id: Uuid, from: NaiveDate, to: NaiveDate) -> ApiResult<Schedule> {
    // `bench/pgbench/slots.sql` times this statement.
    let row: ScheduleRow = sqlx::query_as!(
        ScheduleRow,
        r#"SELECT p.time_zone, p.minimum_notice_minutes, p.booking_horizon_days, p.is_validated,
             p.is_active, p.offers_video, p.offers_phone, p.offers_in_person, a.is_exception,
             a.day_of_week AS "day_of_week: Vec<Option<i16>>",
             a.start_time AS "start_time: Vec<Option<NaiveTime>>",
             a.end_time AS "end_time: Vec<Option<NaiveTime>>", a.slot_duration,
             a.exception_date AS "exception_date: Vec<Option<NaiveDate>>", b.busy_starts,
             b.busy_ends
           FROM practitioners p
             CROSS
           JOIN LATERAL (SELECT array_agg(is_exception) AS is_exception, array_agg(day_of_week) AS day_of_week, array_agg(start_time) AS start_time, array_agg(end_time) AS end_time, array_agg(slot_duration) AS slot_duration, array_agg(exception_date) AS exception_date FROM availabilities WHERE practitioner_id = p.id AND is_active) a
             CROSS
           JOIN LATERAL (SELECT array_agg(starts_at) AS busy_starts, array_agg(ends_at) AS busy_ends FROM practitioner_busy(p.id, $2, $3)) b
           WHERE p.id = $1"#,
        id,
        from.and_time(NaiveTime::MIN).and_utc() - Duration::days(2),
        to.and_time(NaiveTime::MIN).and_utc() + Duration::days(3)
    )
    .fetch_optional(&mut **tx)
        .await?
        .or_not_found("practitioner.not_found")?;
    row.try_into()
}

impl TryFrom<ScheduleRow> for Schedule {
    type Error = ApiError;

    fn try_from(row: ScheduleRow) -> ApiResult<Self> {
        let zone: Tz = row
            .time_zone
            .parse()
            .map_err(|_| ApiError::internal("stored time zone is invalid"))?;
        let mut weekly = Vec::new();
        let mut exceptions = Vec::new();
        let availability = row
            .is_exception
            .unwrap_or_default()
            .into_iter()
            .zip(row.day_of_week.unwrap_or_default())
            .zip(row.start_time.unwrap_or_default())
            .zip(row.end_time.unwrap_or_default())
            .zip(row.slot_duration.unwrap_or_default())
            .zip(row.exception_date.unwrap_or_default());
        for (((((is_exception, day), start), end), slot), date) in availability {
            match (is_exception, day, start, end, date) {
                (false, Some(day), Some(start), Some(end), _) => weekly.push(Weekly {
                    day_of_week: u32::try_from(day).unwrap_or(u32::MAX),
                    start,
                    end,
                    slot_minutes: i64::from(slot),
                }),
                (true, _, start, end, Some(date)) => exceptions.push(Exception {
                    date,
                    range: start.zip(end),
                }),
                _ => {}
            }
        }
        let busy = row
            .busy_starts
            .unwrap_or_default()
            .into_iter()
            .zip(row.busy_ends.unwrap_or_default())
            .collect();
        Ok(Self {
            time_zone: row.time_zone,
            zone,
            is_bookable: row.is_validated && row.is_active,
            offers_video: row.offers_video,
            offers_phone: row.offers_phone,
            offers_in_person: row.offers_in_person,
            minimum_notice_minutes: row.minimum_notice_minutes,
            booking_horizon_days: row.booking_horizon_days,
            weekly,
            exceptions,
            busy,
        })
    }
}

impl Schedule {
    /// Free slots for local dates `from..=to`, from now on.
    pub fn free(&self, from: NaiveDate, to: NaiveDate) -> Vec<Slot> {
        let now = Utc::now();
        let constraints = Constraints {
            not_before: now + Duration::minutes(i64::from(self.minimum_notice_minutes)),
            not_after: self
                .booking_horizon_days
                .map(|days| now + Duration::days(i64::from(days))),
            busy: self.busy.clone(),
        };
        free_slots(
            self.zone,
            &self.weekly,
            &self.exceptions,
            from,
            to,
            &constraints,
        )
    }
}

async fn serve(
    mut auth: Auth<Participant>,
    id: Uuid,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> ApiResult<Json<Slots>> {
    // Free slots are for employees (to book) and for the practitioner themself: anyone else
    // could watch a slot vanish and learn that it was just booked. Another practitioner's are
    // not found (another person's resource), other roles are refused by the extractor (403).
    if auth.principal.practitioner_id.is_some_and(|own| own != id) {
        return Err(ApiError::not_found("practitioner.not_found"));
    }
    let check = |from: NaiveDate, to: NaiveDate| {
        let mut v = Validator::new();
        v.check(to >= from, "to", "must not be before from");
        v.check(
            (to - from).num_days() < MAX_DAYS,
            "to",
            format!("the window is at most {MAX_DAYS} days"),
        );
        v.finish()
    };
    // The defaults depend on the practitioner's zone, known only after the read: read around
    // today in any zone, and bound the window so a bad `to` cannot make the read large.
    let utc_today = Utc::now().date_naive();
    let earliest = from.unwrap_or(utc_today - Duration::days(1));
    let latest = to
        .unwrap_or(from.unwrap_or(utc_today + Duration::days(1)) + Duration::days(13))
        .min(earliest + Duration::days(MAX_DAYS + 2));
    let schedule = load(&mut auth.tx, id, earliest, latest.max(earliest)).await?;
    // Not bookable: no slots (the practitioner themselves may still look).
    if !schedule.is_bookable && auth.principal.practitioner_id != Some(id) {
        return Err(ApiError::not_found("practitioner.not_found"));
    }
    let today = Utc::now().with_timezone(&schedule.zone).date_naive();
    let from = from.unwrap_or(today);
    let to = to.unwrap_or(from + Duration::days(13));
    check(from, to)?;
    let slots = schedule.free(from, to);
    auth.commit().await?;
    Ok(Json(Slots {
        time_zone: schedule.time_zone,
        slots,
    }))
}

/// A practitioner's free slots between two local dates (employees, and the practitioner for their own).
#[utoipa::path(get, path = "/practitioners/{id}/availability", tag = "availability", security(("bearer" = [])),
    params(Window), responses((status = 200, body = Slots), (status = 403, body = crate::infra::error::Problem),
                              (status = 404, body = crate::infra::error::Problem),
                              (status = 422, body = crate::infra::error::Problem)))]
pub async fn list_practitioner_free_slots(
    auth: Auth<Participant>,
    Path(id): Path<Uuid>,
    ApiQuery(w): ApiQuery<Window>,
) -> ApiResult<Json<Slots>> {
    serve(auth, id, w.from, w.to).await
}

/// The same, with the practitioner in the query string.
#[utoipa::path(get, path = "/availability/slots", tag = "availability", security(("bearer" = [])),
    params(SlotsQuery), responses((status = 200, body = Slots), (status = 403, body = crate::infra::error::Problem),
                                  (status = 404, body = crate::infra::error::Problem),
                                  (status = 422, body = crate::infra::error::Problem)))]
pub async fn list_free_slots(
    auth: Auth<Participant>,
    ApiQuery(q): ApiQuery<SlotsQuery>,
) -> ApiResult<Json<Slots>> {
    serve(auth, q.practitioner_id, q.from, q.to).await
}
