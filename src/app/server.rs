//! Serving: the middleware stack around the router, and a `serve` that takes a bound listener and a
//! shutdown future (so tests run the real server on an ephemeral port). On shutdown, in-flight
//! requests finish before `serve` returns.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::IntoResponse;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::infra::error::ApiError;
use crate::infra::state::AppState;

/// Largest JSON body accepted (uploads set their own limit).
pub const BODY_LIMIT: usize = 1024 * 1024;
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The full application: routes, state and middleware. Starts Socket.IO's namespaces and
/// background tasks (waiting for the Redis adapter when there is one).
pub async fn app(state: AppState) -> anyhow::Result<Router> {
    // Before the first request: erasures the backups' ledger holds but this database does not (a
    // restored backup) are replayed, and the reverse copied to the ledger; clinical notes still
    // under a consultation's key move to their author's.
    let reconciled = crate::governance::backup::reconcile(
        &state.db.system,
        &state.keyring,
        &crate::infra::backup_files::BackupDir::new(&state.settings.data_dir),
        state.settings.clinical_note_retention_years,
    )
    .await?;
    if reconciled != crate::governance::backup::Reconciled::default() {
        tracing::info!(?reconciled, "erasure ledger reconciled");
    }
    crate::care::clinical::reseal_legacy_notes(&state.db.system, &state.keyring).await?;
    let cors = cors(&state.settings.allowed_origins());
    let proxies = std::sync::Arc::new(crate::infra::client_ip::TrustedProxies::parse(
        &state.settings.trusted_proxies,
    )?);
    crate::app::sockets::start(&state).await?;
    let realtime = state.realtime.clone();
    // Aliases are rewritten before routing, so the outer router only wraps the rewritten one.
    crate::infra::metrics::handle();
    let state_for_metrics = state.clone();
    let room = crate::app::room_page::router().with_state(state.clone());
    let routed = crate::app::routes::router().with_state(state);
    let rewritten = tower::ServiceBuilder::new()
        .layer(axum::middleware::map_response(api_headers))
        .layer(axum::middleware::from_fn(crate::app::aliases::route))
        .service(routed);
    let scrape_state = state_for_metrics;
    let router = Router::new()
        .route(
            "/metrics",
            axum::routing::get(move |request: axum::extract::Request| {
                crate::infra::metrics::scrape(scrape_state.clone(), request)
            }),
        )
        .merge(room)
        .fallback_service(rewritten)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "An unexpected error occurred.",
            )
            .into_response()
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ));
    // Socket.IO answers /socket.io itself, outside the timeout (long polling) but inside CORS.
    let router = realtime
        .mount(router)
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
            let id = request
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            // The path only: query strings may carry tokens (verification links).
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::from_fn_with_state(
            proxies,
            crate::infra::client_ip::resolve,
        ));
    Ok(router)
}

/// Headers every API answer carries unless its handler chose otherwise: nothing personal is kept
/// by a browser or a shared cache (`no-store`), and no answer is sniffed into another type.
async fn api_headers(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, REQUEST_ID])
        .expose_headers([REQUEST_ID, header::RETRY_AFTER])
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
}

/// Serves `app` on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}
