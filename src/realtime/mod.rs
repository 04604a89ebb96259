//! Socket.IO (socketioxide) on the API's port, path `/socket.io`. Every namespace authenticates
//! the handshake's `auth.token` (a live session, checked in the database); every event then runs
//! in its own RLS transaction for that session, so a revoked session can do nothing more, and a
//! sweeper disconnects its sockets. Namespaces: `/chat` (messages, typing, receipts, presence),
//! `/notifications` (pushes), `/audio-call` (call signalling, see `calls`).

pub mod calls;
pub mod chat;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use socketioxide::SocketIo;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use uuid::Uuid;

use crate::db::context::{Principal, Tx, begin_as};
use crate::error::ApiError;
use crate::state::AppState;

/// Largest Socket.IO payload accepted.
pub const MAX_PAYLOAD: u64 = 64 * 1024;
/// Events a socket may send per second.
pub const EVENTS_PER_SECOND: u32 = 30;
/// How often live sockets' sessions are re-checked.
pub const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// The Socket.IO handle kept in the application state.
#[derive(Clone)]
pub struct Realtime {
    io: SocketIo,
    layer: SocketIoLayer,
    calls: calls::Calls,
}

impl std::fmt::Debug for Realtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Realtime")
    }
}

impl Default for Realtime {
    fn default() -> Self {
        let (layer, io) = SocketIo::builder()
            .max_payload(MAX_PAYLOAD)
            .max_buffer_size(1024)
            .build_layer();
        Self {
            io,
            layer,
            calls: calls::Calls::default(),
        }
    }
}

/// Who a socket is: set by the connect middleware.
#[derive(Debug, Clone)]
pub struct SocketUser {
    /// The principal at connect time (events re-check the session).
    pub principal: Principal,
    /// The login session.
    pub session_id: Uuid,
    /// Rate limit window: (start, events in it).
    budget: Arc<Mutex<(Instant, u32)>>,
}

/// The handshake's auth payload.
#[derive(Debug, Deserialize)]
pub struct Handshake {
    /// An access token.
    pub token: String,
}

/// Why a connection is refused (sent to the client as `connect_error`).
#[derive(Debug)]
pub struct Refused(&'static str);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl Realtime {
    /// The tower layer to mount on the router.
    pub fn layer(&self) -> SocketIoLayer {
        self.layer.clone()
    }

    /// Calls in progress.
    pub fn calls(&self) -> calls::Calls {
        self.calls.clone()
    }

    /// The Socket.IO handle.
    pub fn io(&self) -> &SocketIo {
        &self.io
    }

    /// Registers the namespaces and starts the background tasks (session sweeper, notification
    /// listener). Call once per application.
    pub fn start(&self, state: &AppState) {
        for namespace in ["/chat", "/notifications", "/audio-call"] {
            let connect_state = state.clone();
            let auth_state = state.clone();
            let origins = state.settings.allowed_origins();
            let auth = move |s: SocketRef, TryData(handshake): TryData<Handshake>| {
                let state = auth_state.clone();
                let origins = origins.clone();
                async move { authenticate(&state, &origins, &s, handshake.ok()).await }
            };
            let on_connect = move |s: SocketRef| {
                let state = connect_state.clone();
                async move {
                    match s.ns() {
                        "/chat" => chat::connected(state, s).await,
                        "/audio-call" => calls::connected(state, s).await,
                        _ => notifications_connected(s),
                    }
                }
            };
            self.io.ns(namespace, on_connect.with(auth));
        }
        tokio::spawn(sweep(state.clone()));
        tokio::spawn(push_notifications(state.clone()));
    }
}

async fn authenticate(
    state: &AppState,
    origins: &[String],
    s: &SocketRef,
    handshake: Option<Handshake>,
) -> Result<(), Refused> {
    let headers = &s.req_parts().headers;
    if let Some(origin) = headers.get(http::header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let same_origin = origin.split("://").nth(1) == Some(host);
        if !same_origin && !origins.iter().any(|o| o == origin) {
            return Err(Refused("origin not allowed"));
        }
    }
    let token = handshake.ok_or(Refused("auth.missing_token"))?.token;
    let claims = state.tokens.verify(&token).ok_or(Refused("auth.invalid_token"))?;
    let (tx, principal) = begin_as(&state.db.app, claims.sid)
        .await
        .map_err(|_| Refused("service.unavailable"))?
        .ok_or(Refused("auth.session_ended"))?;
    tx.rollback().await.ok();
    if principal.user_id != claims.sub {
        return Err(Refused("auth.invalid_token"));
    }
    s.extensions.insert(SocketUser {
        principal,
        session_id: claims.sid,
        budget: Arc::new(Mutex::new((Instant::now(), 0))),
    });
    Ok(())
}

/// The socket's user, if authenticated.
pub fn user_of(s: &SocketRef) -> Option<SocketUser> {
    s.extensions.get::<SocketUser>()
}

/// Counts one event against the socket's budget; false when over it.
pub fn within_budget(user: &SocketUser) -> bool {
    let Ok(mut budget) = user.budget.lock() else {
        return false;
    };
    if budget.0.elapsed() >= Duration::from_secs(1) {
        *budget = (Instant::now(), 0);
    }
    budget.1 += 1;
    budget.1 <= EVENTS_PER_SECOND
}

/// Opens the event's transaction for the socket's session (`None`: the session has ended).
pub async fn begin(state: &AppState, user: &SocketUser) -> Result<Option<(Tx, Principal)>, ApiError> {
    Ok(begin_as(&state.db.app, user.session_id).await?)
}

/// The personal room of a user in any namespace.
pub fn user_room(user_id: Uuid) -> String {
    format!("user:{user_id}")
}

fn notifications_connected(s: SocketRef) {
    if let Some(user) = user_of(&s) {
        s.join(user_room(user.principal.user_id));
    }
}

/// Disconnects sockets whose session ended or whose user or company was deactivated.
async fn sweep(state: AppState) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        let sockets: Vec<SocketRef> = state
            .realtime
            .io
            .nsps()
            .into_iter()
            .flat_map(|ns| ns.sockets())
            .collect();
        let sessions: Vec<Uuid> = sockets
            .iter()
            .filter_map(|s| user_of(s).map(|u| u.session_id))
            .collect();
        if sessions.is_empty() {
            continue;
        }
        let live: Result<Vec<Uuid>, _> = sqlx::query_scalar(
            "SELECT s.id FROM login_sessions s JOIN users u ON u.id = s.user_id LEFT JOIN companies c ON c.id = u.company_id \
             WHERE s.id = ANY($1) AND s.revoked_at IS NULL AND s.expires_at > now() AND u.is_active \
               AND NOT u.awaiting_approval AND u.erased_at IS NULL \
               AND (u.company_id IS NULL OR (c.is_active AND c.deleted_at IS NULL))",
        )
        .bind(&sessions)
        .fetch_all(&state.db.system)
        .await;
        let Ok(live) = live else { continue };
        for socket in sockets {
            if user_of(&socket).is_some_and(|u| !live.contains(&u.session_id)) {
                socket.disconnect().ok();
            }
        }
    }
}

/// Pushes every new notification row to its user's sockets on this node (`notification:new`).
async fn push_notifications(state: AppState) {
    loop {
        if let Err(error) = listen_for_notifications(&state).await {
            tracing::warn!(%error, "notification listener stopped; restarting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen_for_notifications(state: &AppState) -> anyhow::Result<()> {
    let mut listener = sqlx::postgres::PgListener::connect_with(&state.db.system).await?;
    listener.listen("huntzen_notification").await?;
    loop {
        let event = listener.recv().await?;
        let Ok(id) = event.payload().parse::<Uuid>() else {
            continue;
        };
        let row: Option<(Uuid, serde_json::Value)> = sqlx::query_as(
            "SELECT user_id, json_build_object('id', id, 'type', type, 'title', title, 'message', message, \
                    'linkUrl', link_url, 'isRead', is_read, 'readAt', read_at, 'createdAt', created_at) \
             FROM notifications WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&state.db.system)
        .await?;
        if let Some((user_id, notification)) = row
            && let Some(ns) = state.realtime.io.of("/notifications")
        {
            ns.local()
                .within(user_room(user_id))
                .emit("notification:new", &notification)
                .await
                .ok();
        }
    }
}
