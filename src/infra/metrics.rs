//! Prometheus metrics at `GET /metrics`: requests per method, route template and status, their
//! latency, connected sockets, database pools and job queue states. Labels never carry an id, a
//! tenant or a user. The endpoint wants `Authorization: Bearer METRICS_TOKEN`; without a token
//! configured it answers loopback clients only.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::infra::state::AppState;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide recorder (installed on first use).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// Middleware: counts and times each routed request by its route template.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn scrape(state: AppState, request: Request) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .cloned();
    let headers: &HeaderMap = request.headers();
    let allowed = match &state.settings.metrics_token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| given.trim() == token),
        None => client.is_some_and(|ConnectInfo(addr)| addr.ip().is_loopback()),
    };
    if !allowed {
        return crate::infra::error::ApiError::unauthorized(
            "metrics.unauthorized",
            "Send `Authorization: Bearer METRICS_TOKEN`.",
        )
        .into_response();
    }
    let Some(handle) = handle() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let sockets: usize = state.realtime.local_sockets();
    metrics::gauge!("socketio_connected_sockets").set(sockets as f64);
    for (name, pool) in [("app", &state.db.app), ("system", &state.db.system)] {
        metrics::gauge!("db_pool_connections", "pool" => name).set(f64::from(pool.size()));
        metrics::gauge!("db_pool_idle_connections", "pool" => name).set(pool.num_idle() as f64);
    }
    let jobs: Vec<(String, String, i64)> = sqlx::query!(
        r#"SELECT job_type AS "job_type!", status AS "status!", count(*) AS "col2!"
               FROM apalis.jobs
               GROUP BY 1, 2"#
    )
    .map(|r| (r.job_type, r.status, r.col2))
    .fetch_all(&state.db.system)
    .await
    .unwrap_or_default();
    for (queue, status, count) in jobs {
        metrics::gauge!("jobs", "queue" => queue, "status" => status).set(count as f64);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
