//! The consultation room page, `/room`: static assets embedded in the binary (HTML, CSS, our
//! JavaScript and the vendored `socket.io-client` browser build), served with a strict Content
//! Security Policy — scripts from this origin only, plus Jitsi's `external_api.js` from the
//! configured `JITSI_DOMAIN` for VIDEO consultations. See `docs/web-room.md`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::infra::state::AppState;

/// One embedded file: its path under `/room/`, content type and bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const INDEX: &[u8] = include_bytes!("../../web/room/index.html");

const ASSETS: &[Asset] = &[
    Asset {
        path: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../web/room/app.js"),
    },
    Asset {
        path: "room.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../web/room/room.css"),
    },
    Asset {
        path: "vendor/socket.io.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../web/room/vendor/socket.io.min.js"),
    },
];

/// The `/room` routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/room", get(index))
        .route("/room/", get(|| async { Redirect::permanent("/room") }))
        .route("/room/{*path}", get(asset))
}

/// The page's policy without Jitsi; the Jitsi origin is added to `script-src` and `frame-src`.
/// It is also what the page gets if the configured domain cannot be written into a header (fail
/// closed: video then does not load, everything else works).
const WITHOUT_JITSI: &str = "default-src 'self'; script-src 'self'; frame-src 'none'; connect-src 'self'; \
     img-src 'self' data:; media-src 'self' blob: mediastream:; style-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The page's security headers: nothing from elsewhere but Jitsi, no framing of the page itself.
fn secured(mut response: Response, jitsi_domain: &str) -> Response {
    let jitsi = format!("https://{jitsi_domain}");
    let policy = WITHOUT_JITSI
        .replacen(
            "script-src 'self';",
            &format!("script-src 'self' {jitsi};"),
            1,
        )
        .replacen("frame-src 'none';", &format!("frame-src {jitsi};"), 1);
    let headers = response.headers_mut();
    let value =
        HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static(WITHOUT_JITSI));
    headers.insert(header::CONTENT_SECURITY_POLICY, value);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("microphone=(self), camera=(self), geolocation=()"),
    );
    response
}

fn serve(content_type: &'static str, bytes: &'static [u8], jitsi_domain: &str) -> Response {
    let response = (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        bytes,
    )
        .into_response();
    secured(response, jitsi_domain)
}

async fn index(State(state): State<AppState>) -> Response {
    serve(
        "text/html; charset=utf-8",
        INDEX,
        &state.settings.jitsi_domain,
    )
}

async fn asset(State(state): State<AppState>, Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.path == path) {
        Some(asset) => serve(
            asset.content_type,
            asset.bytes,
            &state.settings.jitsi_domain,
        ),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_that_cannot_be_a_header_still_gets_a_strict_policy() {
        let page = secured(StatusCode::OK.into_response(), "meet.example\nx: y");
        let policy = page
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .expect("a policy");
        assert_eq!(policy, WITHOUT_JITSI);
        let page = secured(StatusCode::OK.into_response(), "meet.example");
        let policy = page
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .expect("a policy");
        assert!(
            policy
                .to_str()
                .expect("ascii")
                .contains("script-src 'self' https://meet.example;")
        );
    }
}
