//! Booking and the consultation lifecycle. Every move locks the row, checks the state machine,
//! and writes its ConsultationEvent and notification in the same transaction.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::model::{Consultation, EventType, Row, SELECT, Status, whole_minutes};
use super::schedule;
use crate::care::practitioners::model::Format;
use crate::infra::auth::Auth;
use crate::infra::auth::{AnyRole, Employee, Participant, Practitioner, RoleSet};
use crate::infra::db::Tx;
use crate::infra::error::{ApiError, ApiResult, OrNotFound, Validator};
use crate::infra::extract::{ApiJson, ApiQuery, Path};
use crate::infra::identity::Role;
use crate::infra::pagination::{Page, PageQuery};
use crate::infra::state::AppState;

/// A booking.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BookRequest {
    pub practitioner_id: Uuid,
    /// The start of a free slot (see the practitioner's availability).
    pub scheduled_at: DateTime<Utc>,
    pub format: Format,
}

/// A cancellation.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelRequest {
    /// Why (at most 500 characters; seen by the two participants only).
    pub reason: Option<String>,
}

/// A new time for a consultation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RescheduleRequest {
    /// The start of a free slot of the same practitioner.
    pub scheduled_at: DateTime<Utc>,
}

/// List filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub status: Option<Status>,
}

/// The room name of a consultation: opaque, lowercase, stable (HMAC of its id).
pub fn room_name(secret: &[u8], id: Uuid) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"huntzen-room:");
    mac.update(id.as_bytes());
    format!("hz{}", &hex::encode(mac.finalize().into_bytes())[..32])
}

/// A consultation the caller takes part in, or 404 (`lock`: for update).
pub async fn load(tx: &mut Tx, id: Uuid, lock: bool) -> ApiResult<Row> {
    let row = if lock {
        sqlx::query_as!(
            Row,
            r#"SELECT c.id, c.employee_id, c.practitioner_id, c.scheduled_at, c.duration, c.format,
                 c.status, c.started_at, c.ended_at, c.actual_duration, c.cancelled_at,
                 c.cancelled_by, c.cancel_reason, c.created_at, c.updated_at, c.room_name,
                 c.late_changes, p.office_address AS p_office_address,
                 p.office_access_notes AS p_office_access_notes, p.first_name AS p_first_name, p.last_name AS p_last_name, p.title AS p_title,
                 p.user_id AS p_user_id, e.first_name AS e_first_name, e.last_name AS e_last_name,
                 e.user_id AS e_user_id
               FROM consultations c
               JOIN practitioners p ON p.id = c.practitioner_id
               JOIN employees e ON e.id = c.employee_id
               WHERE c.id = $1
               FOR UPDATE OF c"#,
            id
        )
        .fetch_optional(&mut **tx)
        .await?
    } else {
        sqlx::query_as!(
            Row,
            r#"SELECT c.id, c.employee_id, c.practitioner_id, c.scheduled_at, c.duration, c.format,
                 c.status, c.started_at, c.ended_at, c.actual_duration, c.cancelled_at,
                 c.cancelled_by, c.cancel_reason, c.created_at, c.updated_at, c.room_name,
                 c.late_changes, p.office_address AS p_office_address,
                 p.office_access_notes AS p_office_access_notes, p.first_name AS p_first_name, p.last_name AS p_last_name, p.title AS p_title,
                 p.user_id AS p_user_id, e.first_name AS e_first_name, e.last_name AS e_last_name,
                 e.user_id AS e_user_id
               FROM consultations c
               JOIN practitioners p ON p.id = c.practitioner_id
               JOIN employees e ON e.id = c.employee_id
               WHERE c.id = $1"#,
            id
        )
        .fetch_optional(&mut **tx)
        .await?
    };
    row.or_not_found("consultation.not_found")
}

/// Records an event by the caller.
pub async fn record_event(
    tx: &mut Tx,
    id: Uuid,
    event: EventType,
    actor: (Uuid, Role),
    metadata: Option<serde_json::Value>,
) -> ApiResult<()> {
    sqlx::query!(
        r#"INSERT INTO consultation_events (consultation_id, event_type, actor_id, actor_role, metadata)
           VALUES ($1, $2, $3, $4, $5)"#,
        id,
        event,
        actor.0,
        actor.1,
        metadata
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn notify_other(
    tx: &mut Tx,
    id: Uuid,
    kind: &str,
    title: &str,
    message: String,
) -> ApiResult<()> {
    sqlx::query!(
        r#"SELECT FROM notify_other_participant($1, $2::text::notification_type, $3, $4, $5)"#,
        id,
        kind,
        title,
        message,
        format!("/consultations/{id}")
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn at(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Book a free slot.
#[utoipa::path(post, path = "/consultations", tag = "consultations", security(("bearer" = [])), request_body = BookRequest,
    responses((status = 201, body = Consultation), (status = 404, body = crate::infra::error::Problem),
              (status = 409, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn book_consultation(
    State(state): State<AppState>,
    mut auth: Auth<Employee>,
    ApiJson(body): ApiJson<BookRequest>,
) -> ApiResult<(StatusCode, Json<Consultation>)> {
    let employee_id = auth
        .principal
        .employee_id
        .or_not_found("employee.not_found")?;
    // The slot's local day is within a day of its UTC date in any zone.
    let utc_day = body.scheduled_at.date_naive();
    let p = schedule::load(
        &mut auth.tx,
        body.practitioner_id,
        utc_day - Duration::days(2),
        utc_day + Duration::days(2),
    )
    .await?;
    if !p.is_bookable {
        return Err(ApiError::not_found("practitioner.not_found"));
    }
    let offered = match body.format {
        Format::Video => p.offers_video,
        Format::Audio => p.offers_phone,
        Format::InPerson => p.offers_in_person,
    };
    let mut v = Validator::new();
    v.check(
        offered,
        "format",
        "this practitioner does not offer this format",
    );
    v.finish()?;
    let day = body.scheduled_at.with_timezone(&p.zone).date_naive();
    let slots = p.free(day - Duration::days(1), day + Duration::days(1));
    let slot = slots
        .iter()
        .find(|s| s.starts_at == body.scheduled_at)
        .ok_or_else(slot_unavailable)?;
    let duration = i32::try_from((slot.ends_at - slot.starts_at).num_minutes()).unwrap_or(50);

    // One booking at a time per employee, until this transaction ends: the counts below then see
    // every booking committed before, so the cap and the allowance hold under parallel requests.
    booking_lock(&mut auth, employee_id).await?;
    // The employee's upcoming bookings, the company's yearly allowance and its use: one round trip.
    let year = body.scheduled_at.year();
    let (live, allowance, used): (i64, Option<i32>, i64) = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM consultations WHERE employee_id = $1 AND status IN ('SCHEDULED', 'CONFIRMED') AND scheduled_at > now()) AS "col0!",
             a.allowance AS "allowance?",
             CASE WHEN a.allowance IS NULL THEN 0 ELSE allowance_used($1, $2) END AS "col2!"
           FROM (SELECT (SELECT sessions_per_employee_per_year FROM companies WHERE id = app_company_id()) AS allowance) a"#,
        employee_id,
        year
    )
        .map(|r| (r.col0, r.allowance, r.col2))
    .fetch_one(&mut *auth.tx)
    .await?;
    if live >= state.settings.max_live_bookings {
        return Err(ApiError::conflict(
            "consultation.booking_limit",
            format!(
                "You already have {live} upcoming consultations; the limit is {}.",
                state.settings.max_live_bookings
            ),
        ));
    }
    if let Some(allowance) = allowance
        && used >= i64::from(allowance)
    {
        return Err(allowance_exhausted(allowance, year));
    }

    let id = Uuid::new_v4();
    let inserted = sqlx::query!(
        r#"INSERT INTO consultations (id, company_id, employee_id, practitioner_id, scheduled_at, duration, format, room_name)
           VALUES ($1, app_company_id(), $2, $3, $4, $5, $6, $7)"#,
        id,
        employee_id,
        body.practitioner_id,
        body.scheduled_at,
        duration,
        body.format,
        room_name(&state.jitsi_secret, id)
    )
    .execute(&mut *auth.tx)
    .await;
    inserted.map_err(slot_taken)?;
    let actor = (auth.principal.user_id, auth.principal.role);
    record_event(&mut auth.tx, id, EventType::Scheduled, actor, None).await?;
    notify_other(
        &mut auth.tx,
        id,
        "CONSULTATION_BOOKED",
        "Nouvelle réservation",
        format!("Consultation le {}", at(body.scheduled_at)),
    )
    .await?;
    crate::infra::jobs::schedule_reminders(&mut auth.tx, id, body.scheduled_at).await?;
    let row = load(&mut auth.tx, id, false).await?;
    auth.commit().await?;
    Ok((StatusCode::CREATED, Json(row.view())))
}

/// A write that took a slot, failed: the exclusion constraint (another booking or move took it
/// first) is 409 `consultation.slot_unavailable`. Two writes of the same slot at the same instant
/// each wait for the other's row; PostgreSQL breaks that cycle by aborting one (40P01): it lost
/// the race too.
fn slot_taken(error: sqlx::Error) -> ApiError {
    match error.as_database_error().and_then(|e| e.code()).as_deref() {
        Some("23P01" | "40P01") => slot_unavailable(),
        _ => ApiError::from(error),
    }
}

fn slot_unavailable() -> ApiError {
    ApiError::conflict(
        "consultation.slot_unavailable",
        "This time is not (or no longer) a free slot of the practitioner.",
    )
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::conflict("consultation.invalid_transition", detail)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    Confirm,
    Start,
    End,
    Cancel,
    NoShow,
}

async fn transition<R: RoleSet>(
    mut auth: Auth<R>,
    id: Uuid,
    step: Move,
    reason: Option<String>,
) -> ApiResult<Json<Consultation>> {
    let row = load(&mut auth.tx, id, true).await?;
    let now = Utc::now();
    use Status::*;
    let (event, target): (EventType, Status) = match (step, row.status) {
        (Move::Confirm, Scheduled) => (EventType::Confirmed, Confirmed),
        (Move::Start, Confirmed) => {
            if now < row.scheduled_at - Duration::minutes(15) {
                return Err(invalid(
                    "A consultation starts at the earliest 15 minutes before its time.",
                ));
            }
            (EventType::Started, InProgress)
        }
        (Move::End, InProgress) => (EventType::Ended, Completed),
        (Move::Cancel, Scheduled | Confirmed) => (EventType::Cancelled, Cancelled),
        (Move::NoShow, Scheduled | Confirmed) => {
            if now < row.scheduled_at {
                return Err(invalid(
                    "A no-show is recorded only after the consultation's time.",
                ));
            }
            (EventType::NoShow, NoShow)
        }
        (step, status) => {
            return Err(invalid(format!(
                "Cannot {step:?} a consultation that is {status:?}."
            )));
        }
    };
    let actual = row.started_at.map(|started| whole_minutes(started, now));
    let late = if step == Move::Cancel {
        late_change(&mut auth, &row, now).await?
    } else {
        0
    };
    // One statement for every move: each column changes only for the status that sets it.
    sqlx::query!(
        "UPDATE consultations SET status = $2::consultation_status,
             started_at = CASE WHEN $2::consultation_status = 'IN_PROGRESS' THEN $3 ELSE started_at END,
             ended_at = CASE WHEN $2::consultation_status = 'COMPLETED' THEN $3 ELSE ended_at END,
             actual_duration = CASE WHEN $2::consultation_status = 'COMPLETED' THEN $4 ELSE actual_duration END,
             cancelled_at = CASE WHEN $2::consultation_status = 'CANCELLED' THEN $3 ELSE cancelled_at END,
             cancelled_by = CASE WHEN $2::consultation_status = 'CANCELLED' THEN $5 ELSE cancelled_by END,
             cancel_reason = CASE WHEN $2::consultation_status = 'CANCELLED' THEN $6 ELSE cancel_reason END,
             late_changes = late_changes + $7
         WHERE id = $1",
        id,
        target,
        now,
        actual,
        auth.principal.user_id,
        reason.as_deref(),
        late
    )
    .execute(&mut *auth.tx)
    .await?;
    let actor = (auth.principal.user_id, auth.principal.role);
    let metadata = match step {
        Move::End => Some(serde_json::json!({ "actualDuration": actual })),
        Move::Cancel if reason.is_some() || late > 0 => {
            Some(serde_json::json!({ "reason": reason, "lateChange": late > 0 }))
        }
        _ => None,
    };
    record_event(&mut auth.tx, id, event, actor, metadata).await?;
    match step {
        Move::Confirm => {
            notify_other(
                &mut auth.tx,
                id,
                "CONSULTATION_CONFIRMED",
                "Consultation confirmée",
                format!("Consultation le {}", at(row.scheduled_at)),
            )
            .await?
        }
        Move::Cancel => {
            notify_other(
                &mut auth.tx,
                id,
                "CONSULTATION_CANCELLED",
                "Consultation annulée",
                format!("Consultation du {}", at(row.scheduled_at)),
            )
            .await?
        }
        _ => {}
    }
    let updated = load(&mut auth.tx, id, false).await?;
    auth.commit().await?;
    Ok(Json(updated.view()))
}

/// 1 when the caller is the employee and `now` is inside the company's `lateCancellationHours`
/// before the start (the change then uses one session of the allowance), else 0. A
/// practitioner's change never counts.
async fn late_change<R: RoleSet>(
    auth: &mut Auth<R>,
    row: &Row,
    now: DateTime<Utc>,
) -> ApiResult<i16> {
    if auth.principal.role != Role::Employee {
        return Ok(0);
    }
    let hours: i32 = sqlx::query_scalar!(
        r#"SELECT coalesce((SELECT late_cancellation_hours FROM companies WHERE id = app_company_id()), 24) AS "hours!""#
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    Ok(i16::from(
        now > row.scheduled_at - Duration::hours(i64::from(hours)),
    ))
}

/// Move a consultation to another free slot of the same practitioner (either participant, before
/// the start). Atomic: the new slot is taken under the same no-overlap guarantee as a booking, or
/// nothing changes. An employee's move puts it back to SCHEDULED (the practitioner confirms the
/// new time) and, inside the company's `lateCancellationHours`, uses one session of the allowance.
/// The other participant is notified, both get a notification, and the reminders follow.
#[utoipa::path(post, path = "/consultations/{id}/reschedule", tag = "consultations", security(("bearer" = [])),
    request_body = RescheduleRequest,
    responses((status = 200, body = Consultation), (status = 404, body = crate::infra::error::Problem),
              (status = 409, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn reschedule_consultation(
    mut auth: Auth<Participant>,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<RescheduleRequest>,
) -> ApiResult<Json<Consultation>> {
    let row = load(&mut auth.tx, id, true).await?;
    let now = Utc::now();
    if !matches!(row.status, Status::Scheduled | Status::Confirmed) || now >= row.scheduled_at {
        return Err(invalid(
            "Only a scheduled or confirmed consultation is rescheduled, before it starts.",
        ));
    }
    let mut v = Validator::new();
    v.check(
        body.scheduled_at != row.scheduled_at,
        "scheduledAt",
        "is already the consultation's time",
    );
    v.finish()?;
    let utc_day = body.scheduled_at.date_naive();
    let p = schedule::load(
        &mut auth.tx,
        row.practitioner_id,
        utc_day - Duration::days(2),
        utc_day + Duration::days(2),
    )
    .await?;
    let day = body.scheduled_at.with_timezone(&p.zone).date_naive();
    let slot = p
        .free(day - Duration::days(1), day + Duration::days(1))
        .into_iter()
        .find(|s| s.starts_at == body.scheduled_at)
        .ok_or_else(slot_unavailable)?;
    let duration = i32::try_from((slot.ends_at - slot.starts_at).num_minutes()).unwrap_or(50);
    let employee = auth.principal.role == Role::Employee;
    let late = late_change(&mut auth, &row, now).await?;
    if employee && body.scheduled_at.year() != row.scheduled_at.year() {
        // Moving into another year takes a session of that year's allowance: checked under the
        // booking lock, as a booking is.
        check_allowance(&mut auth, row.employee_id, body.scheduled_at.year()).await?;
    }
    let moved = sqlx::query!(
        r#"UPDATE consultations SET scheduled_at = $2, duration = $3,
             status = CASE WHEN $4 THEN 'SCHEDULED'::consultation_status ELSE status END,
             late_changes = late_changes + $5
           WHERE id = $1"#,
        id,
        body.scheduled_at,
        duration,
        employee,
        late
    )
    .execute(&mut *auth.tx)
    .await;
    // Lost to another booking: the transaction is rolled back and the consultation keeps its time.
    moved.map_err(slot_taken)?;
    let actor = (auth.principal.user_id, auth.principal.role);
    let metadata = serde_json::json!({
        "from": row.scheduled_at,
        "to": body.scheduled_at,
        "lateChange": late > 0,
    });
    record_event(
        &mut auth.tx,
        id,
        EventType::Rescheduled,
        actor,
        Some(metadata),
    )
    .await?;
    let message = format!(
        "Consultation déplacée du {} au {}",
        at(row.scheduled_at),
        at(body.scheduled_at)
    );
    notify_other(
        &mut auth.tx,
        id,
        "CONSULTATION_RESCHEDULED",
        "Consultation déplacée",
        message.clone(),
    )
    .await?;
    sqlx::query!(
        r#"INSERT INTO notifications (user_id, type, title, message, link_url)
           VALUES (app_user_id(), 'CONSULTATION_RESCHEDULED', 'Consultation déplacée', $1, $2)"#,
        message,
        format!("/consultations/{id}")
    )
    .execute(&mut *auth.tx)
    .await?;
    // The reminders for the old time see a different `scheduled_at` and send nothing.
    crate::infra::jobs::schedule_reminders(&mut auth.tx, id, body.scheduled_at).await?;
    let updated = load(&mut auth.tx, id, false).await?;
    auth.commit().await?;
    Ok(Json(updated.view()))
}

/// Refuses (409 `consultation.allowance_exhausted`) when the employee has no session of `year`'s
/// allowance left; takes the employee's booking lock first, so parallel requests count in turn.
async fn check_allowance<R: RoleSet>(
    auth: &mut Auth<R>,
    employee_id: Uuid,
    year: i32,
) -> ApiResult<()> {
    booking_lock(auth, employee_id).await?;
    let (allowance, used): (Option<i32>, i64) = sqlx::query!(
        r#"SELECT (SELECT sessions_per_employee_per_year FROM companies WHERE id = app_company_id()) AS allowance,
             allowance_used($1, $2) AS "used!""#,
        employee_id,
        year
    )
    .map(|r| (r.allowance, r.used))
    .fetch_one(&mut *auth.tx)
    .await?;
    match allowance {
        Some(allowance) if used >= i64::from(allowance) => {
            Err(allowance_exhausted(allowance, year))
        }
        _ => Ok(()),
    }
}

async fn booking_lock<R: RoleSet>(auth: &mut Auth<R>, employee_id: Uuid) -> ApiResult<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('huntzen.booking:' || $1::uuid::text, 0))",
        employee_id
    )
    .execute(&mut *auth.tx)
    .await?;
    Ok(())
}

fn allowance_exhausted(allowance: i32, year: i32) -> ApiError {
    ApiError::conflict(
        "consultation.allowance_exhausted",
        format!("Your company's allowance of {allowance} consultations for {year} is used up."),
    )
}

/// Confirm a booking (practitioner). Alias: `accept`.
#[utoipa::path(put, path = "/consultations/{id}/confirm", tag = "consultations", security(("bearer" = [])),
    responses((status = 200, body = Consultation), (status = 404, body = crate::infra::error::Problem), (status = 409, body = crate::infra::error::Problem)))]
pub async fn confirm_consultation(
    auth: Auth<Practitioner>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Consultation>> {
    transition(auth, id, Move::Confirm, None).await
}

/// Start (practitioner; from 15 minutes before the planned time).
#[utoipa::path(put, path = "/consultations/{id}/start", tag = "consultations", security(("bearer" = [])),
    responses((status = 200, body = Consultation), (status = 404, body = crate::infra::error::Problem), (status = 409, body = crate::infra::error::Problem)))]
pub async fn start_consultation(
    auth: Auth<Practitioner>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Consultation>> {
    transition(auth, id, Move::Start, None).await
}

/// End (practitioner): `actualDuration` is the whole minutes since the start, rounded to the nearest.
#[utoipa::path(put, path = "/consultations/{id}/end", tag = "consultations", security(("bearer" = [])),
    responses((status = 200, body = Consultation), (status = 404, body = crate::infra::error::Problem), (status = 409, body = crate::infra::error::Problem)))]
pub async fn end_consultation(
    auth: Auth<Practitioner>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Consultation>> {
    transition(auth, id, Move::End, None).await
}

/// Cancel before the start (either participant), with an optional reason.
#[utoipa::path(put, path = "/consultations/{id}/cancel", tag = "consultations", security(("bearer" = [])),
    request_body(content = CancelRequest, description = "Optional"),
    responses((status = 200, body = Consultation), (status = 404, body = crate::infra::error::Problem), (status = 409, body = crate::infra::error::Problem)))]
pub async fn cancel_consultation(
    auth: Auth<Participant>,
    Path(id): Path<Uuid>,
    body: Option<ApiJson<CancelRequest>>,
) -> ApiResult<Json<Consultation>> {
    let reason = body
        .and_then(|ApiJson(b)| b.reason)
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    let mut v = Validator::new();
    v.check(
        reason.as_deref().is_none_or(|r| r.chars().count() <= 500),
        "reason",
        "must have at most 500 characters",
    );
    v.finish()?;
    transition(auth, id, Move::Cancel, reason).await
}

/// Record that the employee did not come (practitioner; after the planned time).
#[utoipa::path(post, path = "/consultations/{id}/no-show", tag = "consultations", security(("bearer" = [])),
    responses((status = 200, body = Consultation), (status = 404, body = crate::infra::error::Problem), (status = 409, body = crate::infra::error::Problem)))]
pub async fn mark_no_show(
    auth: Auth<Practitioner>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Consultation>> {
    transition(auth, id, Move::NoShow, None).await
}

/// One consultation, for its two participants (anyone else: 404).
#[utoipa::path(get, path = "/consultations/{id}", tag = "consultations", security(("bearer" = [])),
    responses((status = 200, body = Consultation), (status = 404, body = crate::infra::error::Problem)))]
pub async fn get_consultation(
    mut auth: Auth<AnyRole>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Consultation>> {
    let row = load(&mut auth.tx, id, false).await?;
    auth.commit().await?;
    Ok(Json(row.view()))
}

async fn list<R: RoleSet>(
    mut auth: Auth<R>,
    query: ListQuery,
    page: PageQuery,
    filter: &str,
    order: &str,
) -> ApiResult<Json<Page<Consultation>>> {
    let paging = page.paging()?;
    // Dynamic on purpose: `filter` and `order` are one of the four fixed literals of the list
    // routes below (never input); each route as its own checked query would copy the
    // 23-column SELECT four times. The SELECT itself is the one `load` checks at build time.
    let condition = format!("{filter} AND ($1::consultation_status IS NULL OR c.status = $1)");
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE {condition} ORDER BY c.scheduled_at {order}, c.id LIMIT $2 OFFSET $3"
    )))
    .bind(query.status)
    .bind(paging.limit())
    .bind(paging.offset())
    .fetch_all(&mut *auth.tx)
    .await?;
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM consultations c WHERE {condition}"
    )))
    .bind(query.status)
    .fetch_one(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    Ok(Json(Page::new(
        rows.iter().map(Row::view).collect(),
        total,
        paging,
    )))
}

/// The caller's consultations, every status, latest first: an employee's own, or a practitioner's
/// (`?status=` narrows). The brief's role-specific lists are `mine`, `upcoming` and `history`.
#[utoipa::path(get, path = "/consultations", tag = "consultations", security(("bearer" = [])), params(ListQuery, PageQuery),
    responses((status = 200, body = Page<Consultation>)))]
pub async fn list_consultations(
    auth: Auth<Participant>,
    ApiQuery(query): ApiQuery<ListQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Consultation>>> {
    let filter = if auth.principal.role == Role::Employee {
        "c.employee_id = app_employee_id()"
    } else {
        "c.practitioner_id = app_practitioner_id()"
    };
    list(auth, query, page, filter, "DESC").await
}

/// The employee's consultations, latest first.
#[utoipa::path(get, path = "/consultations/mine", tag = "consultations", security(("bearer" = [])), params(ListQuery, PageQuery),
    responses((status = 200, body = Page<Consultation>)))]
pub async fn list_my_consultations(
    auth: Auth<Employee>,
    ApiQuery(query): ApiQuery<ListQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Consultation>>> {
    list(
        auth,
        query,
        page,
        "c.employee_id = app_employee_id()",
        "DESC",
    )
    .await
}

/// The practitioner's coming consultations, soonest first.
#[utoipa::path(get, path = "/consultations/upcoming", tag = "consultations", security(("bearer" = [])), params(ListQuery, PageQuery),
    responses((status = 200, body = Page<Consultation>)))]
pub async fn list_upcoming_consultations(
    auth: Auth<Practitioner>,
    ApiQuery(query): ApiQuery<ListQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Consultation>>> {
    let filter = "c.practitioner_id = app_practitioner_id() AND c.status IN ('SCHEDULED', 'CONFIRMED', 'IN_PROGRESS') \
                  AND add_minutes(c.scheduled_at, c.duration) > now()";
    list(auth, query, page, filter, "ASC").await
}

/// The practitioner's past and closed consultations, latest first.
#[utoipa::path(get, path = "/consultations/history", tag = "consultations", security(("bearer" = [])), params(ListQuery, PageQuery),
    responses((status = 200, body = Page<Consultation>)))]
pub async fn list_past_consultations(
    auth: Auth<Practitioner>,
    ApiQuery(query): ApiQuery<ListQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Consultation>>> {
    let filter = "c.practitioner_id = app_practitioner_id() AND (c.status IN ('COMPLETED', 'CANCELLED', 'NO_SHOW') \
                  OR add_minutes(c.scheduled_at, c.duration) <= now())";
    list(auth, query, page, filter, "DESC").await
}

/// An attendance event from a participant's room page.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceRequest {
    /// `ROOM_JOINED` or `ROOM_LEFT`.
    #[schema(schema_with = attendance_event)]
    pub event: EventType,
}

/// The two event types a participant reports.
fn attendance_event() -> utoipa::openapi::Object {
    crate::infra::schemas::string_enum(&["ROOM_JOINED", "ROOM_LEFT"])
}

/// Record that the caller joined or left the room.
#[utoipa::path(post, path = "/consultations/{id}/events", tag = "consultations", security(("bearer" = [])),
    request_body = AttendanceRequest,
    responses((status = 204), (status = 404, body = crate::infra::error::Problem), (status = 422, body = crate::infra::error::Problem)))]
pub async fn record_attendance(
    mut auth: Auth<Participant>,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<AttendanceRequest>,
) -> ApiResult<StatusCode> {
    let mut v = Validator::new();
    v.check(
        matches!(body.event, EventType::RoomJoined | EventType::RoomLeft),
        "event",
        "must be ROOM_JOINED or ROOM_LEFT",
    );
    v.finish()?;
    load(&mut auth.tx, id, false).await?;
    let actor = (auth.principal.user_id, auth.principal.role);
    record_event(&mut auth.tx, id, body.event, actor, None).await?;
    auth.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
