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

/// The months a report covers: one `period`, or `from` to `to` (both included).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// `YYYY-MM`: the month of completion. HR reports read it in the company's `timeZone` and count
    /// a consultation from the day after it ended there; practitioners' billing reads it in UTC.
    /// Give either `period` or `from` and `to`.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-01")]
    pub period: Option<String>,
    /// First month of a range, `YYYY-MM` (with `to`; at most 36 months).
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-01")]
    pub from: Option<String>,
    /// Last month of a range, `YYYY-MM`, included.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-03")]
    pub to: Option<String>,
}

/// The months of a report, and the CSV separator.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CsvQuery {
    /// `YYYY-MM`, as in the JSON report; or `from` and `to`.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-01")]
    pub period: Option<String>,
    /// First month of a range, `YYYY-MM`.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-01")]
    pub from: Option<String>,
    /// Last month of a range, `YYYY-MM`, included.
    #[param(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2026-03")]
    pub to: Option<String>,
    /// `;` (default) or `,`.
    #[param(pattern = "^[;,]$")]
    pub sep: Option<String>,
}

/// Longest range a report covers, in months.
pub const MAX_MONTHS: i32 = 36;

/// The months a report covers: `label` is the `period` (`2026-01`) or the range
/// (`2026-01/2026-03`, ISO 8601), `first` the first day of the first month and `next` the first
/// day after the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Months {
    pub label: String,
    pub first: NaiveDate,
    pub next: NaiveDate,
}

impl Months {
    /// From a report's query: exactly one of `period` or `from` + `to` (422 naming the field).
    pub fn of(period: Option<&str>, from: Option<&str>, to: Option<&str>) -> ApiResult<Self> {
        match (period, from, to) {
            (Some(period), None, None) => {
                let (first, next) = month_days_of("period", period)?;
                Ok(Self {
                    label: period.to_owned(),
                    first,
                    next,
                })
            }
            (None, Some(from), Some(to)) => {
                let (first, _) = month_days_of("from", from)?;
                let (last, next) = month_days_of("to", to)?;
                if last < first {
                    return Err(ApiError::invalid_field("to", "must not be before from"));
                }
                let months = (last.year() - first.year()) * 12 + last.month0() as i32
                    - first.month0() as i32
                    + 1;
                if months > MAX_MONTHS {
                    return Err(ApiError::invalid_field(
                        "to",
                        "a range covers at most 36 months",
                    ));
                }
                let label = if from == to {
                    from.to_owned()
                } else {
                    format!("{from}/{to}")
                };
                Ok(Self { label, first, next })
            }
            (None, None, None) => Err(ApiError::invalid_field(
                "period",
                "give a month YYYY-MM as period, or from and to",
            )),
            (Some(_), _, _) => Err(ApiError::invalid_field(
                "period",
                "give either period or from and to, not both",
            )),
            (None, None, Some(_)) => Err(ApiError::invalid_field("from", "is required with to")),
            (None, Some(_), None) => Err(ApiError::invalid_field("to", "is required with from")),
        }
    }

    /// The same bounds as UTC instants (practitioners' billing).
    pub fn utc(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let at = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
        (at(self.first), at(self.next))
    }

    /// A file name part (`2026-01`, `2026-01_2026-03`).
    pub fn file_part(&self) -> String {
        self.label.replace('/', "_")
    }
}

impl PeriodQuery {
    /// The months asked for.
    pub fn months(&self) -> ApiResult<Months> {
        Months::of(
            self.period.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
        )
    }
}

impl CsvQuery {
    /// The months asked for.
    pub fn months(&self) -> ApiResult<Months> {
        Months::of(
            self.period.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
        )
    }
}

/// Parses `YYYY-MM` into its UTC bounds.
pub fn month(period: &str) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    Months::of(Some(period), None, None).map(|m| m.utc())
}

/// Parses `YYYY-MM` (the query field `field`) into its first day and the next month's first day.
fn month_days_of(field: &str, period: &str) -> ApiResult<(NaiveDate, NaiveDate)> {
    let start = NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| period.len() == 7)
        .ok_or_else(|| ApiError::invalid_field(field, "must be a month YYYY-MM, e.g. 2026-01"))?;
    let next = if start.month() == 12 {
        NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(start.year(), start.month() + 1, 1)
    }
    .ok_or_else(|| ApiError::invalid_field(field, "is out of range"))?;
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

async fn usage_rows(auth: &mut Auth<HrAdmin>, months: &Months) -> ApiResult<Vec<UsageRow>> {
    let (from, to) = (months.first, months.next);
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

/// Completed consultations and minutes per employee of your company, for a month (or a range of
/// months: `from`, `to`; `period` then reads `2026-01/2026-03`).
#[utoipa::path(get, path = "/reports/employee-usage", tag = "reports", security(("bearer" = [])), params(PeriodQuery),
    responses((status = 200, body = UsageReport), (status = 422, body = crate::infra::error::Problem)))]
pub async fn get_employee_usage(
    mut auth: Auth<HrAdmin>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> ApiResult<Response> {
    let months = q.months()?;
    let (from, to) = (months.first, months.next);
    // The report as JSON items, built by PostgreSQL in the same statement that computes it: the
    // rows never become Rust values, and `bench/pgbench/report.sql` times exactly this statement.
    // Written compact by hand (`to_json` escapes each value): `json_build_object`'s text has
    // `"key" : value` spacing, unlike every other answer.
    let items: String = sqlx::query_scalar!(
        r#"SELECT '[' || coalesce(string_agg('{"employeeId":' || to_json(r.employee_id)::text || ',"employeeName":' || to_json(r.employee_name)::text || ',"period":' || to_json($3::text)::text || ',"consultationCount":' || r.consultation_count || ',"totalDurationMinutes":' || r.total_duration_minutes || '}', ',' ORDER BY r.n), '') || ']' AS "items!"
           FROM report_employee_usage($1, $2) WITH ORDINALITY AS r(employee_id, employee_name, department, consultation_count, total_duration_minutes, n)"#,
        from,
        to,
        &months.label
    )
        .fetch_one(&mut *auth.tx)
        .await?;
    auth.commit().await?;
    let period = serde_json::to_string(&months.label).map_err(ApiError::internal)?;
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
    let months = q.months()?;
    let rows = usage_rows(&mut auth, &months).await?;
    audit_export(&mut auth, &client, "employee_usage", &months.label).await?;
    auth.commit().await?;
    let lines = rows
        .into_iter()
        .map(|r| {
            vec![
                r.employee_id.to_string(),
                r.employee_name,
                months.label.clone(),
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
        &format!("employee-usage-{}.csv", months.file_part()),
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
/// Department totals for a month (or `from`–`to`), never describing fewer than 5 people.
pub async fn get_department_usage(
    mut auth: Auth<HrAdmin>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> ApiResult<Json<DepartmentReport>> {
    let months = q.months()?;
    let rows = usage_rows(&mut auth, &months).await?;
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
        period: months.label,
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

async fn billing_lines(
    auth: &mut Auth<Practitioner>,
    months: &Months,
) -> ApiResult<Vec<BillingLine>> {
    let (from, to) = months.utc();
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
    let months = q.months()?;
    let items = billing_lines(&mut auth, &months).await?;
    auth.commit().await?;
    let total = items.iter().map(|l| i64::from(l.duration_minutes)).sum();
    Ok(Json(Billing {
        period: months.label,
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
    let months = q.months()?;
    let (from, to) = months.utc();
    let session = auth.session_id;
    audit_export(&mut auth, &client, "practitioner_billing", &months.label).await?;
    auth.commit().await?;
    let (tx, _) = crate::infra::db::context::begin_as(&state.db.app, session)
        .await?
        .ok_or_else(|| ApiError::unauthorized("auth.session_ended", "This session has ended."))?;
    Ok(csv_stream(
        &format!("billing-{}.csv", months.file_part()),
        move |chunks| stream_billing(tx, from, to, sep, chunks),
    ))
}

/// A CSV body written line by line into 64 KiB chunks sent to the response (UTF-8 with BOM).
struct CsvChunks {
    writer: Vec<u8>,
    sep: u8,
    chunks: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl CsvChunks {
    const CHUNK: usize = 64 * 1024;

    fn new(
        sep: u8,
        header: &[&str],
        chunks: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    ) -> Self {
        let mut writer = Self::fresh();
        writer.extend_from_slice(b"\xEF\xBB\xBF");
        write_csv_line(&mut writer, sep, header);
        Self {
            writer,
            sep,
            chunks,
        }
    }

    fn fresh() -> Vec<u8> {
        Vec::with_capacity(Self::CHUNK + 4096)
    }

    /// Adds a line; `false` once the client went away (stop reading rows).
    async fn line<S: AsRef<str>>(&mut self, cells: &[S]) -> bool {
        write_csv_line(&mut self.writer, self.sep, cells);
        if self.writer.len() >= Self::CHUNK {
            let chunk = std::mem::replace(&mut self.writer, Self::fresh());
            return self.chunks.send(Ok(Bytes::from(chunk))).await.is_ok();
        }
        true
    }

    /// Ends the body: the rest on success; on an error, a failed body (the client sees a
    /// truncated download, never a silent partial file).
    async fn finish(self, result: Result<(), sqlx::Error>, what: &str) {
        match result {
            Ok(()) => {
                if !self.writer.is_empty() {
                    self.chunks.send(Ok(Bytes::from(self.writer))).await.ok();
                }
            }
            Err(error) => {
                tracing::error!(%error, export = what, "export stopped");
                self.chunks
                    .send(Err(std::io::Error::other("export failed")))
                    .await
                    .ok();
            }
        }
    }
}

/// Streams what `fill` writes as the CSV answer `file_name`, from its own task.
fn csv_stream<F, Fut>(file_name: &str, fill: F) -> Response
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (chunks, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(fill(chunks));
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    csv_headers(file_name)
        .body(Body::from_stream(body))
        .unwrap_or_default()
}

/// Writes the billing CSV of `[from, to)` into `chunks`.
async fn stream_billing(
    mut tx: crate::infra::db::Tx,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    sep: u8,
    chunks: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    use futures::TryStreamExt as _;
    let mut csv = CsvChunks::new(
        sep,
        &["date", "durationMinutes", "format", "company"],
        chunks,
    );
    let result: Result<(), sqlx::Error> = async {
        let mut rows = billing_lines_query!(from, to).fetch(&mut *tx);
        while let Some(l) = rows.try_next().await? {
            let (date, duration) = (l.date.to_string(), l.duration_minutes.to_string());
            if !csv
                .line(&[&date, &duration, l.format.as_str(), &l.company_name])
                .await
            {
                return Ok(()); // the client went away
            }
        }
        Ok(())
    }
    .await;
    if result.is_ok() {
        tx.commit().await.ok();
    }
    csv.finish(result, "practitioner_billing").await;
}

/// The columns of the platform usage export.
const PLATFORM_USAGE_HEADER: &[&str] = &[
    "companyId",
    "companyName",
    "period",
    "consultations",
    "minutes",
    "activeEmployees",
    "videoConsultations",
    "videoMinutes",
    "audioConsultations",
    "audioMinutes",
    "inPersonConsultations",
    "inPersonMinutes",
];

/// Usage of every company per month, streamed as CSV (ADMIN_HUNTZEN, SUPER_ADMIN): completed
/// consultations and their minutes, active employees (those with one at least), and the same by
/// format. Months of each company's `timeZone`, counted from the day after a consultation ended,
/// as HR's counters are; every live company and month appear, zeros included. No person, ever.
#[utoipa::path(get, path = "/admin-huntzen/exports/usage.csv", tag = "reports", security(("bearer" = [])), params(CsvQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, body = crate::infra::error::Problem)))]
pub async fn export_platform_usage_csv(
    State(state): State<AppState>,
    client: ClientMeta,
    mut auth: Auth<PlatformStaff>,
    ApiQuery(q): ApiQuery<CsvQuery>,
) -> ApiResult<Response> {
    let sep = separator(q.sep.as_deref())?;
    let months = q.months()?;
    let session = auth.session_id;
    audit_export(&mut auth, &client, "platform_usage", &months.label).await?;
    auth.commit().await?;
    let (tx, _) = crate::infra::db::context::begin_as(&state.db.app, session)
        .await?
        .ok_or_else(|| ApiError::unauthorized("auth.session_ended", "This session has ended."))?;
    let (first, next) = (months.first, months.next);
    Ok(csv_stream(
        &format!("platform-usage-{}.csv", months.file_part()),
        move |chunks| stream_platform_usage(tx, first, next, sep, chunks),
    ))
}

async fn stream_platform_usage(
    mut tx: crate::infra::db::Tx,
    first: NaiveDate,
    next: NaiveDate,
    sep: u8,
    chunks: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    use futures::TryStreamExt as _;
    let mut csv = CsvChunks::new(sep, PLATFORM_USAGE_HEADER, chunks);
    let result: Result<(), sqlx::Error> = async {
        let mut rows = sqlx::query!(
            r#"SELECT company_id AS "company_id!", company_name AS "company_name!", period AS "period!",
                 consultations AS "consultations!", minutes AS "minutes!",
                 active_employees AS "active_employees!", video_consultations AS "video_consultations!",
                 video_minutes AS "video_minutes!", audio_consultations AS "audio_consultations!",
                 audio_minutes AS "audio_minutes!", in_person_consultations AS "in_person_consultations!",
                 in_person_minutes AS "in_person_minutes!"
               FROM report_platform_usage($1, $2)"#,
            first,
            next
        )
        .fetch(&mut *tx);
        while let Some(r) = rows.try_next().await? {
            let cells = [
                r.company_id.to_string(),
                r.company_name,
                r.period,
                r.consultations.to_string(),
                r.minutes.to_string(),
                r.active_employees.to_string(),
                r.video_consultations.to_string(),
                r.video_minutes.to_string(),
                r.audio_consultations.to_string(),
                r.audio_minutes.to_string(),
                r.in_person_consultations.to_string(),
                r.in_person_minutes.to_string(),
            ];
            if !csv.line(&cells).await {
                return Ok(());
            }
        }
        Ok(())
    }
    .await;
    if result.is_ok() {
        tx.commit().await.ok();
    }
    csv.finish(result, "platform_usage").await;
}

/// Enqueues, once per company and month, a mail to each of its HR admins saying that last month's
/// report is ready (a link, no figures), as soon as that month is complete in the company's zone
/// (its first local day). Idempotent across replicas and restarts: the notice row and the mails
/// are written in one transaction, and the row's key refuses a second one. Returns the mails
/// enqueued. Companies created this month are skipped (they have no past month).
pub async fn notify_reports_ready(system: &sqlx::PgPool) -> ApiResult<usize> {
    let mut tx = crate::infra::db::context::begin(system).await?;
    let due = sqlx::query!(
        r#"WITH due AS (
               SELECT co.id,
                      to_char(date_trunc('month', now() AT TIME ZONE co.time_zone) - interval '1 month', 'YYYY-MM') AS period
               FROM companies co
               WHERE co.is_active AND co.deleted_at IS NULL
                 AND co.created_at < date_trunc('month', now() AT TIME ZONE co.time_zone) AT TIME ZONE co.time_zone
           ), hr AS (
               SELECT d.id AS company_id, d.period, array_agg(u.id) AS users
               FROM due d
               JOIN users u ON u.company_id = d.id AND u.role = 'ADMIN_RH' AND u.is_active AND u.erased_at IS NULL
               GROUP BY d.id, d.period
           )
           INSERT INTO report_notices (company_id, period, recipients)
           SELECT company_id, period, cardinality(users) FROM hr
           ON CONFLICT DO NOTHING
           RETURNING company_id, period,
             (SELECT users FROM hr WHERE hr.company_id = report_notices.company_id) AS "users!""#
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut sent = 0;
    for notice in &due {
        for user in &notice.users {
            crate::infra::jobs::enqueue_mail(
                &mut tx,
                crate::infra::mail::templates::MailKind::ReportReady,
                *user,
            )
            .await?;
            sent += 1;
        }
        tracing::info!(company_id = %notice.company_id, period = %notice.period, "report ready notices enqueued");
    }
    tx.commit().await?;
    Ok(sent)
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
        .routes(routes!(export_platform_usage_csv))
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
