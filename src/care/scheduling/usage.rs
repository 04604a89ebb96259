//! Counters from COMPLETED consultations: how many and how many minutes (`actualDuration`).

use axum::Json;
use serde::Serialize;

use crate::infra::auth::Auth;
use crate::infra::auth::Practitioner;
use crate::infra::db::Tx;
use crate::infra::error::ApiResult;

/// Totals.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub consultation_count: i64,
    pub total_duration_minutes: i64,
}

/// Totals of one month (`YYYY-MM`, UTC).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonthUsage {
    pub period: String,
    pub consultation_count: i64,
    pub total_duration_minutes: i64,
}

/// Totals and their months.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageStats {
    #[serde(flatten)]
    pub total: Usage,
    /// Latest month first.
    pub months: Vec<MonthUsage>,
}

/// An employee's use of the company allowance in the current calendar year (UTC, the year
/// booking counts in): every consultation of that year that is not cancelled.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Allowance {
    /// Sessions per employee per year (the company's setting).
    pub per_year: i32,
    /// Sessions of this year booked, held or done (not cancelled).
    pub used: i64,
    /// `perYear − used`, never below 0.
    pub remaining: i64,
    /// When the count starts again: the next 1 January.
    #[schema(value_type = String, format = Date)]
    pub resets_on: chrono::NaiveDate,
}

/// The calling employee's allowance; `None` when the company sets no limit.
pub async fn own_allowance(tx: &mut Tx) -> ApiResult<Option<Allowance>> {
    use chrono::Datelike;
    let year = chrono::Utc::now().year();
    let row = sqlx::query!(
        r#"SELECT c.sessions_per_employee_per_year AS per_year, allowance_used(e.id, $1) AS "used!"
           FROM employees e
           JOIN companies c ON c.id = e.company_id
           WHERE e.id = app_employee_id()"#,
        year
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.and_then(|r| {
        let per_year = r.per_year?;
        Some(Allowance {
            per_year,
            used: r.used,
            remaining: (i64::from(per_year) - r.used).max(0),
            resets_on: chrono::NaiveDate::from_ymd_opt(year + 1, 1, 1)?,
        })
    }))
}

/// The caller's own totals, as a participant (employee or practitioner); RLS keeps it to theirs.
pub async fn own_totals(tx: &mut Tx) -> ApiResult<Usage> {
    Ok(sqlx::query_as!(
        Usage,
        r#"SELECT count(*) AS "consultation_count!",
             coalesce(sum(actual_duration), 0)::bigint AS "total_duration_minutes!"
           FROM consultations
           WHERE status = 'COMPLETED'
             AND (employee_id = app_employee_id() OR practitioner_id = app_practitioner_id())"#
    )
    .fetch_one(&mut **tx)
    .await?)
}

/// The practitioner's counters, in total and per month.
#[utoipa::path(get, path = "/practitioners/me/usage-stats", tag = "practitioners", security(("bearer" = [])),
    responses((status = 200, body = UsageStats)))]
pub async fn get_practitioner_stats(mut auth: Auth<Practitioner>) -> ApiResult<Json<UsageStats>> {
    let total = own_totals(&mut auth.tx).await?;
    let months: Vec<MonthUsage> = sqlx::query_as!(
        MonthUsage,
        r#"SELECT to_char(ended_at AT TIME ZONE 'UTC', 'YYYY-MM') AS "period!",
             count(*) AS "consultation_count!",
             coalesce(sum(actual_duration), 0)::bigint AS "total_duration_minutes!"
           FROM consultations
           WHERE status = 'COMPLETED' AND practitioner_id = app_practitioner_id()
           GROUP BY 1
           ORDER BY 1 DESC"#
    )
    .fetch_all(&mut *auth.tx)
    .await?;
    auth.commit().await?;
    Ok(Json(UsageStats { total, months }))
}
