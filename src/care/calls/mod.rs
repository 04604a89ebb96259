//! The `/audio-call` namespace: call signalling between the two participants of a consultation
//! (media flows peer to peer). The callee is always the other participant, derived here. Call
//! state lives in PostgreSQL (`call_state`), shared by every node: ringing → connected → ended;
//! unanswered after `CALL_RING_SECONDS` both get `call:missed` (and the callee a notification); a
//! callee already in a call makes the caller get `call:busy`; if both sides call at once, the call
//! already ringing is the one that connects (both get `call:accepted`). WebRTC messages are relayed
//! only within a call, only to the other participant.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, TryData};
use uuid::Uuid;

pub mod state;

use self::state::{self as call_state, Ended, Initiated};
use crate::care::scheduling::model::{EventType, Status};
use crate::infra::realtime::{sockets_of, user_of, user_room};
use crate::infra::state::AppState;

/// An ICE server for `RTCPeerConnection`.
#[derive(Debug, Clone, Serialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// STUN servers, and TURN with short-lived REST credentials (valid one hour) when configured.
pub fn ice_servers(state: &AppState, user: Uuid) -> Vec<IceServer> {
    let mut servers = Vec::new();
    let stun = list(&state.settings.stun_urls);
    if !stun.is_empty() {
        servers.push(IceServer {
            urls: stun,
            username: None,
            credential: None,
        });
    }
    if let (Some(secret), Some(urls)) = (&state.settings.turn_secret, &state.settings.turn_urls) {
        let (username, credential) =
            turn_credentials(secret, user, chrono::Utc::now().timestamp() + 3600);
        servers.push(IceServer {
            urls: list(urls),
            username: Some(username),
            credential: Some(credential),
        });
    }
    servers
}

/// TURN REST credentials (coturn `use-auth-secret`): username `<expiry>:<userId>`, password
/// base64(HMAC-SHA1(secret, username)).
pub fn turn_credentials(secret: &str, user: Uuid, expires_at: i64) -> (String, String) {
    use hmac::{Hmac, Mac};
    let username = format!("{expires_at}:{user}");
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(username.as_bytes());
    (
        username,
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()),
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    consultation_id: Uuid,
}

struct Parties {
    me: Uuid,
    other: Uuid,
    my_name: String,
}

/// Checks the caller takes part in a live consultation; returns both user ids and the caller's name.
async fn parties<A: Adapter>(
    state: &AppState,
    s: &SocketRef<A>,
    consultation: Uuid,
) -> Option<Parties> {
    let user = user_of(s)?;
    if !state.realtime.within_budget(&user).await {
        s.emit(
            "call:error",
            &json!({ "code": "rate_limited", "message": "Too many events." }),
        )
        .ok();
        return None;
    }
    let Ok(Some((mut tx, principal))) = state.realtime.begin(&state.db.app, &user).await else {
        s.emit(
            "call:error",
            &json!({ "code": "auth.session_ended", "message": "This session has ended." }),
        )
        .ok();
        return None;
    };
    let row = crate::care::scheduling::consultations::load(&mut tx, consultation, false).await;
    tx.rollback().await.ok();
    let Ok(row) = row else {
        s.emit(
            "call:error",
            &json!({ "code": "consultation.not_found", "consultationId": consultation }),
        )
        .ok();
        return None;
    };
    if !matches!(
        row.status,
        Status::Scheduled | Status::Confirmed | Status::InProgress
    ) {
        s.emit(
            "call:error",
            &json!({ "code": "call.unavailable", "consultationId": consultation }),
        )
        .ok();
        return None;
    }
    let me = principal.user_id;
    let (other, my_name) = if me == row.e_user_id {
        (
            row.p_user_id,
            format!("{} {}", row.e_first_name, row.e_last_name),
        )
    } else {
        (
            row.e_user_id,
            format!("{} {} {}", row.p_title, row.p_first_name, row.p_last_name),
        )
    };
    Some(Parties { me, other, my_name })
}

async fn emit_to<A: Adapter>(s: &SocketRef<A>, user: Uuid, event: &str, body: &Value) {
    s.within(user_room(user)).emit(event, body).await.ok();
}

async fn record<A: Adapter>(
    state: &AppState,
    s: &SocketRef<A>,
    consultation: Uuid,
    event: EventType,
    metadata: Option<Value>,
) {
    let Some(user) = user_of(s) else { return };
    if let Ok(Some((mut tx, principal))) = state.realtime.begin(&state.db.app, &user).await {
        let actor = (principal.user_id, principal.role);
        if crate::care::scheduling::consultations::record_event(
            &mut tx,
            consultation,
            event,
            actor,
            metadata,
        )
        .await
        .is_ok()
        {
            tx.commit().await.ok();
        }
    }
}

/// Tells the other side a call ended, and records how long it was connected.
async fn announce_end<A: Adapter>(state: &AppState, s: &SocketRef<A>, me: Uuid, call: &Ended) {
    let body = json!({ "consultationId": call.consultation_id, "by": me });
    emit_to(s, call.other(me), "call:ended", &body).await;
    if let Some(seconds) = call.seconds {
        let metadata = Some(json!({ "seconds": seconds }));
        record(
            state,
            s,
            call.consultation_id,
            EventType::CallEnded,
            metadata,
        )
        .await;
    }
}

fn call_error<A: Adapter>(s: &SocketRef<A>, error: &sqlx::Error) {
    tracing::error!(%error, "call state");
    s.emit(
        "call:error",
        &json!({ "code": "service.unavailable", "message": "Try again." }),
    )
    .ok();
}

async fn on_initiate<A: Adapter>(state: AppState, s: SocketRef<A>, id: Uuid) {
    let Some(p) = parties(&state, &s, id).await else {
        return;
    };
    let ring_seconds = state.settings.call_ring_seconds;
    let outcome =
        match call_state::initiate(&state.db.system, id, p.me, p.other, ring_seconds).await {
            Ok(outcome) => outcome,
            Err(error) => return call_error(&s, &error),
        };
    match outcome {
        Initiated::Busy => {
            s.emit("call:busy", &json!({ "consultationId": id })).ok();
        }
        Initiated::Again => {}
        Initiated::Glare => {
            for (user, other) in [(p.me, p.other), (p.other, p.me)] {
                let body = json!({ "consultationId": id, "by": other, "iceServers": ice_servers(&state, user) });
                emit_to(&s, user, "call:accepted", &body).await;
            }
            record(
                &state,
                &s,
                id,
                EventType::CallStarted,
                Some(json!({ "glare": true })),
            )
            .await;
        }
        Initiated::Ring(call) => {
            let body = json!({ "consultationId": id, "callerId": p.me, "callerName": p.my_name,
                               "iceServers": ice_servers(&state, p.other) });
            emit_to(&s, p.other, "call:incoming", &body).await;
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_secs(ring_seconds)).await;
                if let Ok(Some(missed)) = call_state::expire(&state.db.system, id, call).await {
                    for user in [missed.caller, missed.callee] {
                        emit_to(&s, user, "call:missed", &json!({ "consultationId": id })).await;
                    }
                    sqlx::query!(
                        r#"INSERT INTO notifications (user_id, type, title, message, link_url)
                           VALUES ($1, 'SYSTEM', 'Appel manqué', 'Un appel audio n''a pas été décroché.', $2)"#,
                        missed.callee,
                        format!("/consultations/{id}")
                    )
                    .execute(&state.db.system)
                    .await
                    .ok();
                }
            });
        }
    }
}

async fn on_accept<A: Adapter>(state: AppState, s: SocketRef<A>, id: Uuid) {
    let Some(p) = parties(&state, &s, id).await else {
        return;
    };
    match call_state::accept(&state.db.system, id, p.me).await {
        Ok(true) => {
            let body = json!({ "consultationId": id, "by": p.me, "iceServers": ice_servers(&state, p.other) });
            emit_to(&s, p.other, "call:accepted", &body).await;
            record(&state, &s, id, EventType::CallStarted, None).await;
        }
        Ok(false) => {}
        Err(error) => call_error(&s, &error),
    }
}

async fn on_reject<A: Adapter>(state: AppState, s: SocketRef<A>, id: Uuid) {
    let Some(p) = parties(&state, &s, id).await else {
        return;
    };
    match call_state::reject(&state.db.system, id, p.me).await {
        Ok(true) => {
            emit_to(
                &s,
                p.other,
                "call:rejected",
                &json!({ "consultationId": id }),
            )
            .await
        }
        Ok(false) => {}
        Err(error) => call_error(&s, &error),
    }
}

async fn on_end<A: Adapter>(state: AppState, s: SocketRef<A>, id: Uuid) {
    let Some(p) = parties(&state, &s, id).await else {
        return;
    };
    match call_state::end(&state.db.system, id, p.me).await {
        Ok(Some(call)) => announce_end(&state, &s, p.me, &call).await,
        Ok(None) => {}
        Err(error) => call_error(&s, &error),
    }
}

/// Relays a WebRTC message only inside a call this socket's user takes part in, to the other side.
async fn relay<A: Adapter>(
    state: AppState,
    s: SocketRef<A>,
    event: &'static str,
    mut payload: Value,
) {
    let Some(user) = user_of(&s) else { return };
    if !state.realtime.within_budget(&user).await {
        return;
    }
    let Some(id) = payload
        .get("consultationId")
        .and_then(Value::as_str)
        .and_then(|v| v.parse::<Uuid>().ok())
    else {
        return;
    };
    let me = user.principal.user_id;
    if let Ok(Some(other)) = call_state::peer(&state.db.system, id, me).await {
        payload["from"] = json!(me);
        emit_to(&s, other, event, &payload).await;
    }
}

/// Ends `me`'s calls when no socket of theirs is left in `/audio-call` on any node.
async fn drop_calls_if_gone<A: Adapter>(state: &AppState, s: &SocketRef<A>, me: Uuid) {
    if sockets_of(s, me, Some(s.id)).await > 0 {
        return;
    }
    for call in call_state::drop_user(&state.db.system, me)
        .await
        .unwrap_or_default()
    {
        announce_end(state, s, me, &call).await;
    }
}

/// When a socket connected (set by `listen`, read by `connected`).
#[derive(Debug, Clone, Copy)]
struct ConnectedAt(chrono::DateTime<chrono::Utc>);

/// Joins the user's room and registers the event handlers. Called from the connect middleware,
/// before socketioxide sends CONNECT: the client may emit, or be rung, the moment it is connected.
pub fn listen<A: Adapter>(state: &AppState, s: &SocketRef<A>) {
    let Some(user) = user_of(s) else { return };
    let me = user.principal.user_id;
    s.extensions.insert(ConnectedAt(chrono::Utc::now()));
    s.join(user_room(me));

    macro_rules! on_target {
        ($event:literal, $handler:ident) => {{
            let state = state.clone();
            s.on(
                $event,
                move |s: SocketRef<A>, TryData(target): TryData<Target>| {
                    let state = state.clone();
                    async move {
                        if let Ok(Target { consultation_id }) = target {
                            $handler(state, s, consultation_id).await;
                        }
                    }
                },
            );
        }};
    }
    on_target!("call:initiate", on_initiate);
    on_target!("call:accept", on_accept);
    on_target!("call:reject", on_reject);
    on_target!("call:end", on_end);

    for event in ["webrtc:offer", "webrtc:answer", "webrtc:ice-candidate"] {
        let state = state.clone();
        s.on(
            event,
            move |s: SocketRef<A>, TryData(payload): TryData<Value>| {
                let state = state.clone();
                async move {
                    if let Ok(payload) = payload {
                        relay(state, s, event, payload).await;
                    }
                }
            },
        );
    }

    let state = state.clone();
    s.on_disconnect(move |s: SocketRef<A>| {
        let state = state.clone();
        async move { drop_calls_if_gone(&state, &s, me).await }
    });
}

/// A socket joined `/audio-call` (its handlers are already registered).
pub async fn connected<A: Adapter>(state: AppState, s: SocketRef<A>) {
    let Some(user) = user_of(&s) else { return };
    let me = user.principal.user_id;
    let Some(ConnectedAt(connected_at)) = s.extensions.get::<ConnectedAt>() else {
        return;
    };
    // The user's first socket: calls listed for them from before it connected were left by a node
    // that stopped (a live node ends them when the user's last socket goes).
    if sockets_of(&s, me, Some(s.id)).await == 0 {
        let stale = call_state::drop_stale(&state.db.system, me, connected_at).await;
        for call in stale.unwrap_or_default() {
            announce_end(&state, &s, me, &call).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_credentials_follow_the_rest_api_convention() {
        let user = Uuid::nil();
        let (username, password) = turn_credentials("north", user, 1_800_000_000);
        assert_eq!(username, "1800000000:00000000-0000-0000-0000-000000000000");
        // Independently: HMAC-SHA1("north", username), base64.
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(b"north").expect("key");
        mac.update(username.as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(password, expected);
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(&password)
                .expect("b64")
                .len(),
            20
        );
    }
}
