//! Reports: counters and aggregates, never clinical content. HR gets per-employee counts of
//! completed consultations and their minutes (no practitioner, specialty, format, motive or date),
//! department totals folded so that no group under 5 people shows, and CSV exports; practitioners
//! their billing lines; platform roles aggregate KPIs.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::Response;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::care::practitioners::model::Format;
use crate::infra::audit::Action;
use crate::infra::auth::Auth;
use crate::infra::auth::{HrAdmin, PlatformStaff, Practitioner};
use crate::infra::error::{ApiError, ApiResult, OrNotFound};
use crate::infra::extract::{ApiQuery, Path};
use crate::infra::sessions::ClientMeta;
use crate::infra::state::AppState;

/// Smallest group a department total may describe.
pub const MIN_GROUP: i64 = 5;

/// A month, `YYYY-MM`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// `YYYY-MM`: the month of completion. HR reports read it in the company's `timeZone` and count
    /// a consultation from the day after it ended there; practitioners' billing reads it in UTC.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-01")]
    pub period: String,
}

/// A month, `YYYY-MM`, and the CSV separator.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CsvQuery {
    /// `YYYY-MM` (UTC month of completion).
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-01")]
    pub period: String,
    /// `;` (default) or `,`.
    #[param(pattern = "^[;,]$")]
    pub sep: Option<String>,
}

/// Parses `YYYY-MM` into its UTC bounds.
pub fn month(period: &str) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let (start, next) = month_days(period)?;
    let at = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
    Ok((at(start), at(next)))
}

/// Parses `YYYY-MM` into its first day and the next month's first day (HR reports read them in
/// the company's time zone).
pub fn month_days(period: &str) -> ApiResult<(NaiveDate, NaiveDate)> {
    let start = NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| period.len() == 7)
        .ok_or_else(|| {
            ApiError::invalid_field("period", "must be a month YYYY-MM, e.g. 2026-01")
        })?;
    let next = if start.month() == 12 {
        NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
    }
    .ok_or_else(|| ApiError::invalid_field("period", "is out of range"))?;
    Ok((start, next))
}

fn separator(sep: Option<&str>) -> ApiResult<u8> {
    match sep.unwrap_or(";") {
        ";" => Ok(b';'),
        "," => Ok(b','),
        _ => Err(ApiError::invalid_field("sep", "must be ; or ,")),
    }
}

/// One employee's counters for a period — exactly these keys.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmployeeUsage {
    pub employee_id: Uuid,
    pub employee_name: String,
    pub period: String,
    pub consultation_count: i64,
    pub total_duration_minutes: i64,
}

/// A month's counters for the company's employees.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    pub period: String,
    pub items: Vec<EmployeeUsage>,
}

#[derive(Debug, sqlx::FromRow)]
struct UsageRow {
    employee_id: Uuid,
    employee_name: String,
    department: Option<String>,
    consultation_count: i64,
    total_duration_minutes: i64,
}

async fn usage_rows(auth: &mut Auth<HrAdmin>, period: &str) -> ApiResult<Vec<UsageRow>> {
    let (from, to) = month_days(period)?;
    Ok(sqlx::query_as!(
        UsageRow,
        r#"SELECT employee_id AS "employee_id!", employee_name AS "employee_name!", department,
             consultation_count AS "consultation_count!",
             total_duration_minutes AS "total_duration_minutes!"
           FROM report_employee_usage($1, $2)"#,
        from,
        to
    )
    .fetch_all(&mut *auth.tx)
    .await?)
}

async fn audit_export(
    auth: &mut Auth<impl crate::infra::auth::RoleSet>,
    client: &ClientMeta,
    what: &str,
    period: &str,
) -> ApiResult<()> {
    auth.audit(
        client,
        Action::Export,
        what,
        None,
        Some(serde_json::json!({ "period": period })),
    )
    .await?;
    Ok(())
}

/// Completed consultations and minutes per employee of your company, for a month.
#[utoipa::path(get, path = "/reports/employee-usage", tag = "reports", security(("bearer" = [])), params(PeriodQuery),
    responses((status = 200, body = UsageReport), (status = 422, body = crate::infra::error::Problem)))]
pub async fn get_employee_usage(
    mut auth: Auth<HrAdmin>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> ApiResult<Response> {
    let (from, to) = month_days(&q.period)?;
    // The report as JSON items, built by PostgreSQL in the same statement that computes it: the
    // rows never become Rust values, and `bench/pgbench/report.sql` times exactly this statement.
    // Written compact by hand (`to_json` escapes each value): `json_build_object`'s text has
    // `"key" : value` spacing, unlike every other answer.
    let items: String = sqlx::query_scalar!(
        r#"SELECT '[' || coalesce(string_agg('{"employeeId":' || to_json(r.employee_id)::text || ',"employeeName":' || to_json(r.employee_name)::text || ',"period":' || to_json($3::text)::text || ',"consultationCount":' || r.consultation_count || ',"totalDurationMinutes":' || r.total_duration_minutes || '}', ',' ORDER BY r.n), '') || ']' AS "items!"
           FROM report_employee_usage($1, $2) WITH ORDINALITY AS r(employee_id, employee_name, department, consultation_count, total_duration_minutes, n)"#,
        from,
        to,
        &q.period
    )
        .fetch_one(&mut *auth.tx)
        .await?;
    auth.commit().await?;
    let period = serde_json::to_string(&q.period).map_err(ApiError::internal)?;
    let body = format!("{{\"period\":{period},\"items\":{items}}}");
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_default())
}

/// Neutralises a cell a spreadsheet would run as a formula: one starting (after leading spaces)
/// with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`.
/// The same holds after each `,` or `;` inside the cell, for readers that split on the other
/// separator without honouring quotes (`Inj,=2+3` → `Inj,'=2+3`).
pub fn safe_cell(value: &str) -> String {
    fn neutralised(part: &str) -> String {
        match part.trim_start_matches(' ').chars().next() {
            Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{part}"),
            _ => part.to_owned(),
        }
    }
    let mut out = String::with_capacity(value.len() + 1);
    let mut rest = value;
    loop {
        match rest.find([',', ';']) {
            Some(at) => {
                out.push_str(&neutralised(&rest[..at]));
                out.push_str(&rest[at..=at]);
                rest = &rest[at + 1..];
            }
            None => {
                out.push_str(&neutralised(rest));
                return out;
            }
        }
    }
}

/// Appends one CSV line (our dialect: `sep` between cells, CRLF at the end). Every cell is
/// neutralised, and a cell holding `,`, `;`, a quote or a line break is quoted (quotes doubled)
/// whatever the separator, so a reader splitting on the other separator cannot cut it into a
/// formula.
pub fn write_csv_line<S: AsRef<str>>(out: &mut Vec<u8>, sep: u8, cells: &[S]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        let cell = safe_cell(cell.as_ref());
        if cell.contains([',', ';', '"', '\r', '\n']) || cell.as_bytes().contains(&sep) {
            out.push(b'"');
            out.extend_from_slice(cell.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(cell.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

fn csv_line<S: AsRef<str>>(sep: u8, cells: &[S]) -> Vec<u8> {
    let mut out = Vec::new();
    write_csv_line(&mut out, sep, cells);
    out
}

fn csv_headers(file_name: &str) -> axum::http::response::Builder {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        )
        .header(header::CACHE_CONTROL, "private, no-store")
}

fn csv_response(file_name: &str, sep: u8, header: &[&str], rows: Vec<Vec<String>>) -> Response {
    let mut first = b"\xEF\xBB\xBF".to_vec();
    first.extend_from_slice(&csv_line(sep, header));
    let chunks = std::iter::once(Bytes::from(first)).chain(
        rows.into_iter()
            .map(move |cells| Bytes::from(csv_line(sep, &cells))),
    );
    let stream = futures::stream::iter(chunks.map(Ok::<_, std::convert::Infallible>));
    csv_headers(file_name)
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

/// The same as CSV (`;` by default, `?sep=,`), UTF-8 with BOM.
#[utoipa::path(get, path = "/reports/export-csv", tag = "reports", security(("bearer" = [])), params(CsvQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = crate::infra::error::Problem)))]
pub async fn export_usage_csv(
    client: ClientMeta,
    mut auth: Auth<HrAdmin>,
    ApiQuery(q): ApiQuery<CsvQuery>,
) -> ApiResult<Response> {
    let sep = separator(q.sep.as_deref())?;
    let rows = usage_rows(&mut auth, &q.period).await?;
    audit_export(&mut auth, &client, "employee_usage", &q.period).await?;
    auth.commit().await?;
    let lines = rows
        .into_iter()
        .map(|r| {
            vec![
                r.employee_id.to_string(),
                r.employee_name,
                q.period.clone(),
                r.consultation_count.to_string(),
                r.total_duration_minutes.to_string(),
            ]
        })
        .collect();
    let header = [
        "employeeId",
        "employeeName",
        "period",
        "consultationCount",
        "totalDurationMinutes",
    ];
    Ok(csv_response(
        &format!("employee-usage-{}.csv", q.period),
        sep,
        &header,
        lines,
    ))
}

/// One employee's counters per month.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmployeeMonths {
    pub employee_id: Uuid,
    pub employee_name: String,
    pub items: Vec<EmployeeUsage>,
}

/// An employee's counters per month (latest first).
#[utoipa::path(get, path = "/employees/{id}/usage-stats", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = EmployeeMonths), (status = 404, body = crate::infra::error::Problem)))]
pub async fn list_employee_months(
    mut auth: Auth<HrAdmin>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<EmployeeMonths>> {
    let name: String = sqlx::query_scalar!(
        r#"SELECT first_name || ' ' || last_name AS "value!" FROM employees WHERE id = $1"#,
        id
    )
    .fetch_optional(&mut *auth.tx)
    .await?
    .or_not_found("employee.not_found")?;
    let rows = sqlx::query!(
        r#"SELECT period AS "period!", consultation_count AS "count!",
             total_duration_minutes AS "minutes!"
           FROM report_employee_months($1)"#,
        id
    )
    .fetch_all(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    let items = rows
        .into_iter()
        .map(|row| EmployeeUsage {
            employee_id: id,
            employee_name: name.clone(),
            period: row.period,
            consultation_count: row.count,
            total_duration_minutes: row.minutes,
        })
        .collect();
    Ok(Json(EmployeeMonths {
        employee_id: id,
        employee_name: name,
        items,
    }))
}

/// A department's totals (groups under 5 employees are folded into "Other", or left out).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentUsage {
    pub department: String,
    pub employee_count: i64,
    pub consultation_count: i64,
    pub total_duration_minutes: i64,
}

/// Department totals for a month.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentReport {
    pub period: String,
    pub items: Vec<DepartmentUsage>,
    /// Employees whose group was too small to show, even folded.
    pub suppressed_employees: i64,
}

/// Folds departments under `MIN_GROUP` people into "Other"; drops "Other" if still too small.
pub fn fold_departments(groups: Vec<DepartmentUsage>) -> (Vec<DepartmentUsage>, i64) {
    let mut other = DepartmentUsage {
        department: "Other".to_owned(),
        employee_count: 0,
        consultation_count: 0,
        total_duration_minutes: 0,
    };
    let mut shown = Vec::new();
    for group in groups {
        if group.employee_count >= MIN_GROUP && group.department != "Other" {
            shown.push(group);
        } else {
            other.employee_count += group.employee_count;
            other.consultation_count += group.consultation_count;
            other.total_duration_minutes += group.total_duration_minutes;
        }
    }
    let suppressed = if other.employee_count >= MIN_GROUP {
        shown.push(other);
        0
    } else {
        other.employee_count
    };
    (shown, suppressed)
}

#[utoipa::path(get, path = "/reports/department-usage", tag = "reports", security(("bearer" = [])), params(PeriodQuery),
    responses((status = 200, body = DepartmentReport), (status = 422, body = crate::infra::error::Problem)))]
/// Department totals for a month, never describing fewer than 5 people.
pub async fn get_department_usage(
    mut auth: Auth<HrAdmin>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> ApiResult<Json<DepartmentReport>> {
    let rows = usage_rows(&mut auth, &q.period).await?;
    auth.commit().await?;
    let mut groups: std::collections::BTreeMap<String, DepartmentUsage> =
        std::collections::BTreeMap::new();
    for row in rows {
        let name = row.department.unwrap_or_else(|| "Other".to_owned());
        let group = groups.entry(name.clone()).or_insert(DepartmentUsage {
            department: name,
            employee_count: 0,
            consultation_count: 0,
            total_duration_minutes: 0,
        });
        group.employee_count += 1;
        group.consultation_count += row.consultation_count;
        group.total_duration_minutes += row.total_duration_minutes;
    }
    let (items, suppressed_employees) = fold_departments(groups.into_values().collect());
    Ok(Json(DepartmentReport {
        period: q.period,
        items,
        suppressed_employees,
    }))
}

/// One completed consultation, as billed: no content, no person.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BillingLine {
    pub date: NaiveDate,
    pub duration_minutes: i32,
    pub format: Format,
    pub company_name: String,
}

/// A practitioner's billing for a month.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Billing {
    pub period: String,
    pub consultation_count: usize,
    pub total_duration_minutes: i64,
    pub items: Vec<BillingLine>,
}

/// A practitioner's completed consultations between two instants, oldest first (one statement
/// for the JSON answer and the CSV export).
macro_rules! billing_lines_query {
    ($from:expr, $to:expr) => {
        sqlx::query_as!(
            BillingLine,
            r#"SELECT (c.ended_at AT TIME ZONE 'UTC')::date AS "date!",
                 coalesce(c.actual_duration, 0) AS "duration_minutes!", c.format,
                 co.name AS company_name
               FROM consultations c
               JOIN companies co ON co.id = c.company_id
               WHERE c.practitioner_id = app_practitioner_id() AND c.status = 'COMPLETED'
                 AND c.ended_at >= $1 AND c.ended_at < $2
               ORDER BY c.ended_at, c.id"#,
            $from,
            $to
        )
    };
}

async fn billing_lines(auth: &mut Auth<Practitioner>, period: &str) -> ApiResult<Vec<BillingLine>> {
    let (from, to) = month(period)?;
    Ok(billing_lines_query!(from, to)
        .fetch_all(&mut *auth.tx)
        .await?)
}

/// Your completed consultations of a month: date, duration, format and company.
#[utoipa::path(get, path = "/reports/practitioner-billing", tag = "reports", security(("bearer" = [])), params(PeriodQuery),
    responses((status = 200, body = Billing), (status = 422, body = crate::infra::error::Problem)))]
pub async fn get_practitioner_billing(
    mut auth: Auth<Practitioner>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> ApiResult<Json<Billing>> {
    let items = billing_lines(&mut auth, &q.period).await?;
    auth.commit().await?;
    let total = items.iter().map(|l| i64::from(l.duration_minutes)).sum();
    Ok(Json(Billing {
        period: q.period,
        consultation_count: items.len(),
        total_duration_minutes: total,
        items,
    }))
}

/// The same as CSV (alias `/api/practitioners/me/export-billing`). Rows are streamed from the
/// database to the client in 64 KiB chunks, so memory stays flat however many there are; the
/// export is audited (and committed) before the first byte.
#[utoipa::path(get, path = "/reports/practitioner-export-csv", tag = "reports", security(("bearer" = [])), params(CsvQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = crate::infra::error::Problem)))]
pub async fn export_practitioner_billing_csv(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<Practitioner>,
    ApiQuery(q): ApiQuery<CsvQuery>,
) -> ApiResult<Response> {
    let sep = separator(q.sep.as_deref())?;
    let (from, to) = month(&q.period)?;
    let session = auth.session_id;
    audit_export(&mut auth, &client, "practitioner_billing", &q.period).await?;
    auth.commit().await?;
    let (tx, _) = crate::infra::db::context::begin_as(&state.db.app, session)
        .await?
        .ok_or_else(|| ApiError::unauthorized("auth.session_ended", "This session has ended."))?;
    let (chunks, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(stream_billing(tx, from, to, sep, chunks));
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    Ok(csv_headers(&format!("billing-{}.csv", q.period))
        .body(Body::from_stream(body))
        .unwrap_or_default())
}

/// Writes the billing CSV of `[from, to)` into `chunks`; a database error ends the body early
/// (the client sees a truncated download, never a silent partial file: no final CRLF line).
async fn stream_billing(
    mut tx: crate::infra::db::Tx,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    sep: u8,
    chunks: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    use futures::TryStreamExt as _;
    const CHUNK: usize = 64 * 1024;
    // One writer for the whole export: its buffer is drained into a chunk every 64 KiB.
    let fresh = || Vec::with_capacity(CHUNK + 4096);
    let mut bom = fresh();
    bom.extend_from_slice(b"\xEF\xBB\xBF");
    let mut writer = bom;
    let result: Result<(), sqlx::Error> = async {
        write_csv_line(
            &mut writer,
            sep,
            &["date", "durationMinutes", "format", "company"],
        );
        let mut rows = billing_lines_query!(from, to).fetch(&mut *tx);
        while let Some(l) = rows.try_next().await? {
            let (date, duration) = (l.date.to_string(), l.duration_minutes.to_string());
            write_csv_line(
                &mut writer,
                sep,
                &[&date, &duration, l.format.as_str(), &l.company_name],
            );
            if writer.len() >= CHUNK {
                let chunk = std::mem::replace(&mut writer, fresh());
                if chunks.send(Ok(Bytes::from(chunk))).await.is_err() {
                    return Ok(()); // the client went away
                }
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            let rest = writer;
            if !rest.is_empty() {
                chunks.send(Ok(Bytes::from(rest))).await.ok();
            }
            tx.commit().await.ok();
        }
        Err(error) => {
            tracing::error!(%error, "billing export stopped");
            chunks
                .send(Err(std::io::Error::other("export failed")))
                .await
                .ok();
        }
    }
}

/// Platform aggregates: companies, employees, practitioners, consultations by status, format and
/// month, utilisation (completed / closed). Counts only.
#[utoipa::path(get, path = "/reports/platform-kpis", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
pub async fn get_platform_kpis(
    mut auth: Auth<PlatformStaff>,
) -> ApiResult<Json<serde_json::Value>> {
    let kpis: Option<serde_json::Value> = sqlx::query_scalar!(r#"SELECT report_platform_kpis()"#)
        .fetch_one(&mut *auth.tx)
        .await?;
    auth.commit().await?;
    kpis.map(Json).ok_or_else(ApiError::forbidden)
}

/// Routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_employee_usage))
        .routes(routes!(export_usage_csv))
        .routes(routes!(list_employee_months))
        .routes(routes!(get_department_usage))
        .routes(routes!(get_practitioner_billing))
        .routes(routes!(export_practitioner_billing_csv))
        .routes(routes!(get_platform_kpis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_cells_and_folding() {
        let (from, to) = month("2026-12").expect("month");
        assert_eq!(
            (from.to_rfc3339().as_str(), to.to_rfc3339().as_str()),
            ("2026-12-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00")
        );
        assert!(month("2026-13").is_err() && month("2026-1").is_err() && month("x").is_err());
        assert_eq!(safe_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe_cell("-2"), "'-2");
        assert_eq!(safe_cell("Émilie"), "Émilie");
        assert_eq!(safe_cell("  =1+2"), "'  =1+2");
        // A cell with either separator is quoted, whichever one the export uses.
        let mut line = Vec::new();
        write_csv_line(&mut line, b';', &["Inj,=2+3", "a;b", "say \"hi\"", "plain"]);
        assert_eq!(
            String::from_utf8(line).expect("utf8"),
            "\"Inj,'=2+3\";\"a;b\";\"say \"\"hi\"\"\";plain\r\n"
        );
        let mut line = Vec::new();
        write_csv_line(&mut line, b',', &["x;=1", "-3"]);
        assert_eq!(String::from_utf8(line).expect("utf8"), "\"x;'=1\",'-3\r\n");
        let group = |name: &str, n: i64| DepartmentUsage {
            department: name.to_owned(),
            employee_count: n,
            consultation_count: n,
            total_duration_minutes: n,
        };
        let (shown, suppressed) =
            fold_departments(vec![group("Sales", 6), group("Legal", 2), group("IT", 3)]);
        assert_eq!(
            shown
                .iter()
                .map(|g| (g.department.as_str(), g.employee_count))
                .collect::<Vec<_>>(),
            [("Sales", 6), ("Other", 5)]
        );
        assert_eq!(suppressed, 0);
        let (shown, suppressed) = fold_departments(vec![group("Sales", 6), group("Legal", 2)]);
        assert_eq!((shown.len(), suppressed), (1, 2));
    }
}
