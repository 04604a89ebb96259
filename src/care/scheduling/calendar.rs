//! A consultation as an iCalendar file (RFC 5545) for its two participants: a stable `UID`, a
//! `SEQUENCE` that grows with each reschedule, `METHOD:CANCEL` once cancelled. Nothing clinical and
//! no name: the summary is generic, the location is the app link (or the office for IN_PERSON).

use axum::extract::State;
use axum::http::header;
use axum::response::Response;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::consultations::load;
use super::model::{Row, Status};
use crate::care::practitioners::model::Format;
use crate::infra::auth::{Auth, Participant};
use crate::infra::error::{ApiError, ApiResult};
use crate::infra::extract::Path;
use crate::infra::state::AppState;

/// RFC 5545 TEXT escaping.
fn text(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace("\r\n", "\\n")
        .replace(['\n', '\r'], "\\n")
}

/// Folds a content line at 75 octets (continuation lines start with a space), on char boundaries.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3 + 2);
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
    out
}

fn instant(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// The calendar of one consultation; `sequence`: how many times it was rescheduled.
pub fn ics(row: &Row, sequence: i64, public_url: &str, now: DateTime<Utc>) -> String {
    let cancelled = row.status == Status::Cancelled;
    let link = format!(
        "{}/consultations/{}",
        public_url.trim_end_matches('/'),
        row.id
    );
    let location = match (&row.p_office_address, row.format) {
        (Some(address), Format::InPerson) => address.clone(),
        _ => link.clone(),
    };
    let status = match row.status {
        Status::Cancelled => "CANCELLED",
        Status::Scheduled => "TENTATIVE",
        _ => "CONFIRMED",
    };
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//HuntZen Care//Consultations//FR".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        format!("METHOD:{}", if cancelled { "CANCEL" } else { "REQUEST" }),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}@huntzen.care", row.id),
        format!("DTSTAMP:{}", instant(now)),
        format!("SEQUENCE:{sequence}"),
        format!("DTSTART:{}", instant(row.scheduled_at)),
        format!("DTEND:{}", instant(row.ends_at())),
        "SUMMARY:Consultation HuntZen Care".to_owned(),
        format!("LOCATION:{}", text(&location)),
        format!("URL:{link}"),
        format!("STATUS:{status}"),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    lines.iter().map(|l| fold(l)).collect()
}

/// The consultation as an `.ics` file (its two participants; anyone else 404). Add it to a
/// calendar; download it again after a reschedule or a cancellation: same `UID`, higher
/// `SEQUENCE`, and `METHOD:CANCEL` once cancelled.
#[utoipa::path(get, path = "/consultations/{id}/calendar.ics", tag = "consultations", security(("bearer" = [])),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 404, body = crate::infra::error::Problem)))]
pub async fn get_consultation_calendar(
    State(state): State<AppState>,
    mut auth: Auth<Participant>,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    let row = load(&mut auth.tx, id, false).await?;
    let sequence: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM consultation_events
           WHERE consultation_id = $1 AND event_type IN ('RESCHEDULED', 'CANCELLED')"#,
        id
    )
    .fetch_one(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    let body = ics(&row, sequence, &state.settings.public_url, Utc::now());
    Response::builder()
        .header(header::CONTENT_TYPE, "text/calendar; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"consultation-{id}.ics\""),
        )
        .header(header::CACHE_CONTROL, "private, no-store")
        .body(axum::body::Body::from(body))
        .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::{fold, text};

    #[test]
    fn lines_are_escaped_and_folded() {
        assert_eq!(
            text("3 rue X, Paris; code\n12"),
            "3 rue X\\, Paris\\; code\\n12"
        );
        let long = format!("LOCATION:{}", "é".repeat(60));
        let folded = fold(&long);
        assert!(folded.split("\r\n").all(|l| l.len() <= 75), "{folded}");
        assert_eq!(folded.replace("\r\n ", ""), format!("{long}\r\n"));
    }
}
