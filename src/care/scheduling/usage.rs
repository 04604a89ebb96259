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
