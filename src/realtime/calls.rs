//! The `/audio-call` namespace: call signalling between the two participants of a consultation
//! (media flows peer to peer). The callee is always the other participant, derived here. Call
//! state lives on the server: ringing → connected → ended; unanswered after `CALL_RING_SECONDS`
//! both get `call:missed` (and the callee a notification); a callee already in a call makes the
//! caller get `call:busy`; if both sides call at once, the call already ringing is the one that
//! connects (both get `call:accepted`). WebRTC messages are relayed only within a call, only to
//! the other participant.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use socketioxide::extract::{SocketRef, TryData};
use uuid::Uuid;

use super::{begin, user_of, user_room, within_budget};
use crate::scheduling::model::{EventType, Status};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ringing,
    Connected,
}

#[derive(Debug, Clone)]
struct Call {
    caller: Uuid,
    callee: Uuid,
    phase: Phase,
    /// Distinguishes this call from a later one of the same consultation (ring timeout).
    number: u64,
    connected_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Calls in progress on this node.
#[derive(Debug, Default, Clone)]
pub struct Calls {
    inner: Arc<Mutex<CallTable>>,
}

#[derive(Debug, Default)]
struct CallTable {
    by_consultation: HashMap<Uuid, Call>,
    next: u64,
}

impl CallTable {
    fn busy(&self, user: Uuid) -> Option<Uuid> {
        self.by_consultation
            .iter()
            .find(|(_, c)| c.caller == user || c.callee == user)
            .map(|(id, _)| *id)
    }
}

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
        let (username, credential) = turn_credentials(secret, user, chrono::Utc::now().timestamp() + 3600);
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
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
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
async fn parties(state: &AppState, s: &SocketRef, consultation: Uuid) -> Option<Parties> {
    let user = user_of(s)?;
    if !within_budget(&user) {
        s.emit(
            "call:error",
            &json!({ "code": "rate_limited", "message": "Too many events." }),
        )
        .ok();
        return None;
    }
    let Ok(Some((mut tx, principal))) = begin(state, &user).await else {
        s.emit(
            "call:error",
            &json!({ "code": "auth.session_ended", "message": "This session has ended." }),
        )
        .ok();
        return None;
    };
    let row = crate::scheduling::consultations::load(&mut tx, consultation, false).await;
    tx.rollback().await.ok();
    let Ok(row) = row else {
        s.emit(
            "call:error",
            &json!({ "code": "consultation.not_found", "consultationId": consultation }),
        )
        .ok();
        return None;
    };
    if !matches!(row.status, Status::Scheduled | Status::Confirmed | Status::InProgress) {
        s.emit(
            "call:error",
            &json!({ "code": "call.unavailable", "consultationId": consultation }),
        )
        .ok();
        return None;
    }
    let me = principal.user_id;
    let (other, my_name) = if me == row.e_user_id {
        (row.p_user_id, format!("{} {}", row.e_first_name, row.e_last_name))
    } else {
        (
            row.e_user_id,
            format!("{} {} {}", row.p_title, row.p_first_name, row.p_last_name),
        )
    };
    Some(Parties { me, other, my_name })
}

async fn emit_to(s: &SocketRef, user: Uuid, event: &str, body: &Value) {
    s.within(user_room(user)).emit(event, body).await.ok();
}

async fn record(state: &AppState, s: &SocketRef, consultation: Uuid, event: EventType, metadata: Option<Value>) {
    let Some(user) = user_of(s) else { return };
    if let Ok(Some((mut tx, principal))) = begin(state, &user).await {
        let actor = (principal.user_id, principal.role);
        if crate::scheduling::consultations::record_event(&mut tx, consultation, event, actor, metadata)
            .await
            .is_ok()
        {
            tx.commit().await.ok();
        }
    }
}

/// A socket joined `/audio-call`.
pub async fn connected(state: AppState, s: SocketRef) {
    let Some(user) = user_of(&s) else { return };
    let me = user.principal.user_id;
    s.join(user_room(me));
    let calls = state.realtime.calls();

    let (st, c) = (state.clone(), calls.clone());
    s.on(
        "call:initiate",
        move |s: SocketRef, TryData(target): TryData<Target>| {
            let (state, calls) = (st.clone(), c.clone());
            async move {
                let Ok(Target { consultation_id: id }) = target else {
                    return;
                };
                let Some(p) = parties(&state, &s, id).await else { return };
                enum Outcome {
                    Ring(u64),
                    Busy,
                    Glare,
                    Again,
                }
                let outcome = {
                    let Ok(mut table) = calls.inner.lock() else { return };
                    let busy = table.busy(p.other).is_some() || table.busy(p.me).is_some();
                    match table.by_consultation.get_mut(&id) {
                        Some(call) if call.phase == Phase::Ringing && call.callee == p.me => {
                            call.phase = Phase::Connected;
                            call.connected_at = Some(chrono::Utc::now());
                            Outcome::Glare
                        }
                        Some(_) => Outcome::Again,
                        None if busy => Outcome::Busy,
                        None => {
                            table.next += 1;
                            let number = table.next;
                            let call = Call {
                                caller: p.me,
                                callee: p.other,
                                phase: Phase::Ringing,
                                number,
                                connected_at: None,
                            };
                            table.by_consultation.insert(id, call);
                            Outcome::Ring(number)
                        }
                    }
                };
                match outcome {
                    Outcome::Busy => {
                        s.emit("call:busy", &json!({ "consultationId": id })).ok();
                    }
                    Outcome::Again => {}
                    Outcome::Glare => {
                        for (user, other) in [(p.me, p.other), (p.other, p.me)] {
                            let body =
                                json!({ "consultationId": id, "by": other, "iceServers": ice_servers(&state, user) });
                            emit_to(&s, user, "call:accepted", &body).await;
                        }
                        record(&state, &s, id, EventType::CallStarted, Some(json!({ "glare": true }))).await;
                    }
                    Outcome::Ring(number) => {
                        let body = json!({ "consultationId": id, "callerId": p.me, "callerName": p.my_name,
                                       "iceServers": ice_servers(&state, p.other) });
                        emit_to(&s, p.other, "call:incoming", &body).await;
                        let ring = std::time::Duration::from_secs(state.settings.call_ring_seconds);
                        let (state, calls, s) = (state.clone(), calls.clone(), s.clone());
                        tokio::spawn(async move {
                            tokio::time::sleep(ring).await;
                            let missed = calls.inner.lock().ok().and_then(|mut table| {
                                let unanswered = table
                                    .by_consultation
                                    .get(&id)
                                    .is_some_and(|c| c.number == number && c.phase == Phase::Ringing);
                                if unanswered {
                                    table.by_consultation.remove(&id)
                                } else {
                                    None
                                }
                            });
                            if let Some(call) = missed {
                                for user in [call.caller, call.callee] {
                                    emit_to(&s, user, "call:missed", &json!({ "consultationId": id })).await;
                                }
                                sqlx::query(
                                    "INSERT INTO notifications (user_id, type, title, message, link_url) \
                                 VALUES ($1, 'SYSTEM', 'Appel manqué', 'Un appel audio n''a pas été décroché.', $2)",
                                )
                                .bind(call.callee)
                                .bind(format!("/consultations/{id}"))
                                .execute(&state.db.system)
                                .await
                                .ok();
                            }
                        });
                    }
                }
            }
        },
    );

    let (st, c) = (state.clone(), calls.clone());
    s.on("call:accept", move |s: SocketRef, TryData(target): TryData<Target>| {
        let (state, calls) = (st.clone(), c.clone());
        async move {
            let Ok(Target { consultation_id: id }) = target else {
                return;
            };
            let Some(p) = parties(&state, &s, id).await else { return };
            let accepted = calls
                .inner
                .lock()
                .ok()
                .is_some_and(|mut table| match table.by_consultation.get_mut(&id) {
                    Some(call) if call.callee == p.me && call.phase == Phase::Ringing => {
                        call.phase = Phase::Connected;
                        call.connected_at = Some(chrono::Utc::now());
                        true
                    }
                    _ => false,
                });
            if accepted {
                let body = json!({ "consultationId": id, "by": p.me, "iceServers": ice_servers(&state, p.other) });
                emit_to(&s, p.other, "call:accepted", &body).await;
                record(&state, &s, id, EventType::CallStarted, None).await;
            }
        }
    });

    let (st, c) = (state.clone(), calls.clone());
    s.on("call:reject", move |s: SocketRef, TryData(target): TryData<Target>| {
        let (state, calls) = (st.clone(), c.clone());
        async move {
            let Ok(Target { consultation_id: id }) = target else {
                return;
            };
            let Some(p) = parties(&state, &s, id).await else { return };
            let rejected = calls.inner.lock().ok().is_some_and(|mut table| {
                let ringing_me = table
                    .by_consultation
                    .get(&id)
                    .is_some_and(|c| c.callee == p.me && c.phase == Phase::Ringing);
                ringing_me && table.by_consultation.remove(&id).is_some()
            });
            if rejected {
                emit_to(&s, p.other, "call:rejected", &json!({ "consultationId": id })).await;
            }
        }
    });

    let (st, c) = (state.clone(), calls.clone());
    s.on("call:end", move |s: SocketRef, TryData(target): TryData<Target>| {
        let (state, calls) = (st.clone(), c.clone());
        async move {
            let Ok(Target { consultation_id: id }) = target else {
                return;
            };
            let Some(p) = parties(&state, &s, id).await else { return };
            let ended = calls.inner.lock().ok().and_then(|mut table| {
                let mine = table
                    .by_consultation
                    .get(&id)
                    .is_some_and(|c| c.caller == p.me || c.callee == p.me);
                if mine { table.by_consultation.remove(&id) } else { None }
            });
            if let Some(call) = ended {
                emit_to(&s, p.other, "call:ended", &json!({ "consultationId": id, "by": p.me })).await;
                if let Some(at) = call.connected_at {
                    let seconds = (chrono::Utc::now() - at).num_seconds();
                    record(
                        &state,
                        &s,
                        id,
                        EventType::CallEnded,
                        Some(json!({ "seconds": seconds })),
                    )
                    .await;
                }
            }
        }
    });

    for event in ["webrtc:offer", "webrtc:answer", "webrtc:ice-candidate"] {
        let c = calls.clone();
        s.on(event, move |s: SocketRef, TryData(payload): TryData<Value>| {
            let calls = c.clone();
            async move {
                let Ok(mut payload) = payload else { return };
                let Some(user) = user_of(&s) else { return };
                if !within_budget(&user) {
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
                // Relayed only inside a call this socket's user takes part in, to the other side.
                let other = calls.inner.lock().ok().and_then(|table| {
                    table.by_consultation.get(&id).and_then(|c| match me {
                        m if m == c.caller => Some(c.callee),
                        m if m == c.callee => Some(c.caller),
                        _ => None,
                    })
                });
                if let Some(other) = other {
                    payload["from"] = json!(me);
                    emit_to(&s, other, event, &payload).await;
                }
            }
        });
    }

    let c = calls.clone();
    s.on_disconnect(move |s: SocketRef| {
        let calls = c.clone();
        async move {
            let others = s
                .within(user_room(me))
                .sockets()
                .into_iter()
                .filter(|o| o.id != s.id)
                .count();
            if others > 0 {
                return;
            }
            let dropped: Vec<(Uuid, Call)> = calls
                .inner
                .lock()
                .map(|mut table| {
                    let ids: Vec<Uuid> = table
                        .by_consultation
                        .iter()
                        .filter(|(_, c)| c.caller == me || c.callee == me)
                        .map(|(id, _)| *id)
                        .collect();
                    ids.into_iter()
                        .filter_map(|id| table.by_consultation.remove(&id).map(|c| (id, c)))
                        .collect()
                })
                .unwrap_or_default();
            for (id, call) in dropped {
                let other = if call.caller == me { call.callee } else { call.caller };
                emit_to(&s, other, "call:ended", &json!({ "consultationId": id, "by": me })).await;
            }
        }
    });
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
        let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
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
