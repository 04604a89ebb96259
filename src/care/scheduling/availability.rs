//! A practitioner's availability: weekly ranges and exceptions, in their own time zone
//! (`/api/availability`, alias `/api/practitioners/me/availability`).

use axum::Json;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::infra::auth::Auth;
use crate::infra::auth::Practitioner;
use crate::infra::error::{ApiError, ApiResult, OrNotFound, Validator};
use crate::infra::extract::{ApiJson, ApiQuery, Path};
use crate::infra::pagination::{Page, PageQuery};

/// A weekly range or an exception.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Availability {
    pub id: Uuid,
    pub practitioner_id: Uuid,
    /// 0 = Sunday … 6 = Saturday (weekly ranges).
    pub day_of_week: Option<i16>,
    /// Local time `HH:MM`.
    #[serde(serialize_with = "hhmm")]
    #[schema(value_type = Option<String>, example = "09:00")]
    pub start_time: Option<NaiveTime>,
    #[serde(serialize_with = "hhmm")]
    #[schema(value_type = Option<String>, example = "17:00")]
    pub end_time: Option<NaiveTime>,
    /// Minutes per slot (10–240).
    pub slot_duration: i32,
    pub is_exception: bool,
    /// The local day an exception removes.
    pub exception_date: Option<NaiveDate>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn hhmm<S: serde::Serializer>(time: &Option<NaiveTime>, serializer: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(t) => serializer.serialize_str(&t.format("%H:%M").to_string()),
        None => serializer.serialize_none(),
    }
}

/// A new range or exception (also the body of an update).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AvailabilityInput {
    pub day_of_week: Option<i16>,
    /// `HH:MM`, local to the practitioner's time zone.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub slot_duration: Option<i32>,
    #[serde(default)]
    pub is_exception: bool,
    /// `YYYY-MM-DD`.
    pub exception_date: Option<NaiveDate>,
    pub is_active: Option<bool>,
}

fn parse_time(v: &mut Validator, field: &str, value: Option<&str>) -> Option<NaiveTime> {
    let value = value?;
    let parsed = NaiveTime::parse_from_str(value, "%H:%M").ok();
    v.check(parsed.is_some(), field, "must be a time HH:MM, e.g. 09:00");
    parsed
}

struct Checked {
    day_of_week: Option<i16>,
    start: Option<NaiveTime>,
    end: Option<NaiveTime>,
    slot: i32,
    is_exception: bool,
    date: Option<NaiveDate>,
    is_active: bool,
}

fn check(input: &AvailabilityInput) -> ApiResult<Checked> {
    let mut v = Validator::new();
    let start = parse_time(&mut v, "startTime", input.start_time.as_deref());
    let end = parse_time(&mut v, "endTime", input.end_time.as_deref());
    let slot = input.slot_duration.unwrap_or(50);
    v.check(
        (10..=240).contains(&slot),
        "slotDuration",
        "must be between 10 and 240 minutes",
    );
    if input.is_exception {
        v.check(
            input.exception_date.is_some(),
            "exceptionDate",
            "is required for an exception",
        );
        v.check(
            start.is_some() == end.is_some(),
            "endTime",
            "give both startTime and endTime, or neither for the whole day",
        );
    } else {
        v.check(
            input.day_of_week.is_some_and(|d| (0..=6).contains(&d)),
            "dayOfWeek",
            "must be 0 (Sunday) to 6 (Saturday)",
        );
        v.check(
            input.exception_date.is_none(),
            "exceptionDate",
            "only for exceptions (isException: true)",
        );
        v.check(start.is_some(), "startTime", "is required");
        v.check(end.is_some(), "endTime", "is required");
    }
    if let (Some(s), Some(e)) = (start, end) {
        v.check(s < e, "endTime", "must be after startTime");
        if !input.is_exception {
            v.check(
                (e - s).num_minutes() >= i64::from(slot),
                "slotDuration",
                "is longer than the range",
            );
        }
    }
    v.finish()?;
    Ok(Checked {
        day_of_week: if input.is_exception {
            None
        } else {
            input.day_of_week
        },
        start,
        end,
        slot,
        is_exception: input.is_exception,
        date: input.exception_date,
        is_active: input.is_active.unwrap_or(true),
    })
}

/// 422 when a weekly range overlaps another active one of the same day.
async fn check_overlap(
    auth: &mut Auth<Practitioner>,
    c: &Checked,
    except: Option<Uuid>,
) -> ApiResult<()> {
    if c.is_exception || !c.is_active {
        return Ok(());
    }
    let clash: Option<(NaiveTime, NaiveTime)> = sqlx::query!(
        r#"SELECT start_time AS "start_time!", end_time AS "end_time!"
           FROM availabilities
           WHERE practitioner_id = app_practitioner_id() AND NOT is_exception AND is_active
             AND day_of_week = $1 AND start_time < $3 AND $2 < end_time
             AND ($4::uuid IS NULL OR id <> $4)
           LIMIT 1"#,
        c.day_of_week,
        c.start,
        c.end,
        except
    )
    .map(|r| (r.start_time, r.end_time))
    .fetch_optional(&mut *auth.tx)
    .await?;
    match clash {
        Some((s, e)) => Err(ApiError::invalid_field(
            "startTime",
            format!(
                "overlaps the range {}–{} of that day",
                s.format("%H:%M"),
                e.format("%H:%M")
            ),
        )),
        None => Ok(()),
    }
}

/// The practitioner's ranges and exceptions.
#[utoipa::path(get, path = "/availability", tag = "availability", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<Availability>)))]
pub async fn list_availability(
    mut auth: Auth<Practitioner>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Availability>>> {
    let paging = page.paging()?;
    let items: Vec<Availability> = sqlx::query_as!(
        Availability,
        r#"SELECT id, practitioner_id, day_of_week, start_time, end_time, slot_duration,
             is_exception, exception_date, is_active, created_at, updated_at
           FROM availabilities
           WHERE practitioner_id = app_practitioner_id()
           ORDER BY is_exception, day_of_week, exception_date, start_time, id
           LIMIT $1 OFFSET $2"#,
        paging.limit(),
        paging.offset()
    )
    .fetch_all(&mut *auth.tx)
    .await?;
    let total: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "value!"
           FROM availabilities
           WHERE practitioner_id = app_practitioner_id()"#
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    Ok(Json(Page::new(items, total, paging)))
}

/// Add a weekly range, or an exception.
#[utoipa::path(post, path = "/availability", tag = "availability", security(("bearer" = [])), request_body = AvailabilityInput,
    responses((status = 201, body = Availability), (status = 422, body = crate::infra::error::Problem)))]
pub async fn create_availability(
    mut auth: Auth<Practitioner>,
    ApiJson(input): ApiJson<AvailabilityInput>,
) -> ApiResult<(StatusCode, Json<Availability>)> {
    let c = check(&input)?;
    check_overlap(&mut auth, &c, None).await?;
    let created: Availability = sqlx::query_as!(
        Availability,
        r#"INSERT INTO availabilities (practitioner_id, day_of_week, start_time, end_time, slot_duration, is_exception, exception_date, is_active)
           VALUES (app_practitioner_id(), $1, $2, $3, $4, $5, $6, $7)
           RETURNING id, practitioner_id, day_of_week, start_time, end_time, slot_duration,
             is_exception, exception_date, is_active, created_at, updated_at"#,
        c.day_of_week,
        c.start,
        c.end,
        c.slot,
        c.is_exception,
        c.date,
        c.is_active
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Replace a range or exception.
#[utoipa::path(put, path = "/availability/{id}", tag = "availability", security(("bearer" = [])), request_body = AvailabilityInput,
    responses((status = 200, body = Availability), (status = 404, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn update_availability(
    mut auth: Auth<Practitioner>,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<AvailabilityInput>,
) -> ApiResult<Json<Availability>> {
    let c = check(&input)?;
    check_overlap(&mut auth, &c, Some(id)).await?;
    let updated: Availability = sqlx::query_as!(
        Availability,
        r#"UPDATE availabilities SET day_of_week = $2, start_time = $3, end_time = $4,
             slot_duration = $5, is_exception = $6, exception_date = $7, is_active = $8
           WHERE id = $1 AND practitioner_id = app_practitioner_id()
           RETURNING id, practitioner_id, day_of_week, start_time, end_time, slot_duration,
             is_exception, exception_date, is_active, created_at, updated_at"#,
        id,
        c.day_of_week,
        c.start,
        c.end,
        c.slot,
        c.is_exception,
        c.date,
        c.is_active
    )
    .fetch_optional(&mut *auth.tx)
    .await?
    .or_not_found("availability.not_found")?;
    auth.commit().await?;
    Ok(Json(updated))
}

/// Delete a range or exception.
#[utoipa::path(delete, path = "/availability/{id}", tag = "availability", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = crate::infra::error::Problem)))]
pub async fn delete_availability(
    mut auth: Auth<Practitioner>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let done = sqlx::query!(
        r#"DELETE FROM availabilities WHERE id = $1 AND practitioner_id = app_practitioner_id()"#,
        id
    )
    .execute(&mut *auth.tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("availability.not_found"));
    }
    auth.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
