//! Socket.IO (socketioxide) on the API's port, path `/socket.io`. Every namespace authenticates
//! the handshake's `auth.token` (a live session, checked in the database); every event then runs
//! in its own RLS transaction for that session, so a revoked session can do nothing more, and a
//! sweeper disconnects its sockets. Namespaces: `/chat` (messages, typing, receipts, presence),
//! `/notifications` (pushes), `/audio-call` (call signalling, see `calls`). With `REDIS_URL` the
//! rooms span every `huntzen serve` process (socketioxide's Redis adapter) and call state lives in
//! PostgreSQL, so two participants on two nodes talk as if on one.
//!
//! The hub knows no feature: the composition root registers what answers each namespace through
//! [`Namespaces`], and handlers open their event transactions with [`Realtime::begin`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use serde::{Deserialize, Serialize};
use socketioxide::SocketIo;
use socketioxide::adapter::{Adapter, Emitter, LocalAdapter};
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide_redis::drivers::redis::redis_client;
use socketioxide_redis::{RedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
use sqlx::PgPool;
use uuid::Uuid;

use crate::infra::db::Db;
use crate::infra::db::context::{Tx, begin_as};
use crate::infra::error::ApiError;
use crate::infra::identity::Principal;
use crate::infra::tokens::AccessTokens;

/// Largest Socket.IO payload accepted.
pub const MAX_PAYLOAD: u64 = 64 * 1024;
/// Events one user may send per second by default, across all their sockets and nodes
/// (`SOCKET_EVENTS_PER_SECOND`).
pub const EVENTS_PER_SECOND: u32 = 30;
/// How often live sockets' sessions are re-checked.
pub const SWEEP_EVERY: Duration = Duration::from_secs(2);
/// The namespaces served.
pub const NAMESPACES: [&str; 3] = ["/chat", "/notifications", "/audio-call"];

/// The Socket.IO server of one node: alone, or joined to the others through Redis.
#[derive(Clone)]
enum Io {
    Local(
        SocketIo<LocalAdapter>,
        socketioxide::layer::SocketIoLayer<LocalAdapter>,
    ),
    Redis(
        SocketIo<RedisAdapter<Emitter>>,
        socketioxide::layer::SocketIoLayer<RedisAdapter<Emitter>>,
    ),
}

/// The Socket.IO handle kept in the application state.
#[derive(Clone)]
pub struct Realtime {
    io: Io,
    /// Socket events waiting for a database transaction (see [`begin`]).
    waiting: Arc<tokio::sync::Semaphore>,
    /// Per-user event budgets.
    budgets: Arc<Budgets>,
}

/// Each user's socket events in the current second: counted on this node for all of the user's
/// sockets here, and, with Redis, across every node (one `INCR` per event, in a key that expires).
struct Budgets {
    per_second: u32,
    here: Mutex<HashMap<Uuid, (Instant, u32)>>,
    shared: Option<redis_client::aio::MultiplexedConnection>,
}

impl Budgets {
    fn new(per_second: u32, shared: Option<redis_client::aio::MultiplexedConnection>) -> Arc<Self> {
        Arc::new(Self {
            per_second,
            here: Mutex::new(HashMap::new()),
            shared,
        })
    }

    /// Counts one event on this node; false when over the budget.
    fn count_here(&self, user: Uuid) -> bool {
        let Ok(mut here) = self.here.lock() else {
            return false;
        };
        if here.len() > 10_000 {
            here.retain(|_, (start, _)| start.elapsed() < Duration::from_secs(1));
        }
        let window = here.entry(user).or_insert((Instant::now(), 0));
        if window.0.elapsed() >= Duration::from_secs(1) {
            *window = (Instant::now(), 0);
        }
        window.1 += 1;
        window.1 <= self.per_second
    }

    /// Counts one event across nodes; when Redis does not answer, this node's count decides.
    async fn count_everywhere(&self, user: Uuid) -> bool {
        let Some(shared) = &self.shared else {
            return true;
        };
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let key = format!("huntzen:socket-budget:{user}:{second}");
        let mut conn = shared.clone();
        let counted: Result<(u32,), _> = redis_client::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, 2)
            .ignore()
            .query_async(&mut conn)
            .await;
        match counted {
            Ok((n,)) => n <= self.per_second,
            Err(error) => {
                tracing::warn!(%error, "the shared socket budget is unreachable; counting this node's");
                true
            }
        }
    }
}

/// How many socket events may wait for a database transaction at once. Past this, an event is
/// refused at once (`service.unavailable`) instead of queueing for up to the pool's 10 s acquire
/// timeout and failing then: under a flood the queue stays short, so the events it admits are
/// still answered in milliseconds. A refused message can be sent again with its `clientMessageId`.
pub const MAX_WAITING_EVENTS: usize = 64;

impl std::fmt::Debug for Realtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_clustered() {
            "Realtime(redis)"
        } else {
            "Realtime(local)"
        })
    }
}

fn builder() -> socketioxide::SocketIoBuilder {
    SocketIo::builder()
        .max_payload(MAX_PAYLOAD)
        .max_buffer_size(1024)
}

/// Who a socket is: set by the connect middleware.
#[derive(Debug, Clone)]
pub struct SocketUser {
    /// The principal at connect time (events re-check the session).
    pub principal: Principal,
    /// The login session.
    pub session_id: Uuid,
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

fn waiting() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(MAX_WAITING_EVENTS))
}

impl Realtime {
    /// A node of its own (no `redis_url`), or one of several sharing rooms through Redis. The Redis
    /// URL must ask for RESP3 (`?protocol=resp3`); it is added when missing.
    pub async fn connect(redis_url: Option<&str>, events_per_second: u32) -> anyhow::Result<Self> {
        let Some(url) = redis_url else {
            let (layer, io) = builder().build_layer();
            return Ok(Self {
                io: Io::Local(io, layer),
                waiting: waiting(),
                budgets: Budgets::new(events_per_second, None),
            });
        };
        let url = if url.to_ascii_lowercase().contains("protocol=resp3") {
            url.to_owned()
        } else if url.contains('?') {
            format!("{url}&protocol=resp3")
        } else {
            format!("{url}?protocol=resp3")
        };
        let client =
            redis_client::Client::open(url).context("REDIS_URL is not a valid Redis URL")?;
        let config = RedisAdapterConfig::default()
            .with_prefix("huntzen-socket.io")
            .with_request_timeout(Duration::from_secs(2));
        let adapter = RedisAdapterCtr::new_with_redis_config(&client, config)
            .await
            .context("connecting to Redis (REDIS_URL)")?;
        let budgets = client
            .get_multiplexed_async_connection()
            .await
            .context("connecting to Redis (REDIS_URL)")?;
        let (layer, io) = builder()
            .with_adapter::<RedisAdapter<_>>(adapter)
            .build_layer();
        Ok(Self {
            io: Io::Redis(io, layer),
            waiting: waiting(),
            budgets: Budgets::new(events_per_second, Some(budgets)),
        })
    }

    /// Whether rooms span several nodes through Redis.
    pub fn is_clustered(&self) -> bool {
        matches!(self.io, Io::Redis(..))
    }

    /// Mounts Socket.IO on the router (inside whatever layers are added after this).
    pub fn mount(&self, router: Router) -> Router {
        match &self.io {
            Io::Local(_, layer) => router.layer(layer.clone()),
            Io::Redis(_, layer) => router.layer(layer.clone()),
        }
    }

    /// Sockets connected to this node, over every namespace.
    pub fn local_sockets(&self) -> usize {
        match &self.io {
            Io::Local(io, _) => count_local(io),
            Io::Redis(io, _) => count_local(io),
        }
    }

    /// Emits each of `events` with `body` to a room of a namespace, on every node.
    pub async fn emit_to_room(
        &self,
        namespace: &str,
        room: String,
        events: &[&str],
        body: &impl Serialize,
    ) {
        self.emit(namespace, room, events, body, false).await;
    }

    /// The same, to this node's sockets only.
    async fn emit_to_room_here(
        &self,
        namespace: &str,
        room: String,
        events: &[&str],
        body: &impl Serialize,
    ) {
        self.emit(namespace, room, events, body, true).await;
    }

    async fn emit(
        &self,
        namespace: &str,
        room: String,
        events: &[&str],
        body: &impl Serialize,
        local: bool,
    ) {
        match &self.io {
            Io::Local(io, _) => emit_in(io, namespace, room, events, body, local).await,
            Io::Redis(io, _) => emit_in(io, namespace, room, events, body, local).await,
        }
    }

    /// Counts one socket event of `user` against their budget of the current second, shared by all
    /// of their sockets on every node; false when over it (the event is refused `rate_limited`).
    pub async fn within_budget(&self, user: &SocketUser) -> bool {
        let id = user.principal.user_id;
        self.budgets.count_here(id) && self.budgets.count_everywhere(id).await
    }

    /// Disconnects, on every node and in every namespace, the sockets of these login sessions
    /// (signed out, password changed, suspended). The sweeper would find them within
    /// [`SWEEP_EVERY`]; this is at once.
    pub async fn end_sessions(&self, sessions: &[Uuid]) {
        if sessions.is_empty() {
            return;
        }
        let rooms: Vec<String> = sessions.iter().map(|s| session_room(*s)).collect();
        match &self.io {
            Io::Local(io, _) => disconnect_in(io, rooms).await,
            Io::Redis(io, _) => disconnect_in(io, rooms).await,
        }
    }

    /// Registers the namespaces (waiting until the Redis adapter has subscribed) and starts the
    /// background tasks (session sweeper, notification listener). Call once per application.
    pub async fn start<N: Namespaces>(&self, gate: Gate, features: N) -> anyhow::Result<()> {
        match &self.io {
            Io::Local(io, _) => {
                register(io, &gate, &features);
                tokio::spawn(sweep(io.clone(), gate.db.system.clone()));
            }
            Io::Redis(io, _) => {
                for init in register(io, &gate, &features) {
                    init.await
                        .map_err(|e| anyhow::anyhow!("Socket.IO Redis adapter: {e}"))?;
                }
                tokio::spawn(sweep(io.clone(), gate.db.system.clone()));
            }
        }
        tokio::spawn(push_notifications(self.clone(), gate.db.system));
        Ok(())
    }

    /// Opens the event's transaction for the socket's session (`None`: the session has ended), or
    /// refuses at once when [`MAX_WAITING_EVENTS`] events already wait for one.
    pub async fn begin(
        &self,
        pool: &PgPool,
        user: &SocketUser,
    ) -> Result<Option<(Tx, Principal)>, ApiError> {
        let Ok(_waiting) = self.waiting.try_acquire() else {
            return Err(ApiError::unavailable(
                "The service is busy; send again shortly.",
            ));
        };
        Ok(begin_as(pool, user.session_id).await?)
    }
}

/// What the hub needs to admit a socket: the token keys, the database (the request pool for the
/// session check, the owner pool for the sweeper and the notification listener) and the origins.
#[derive(Debug, Clone)]
pub struct Gate {
    /// Access-token keys.
    pub tokens: Arc<AccessTokens>,
    /// Database pools.
    pub db: Db,
    /// Origins allowed besides the server's own.
    pub origins: Vec<String>,
}

/// What answers on each namespace, provided by the composition root. `/notifications` needs
/// nothing more: the hub joins each socket to its user's room there.
pub trait Namespaces: Clone + Send + Sync + 'static {
    /// Installs the event handlers of an authenticated socket, before CONNECT is sent.
    fn listen<A: Adapter>(&self, s: &SocketRef<A>);
    /// Runs once the socket is connected (spawned by socketioxide).
    fn connected<A: Adapter>(
        &self,
        s: SocketRef<A>,
    ) -> impl std::future::Future<Output = ()> + Send;
}

fn count_local<A: Adapter>(io: &SocketIo<A>) -> usize {
    io.nsps().into_iter().map(|ns| ns.sockets().len()).sum()
}

async fn disconnect_in<A: Adapter>(io: &SocketIo<A>, rooms: Vec<String>) {
    for namespace in NAMESPACES {
        if let Some(ns) = io.of(namespace)
            && let Err(error) = ns.within(rooms.clone()).disconnect().await
        {
            tracing::warn!(%error, "disconnecting ended sessions failed; the sweeper will");
        }
    }
}

async fn emit_in<A: Adapter>(
    io: &SocketIo<A>,
    namespace: &str,
    room: String,
    events: &[&str],
    body: &impl Serialize,
    local: bool,
) {
    let Some(ns) = io.of(namespace) else { return };
    let target = if local { ns.local() } else { ns };
    for event in events {
        target
            .clone()
            .within(room.clone())
            .emit(event, body)
            .await
            .ok();
    }
}

fn register<A: Adapter + socketioxide_core::adapter::DefinedAdapter, N: Namespaces>(
    io: &SocketIo<A>,
    gate: &Gate,
    features: &N,
) -> Vec<A::InitRes> {
    NAMESPACES
        .into_iter()
        .map(|namespace| {
            let auth_gate = gate.clone();
            let auth_features = features.clone();
            let connect_features = features.clone();
            let auth = move |s: SocketRef<A>, TryData(handshake): TryData<Handshake>| {
                let gate = auth_gate.clone();
                let features = auth_features.clone();
                async move {
                    authenticate(&gate, &s, handshake.ok()).await?;
                    // Handlers before CONNECT is sent (the connect handler runs later, spawned).
                    if s.ns() == "/notifications" {
                        notifications_listen(&s);
                    } else {
                        features.listen(&s);
                    }
                    Ok::<(), Refused>(())
                }
            };
            let on_connect = move |s: SocketRef<A>| {
                let features = connect_features.clone();
                async move { features.connected(s).await }
            };
            io.ns(namespace, on_connect.with(auth))
        })
        .collect()
}

async fn authenticate<A: Adapter>(
    gate: &Gate,
    s: &SocketRef<A>,
    handshake: Option<Handshake>,
) -> Result<(), Refused> {
    let origins = &gate.origins;
    let headers = &s.req_parts().headers;
    if let Some(origin) = headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
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
    let claims = gate
        .tokens
        .verify(&token)
        .ok_or(Refused("auth.invalid_token"))?;
    let (tx, principal) = begin_as(&gate.db.app, claims.sid)
        .await
        .map_err(|_| Refused("service.unavailable"))?
        .ok_or(Refused("auth.session_ended"))?;
    tx.rollback().await.ok();
    if principal.user_id != claims.sub {
        return Err(Refused("auth.invalid_token"));
    }
    s.join(session_room(claims.sid));
    s.extensions.insert(SocketUser {
        principal,
        session_id: claims.sid,
    });
    Ok(())
}

/// The socket's user, if authenticated.
pub fn user_of<A: Adapter>(s: &SocketRef<A>) -> Option<SocketUser> {
    s.extensions.get::<SocketUser>()
}

/// The room of one login session's sockets, in every namespace.
fn session_room(session_id: Uuid) -> String {
    format!("session:{session_id}")
}

/// The personal room of a user in any namespace.
pub fn user_room(user_id: Uuid) -> String {
    format!("user:{user_id}")
}

/// How many sockets of `user_id` this namespace has on every node, not counting `except`.
pub async fn sockets_of<A: Adapter>(
    s: &SocketRef<A>,
    user_id: Uuid,
    except: Option<socketioxide::socket::Sid>,
) -> usize {
    match s.within(user_room(user_id)).fetch_sockets().await {
        Ok(sockets) => sockets
            .iter()
            .filter(|o| Some(o.data().id) != except)
            .count(),
        Err(error) => {
            tracing::warn!(%error, "counting sockets across nodes failed; counting this node's");
            s.within(user_room(user_id))
                .sockets()
                .iter()
                .filter(|o| Some(o.id) != except)
                .count()
        }
    }
}

fn notifications_listen<A: Adapter>(s: &SocketRef<A>) {
    if let Some(user) = user_of(s) {
        s.join(user_room(user.principal.user_id));
    }
}

/// Disconnects this node's sockets whose session ended or whose user or company was deactivated.
async fn sweep<A: Adapter>(io: SocketIo<A>, system: PgPool) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        let sockets: Vec<SocketRef<A>> =
            io.nsps().into_iter().flat_map(|ns| ns.sockets()).collect();
        let sessions: Vec<Uuid> = sockets
            .iter()
            .filter_map(|s| user_of(s).map(|u| u.session_id))
            .collect();
        if sessions.is_empty() {
            continue;
        }
        let live: Result<Vec<Uuid>, _> = sqlx::query_scalar!(
            r#"SELECT s.id
               FROM login_sessions s
               JOIN users u ON u.id = s.user_id
                 LEFT
               JOIN companies c ON c.id = u.company_id
               WHERE s.id = ANY($1) AND s.revoked_at IS NULL AND s.expires_at > now()
                 AND u.is_active AND NOT u.awaiting_approval AND u.erased_at IS NULL
                 AND (u.company_id IS NULL OR (c.is_active AND c.deleted_at IS NULL))"#,
            &sessions
        )
        .fetch_all(&system)
        .await;
        let Ok(live) = live else { continue };
        for socket in sockets {
            if user_of(&socket).is_some_and(|u| !live.contains(&u.session_id)) {
                socket.disconnect().ok();
            }
        }
    }
}

/// Pushes every new notification row to its user's sockets (`notification:new`). Every node
/// listens to PostgreSQL and pushes to its own sockets only, so nothing is sent twice.
async fn push_notifications(realtime: Realtime, system: PgPool) {
    loop {
        if let Err(error) = listen_for_notifications(&realtime, &system).await {
            tracing::warn!(%error, "notification listener stopped; restarting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen_for_notifications(realtime: &Realtime, system: &PgPool) -> anyhow::Result<()> {
    let mut listener = sqlx::postgres::PgListener::connect_with(system).await?;
    listener.listen("huntzen_notification").await?;
    loop {
        let event = listener.recv().await?;
        let Ok(id) = event.payload().parse::<Uuid>() else {
            continue;
        };
        let row: Option<(Uuid, serde_json::Value)> = sqlx::query!(
            r#"SELECT user_id AS "user_id!",
                 json_build_object('id', id, 'type', type, 'title', title, 'message', message, 'linkUrl', link_url, 'isRead', is_read, 'readAt', read_at, 'createdAt', created_at) AS "col1!"
               FROM notifications
               WHERE id = $1"#,
            id
        )
        .map(|r| (r.user_id, r.col1))
        .fetch_optional(system)
        .await?;
        if let Some((user_id, notification)) = row {
            let events = ["notification:new"];
            realtime
                .emit_to_room_here("/notifications", user_room(user_id), &events, &notification)
                .await;
        }
    }
}
