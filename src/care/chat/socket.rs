//! The `/chat` namespace: `chat:join` (→ `chat:history`, `since` replays what was missed),
//! `chat:message` (acknowledged after commit, broadcast as `chat:message:received`), `chat:typing`,
//! `chat:read` (→ `chat:message:read`), `chat:leave`; the brief's `message:send` / `message:read`
//! work as aliases and `message:received` / `message:read` are emitted too. Presence:
//! `presence:update {userId, online}` to the people who share a consultation with the user.

use serde::Deserialize;
use serde_json::json;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use uuid::Uuid;

use crate::care::chat::messages::{self, Message};
use crate::infra::audit::{Action, Entry};
use crate::infra::db::{Principal, Tx};
use crate::infra::error::ApiError;
use crate::infra::realtime::{SocketUser, sockets_of, user_of, user_room};
use crate::infra::state::AppState;

/// The room of a consultation's chat.
pub fn room(consultation_id: Uuid) -> String {
    format!("consultation:{consultation_id}")
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Join {
    consultation_id: Uuid,
    /// The last message the client has (replay what follows it).
    since: Option<Uuid>,
    /// Or the last position (`seq`) the client has, contiguously.
    since_seq: Option<i64>,
}

/// Sent with `chat:history` (second argument, and in the `chat:join` ack): where the client
/// stands after this page.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    /// The last message of the page (pass as `since` next time); the previous one when empty.
    cursor: Option<Uuid>,
    /// Its position (`sinceSeq`).
    cursor_seq: Option<i64>,
    /// More messages wait after this page: join again with `since: cursor`.
    has_more: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Send {
    consultation_id: Uuid,
    content: String,
    client_message_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Typing {
    consultation_id: Uuid,
    #[serde(default)]
    is_typing: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Read {
    message_id: Uuid,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Leave {
    consultation_id: Uuid,
}

fn refuse<A: Adapter>(s: &SocketRef<A>, code: &str, message: &str) -> serde_json::Value {
    let body = json!({ "code": code, "message": message });
    s.emit("chat:error", &body).ok();
    body
}

fn refuse_error<A: Adapter>(s: &SocketRef<A>, error: &ApiError) -> serde_json::Value {
    refuse(s, error.code(), &error.to_string())
}

/// Opens a transaction of the socket's session; a refusal is emitted as `chat:error` and returned
/// (for the ack).
async fn open<A: Adapter>(
    state: &AppState,
    s: &SocketRef<A>,
    user: &SocketUser,
) -> Result<(Tx, Principal), serde_json::Value> {
    if !state.realtime.within_budget(user).await {
        return Err(refuse(s, "rate_limited", "Too many events; slow down."));
    }
    match state.realtime.begin(&state.db.app, user).await {
        Ok(Some(opened)) => Ok(opened),
        Ok(None) => {
            let body = refuse(s, "auth.session_ended", "This session has ended.");
            s.clone().disconnect().ok();
            Err(body)
        }
        Err(error) => Err(refuse_error(s, &error)),
    }
}

/// Commits on success; a failure is emitted as `chat:error` and returned (the transaction rolls
/// back).
async fn finish<A: Adapter, T>(
    s: &SocketRef<A>,
    tx: Tx,
    result: Result<T, ApiError>,
) -> Result<T, serde_json::Value> {
    match result {
        Ok(value) => match tx.commit().await {
            Ok(()) => Ok(value),
            Err(error) => Err(refuse_error(s, &ApiError::from(error))),
        },
        Err(error) => Err(refuse_error(s, &error)),
    }
}

/// Events a stored message is announced with (the brief's name too).
const RECEIVED: [&str; 2] = ["chat:message:received", "message:received"];

/// Sends a stored message to everyone in the consultation's room, on every node.
pub async fn broadcast_message(state: &AppState, message: &Message) {
    let room = room(message.consultation_id);
    state
        .realtime
        .emit_to_room("/chat", room, &RECEIVED, message)
        .await;
}

/// Tells the consultation's room, on every node, that a message was read.
pub async fn broadcast_read(state: &AppState, message: &Message, reader: Uuid) {
    let body = json!({ "messageId": message.id, "readBy": reader, "readAt": message.read_at });
    let room = room(message.consultation_id);
    let events = ["chat:message:read", "message:read"];
    state
        .realtime
        .emit_to_room("/chat", room, &events, &body)
        .await;
}

async fn partners(state: &AppState, user: &SocketUser) -> Vec<Uuid> {
    let Ok(Some((mut tx, _))) = state.realtime.begin(&state.db.app, user).await else {
        return Vec::new();
    };
    let found = sqlx::query_scalar!(
        r#"SELECT p.user_id AS "user_id!"
           FROM consultations c
           JOIN practitioners p ON p.id = c.practitioner_id
           WHERE c.employee_id = app_employee_id()
           UNION SELECT e.user_id
           FROM consultations c
           JOIN employees e ON e.id = c.employee_id
           WHERE c.practitioner_id = app_practitioner_id()"#
    )
    .fetch_all(&mut *tx)
    .await
    .unwrap_or_default();
    tx.rollback().await.ok();
    found
}

async fn announce<A: Adapter>(s: &SocketRef<A>, partners: &[Uuid], user_id: Uuid, online: bool) {
    for partner in partners {
        s.within(user_room(*partner))
            .emit(
                "presence:update",
                &json!({ "userId": user_id, "online": online }),
            )
            .await
            .ok();
    }
}

/// `chat:join`: checks the caller takes part, joins the room *then* reads, so that a message
/// committed meanwhile is in the page or arrives live (or both: clients de-duplicate by id).
async fn join_room<A: Adapter>(
    state: &AppState,
    s: &SocketRef<A>,
    user: &SocketUser,
    join: &Join,
) -> Result<(Vec<Message>, Page), serde_json::Value> {
    let (mut tx, principal) = open(state, s, user).await?;
    let id = join.consultation_id;
    if let Err(error) = messages::ensure_participant(&mut tx, id).await {
        // Dropping the transaction rolls it back.
        return Err(refuse_error(s, &error));
    }
    s.join(room(id));
    let after = match (join.since_seq, join.since) {
        (Some(seq), _) => Some(messages::After::Seq(seq)),
        (None, Some(message)) => Some(messages::After::Message(message)),
        (None, None) => None,
    };
    let result = match after {
        Some(after) => {
            messages::since(&mut tx, &state.keyring, id, after, messages::REPLAY_PAGE).await
        }
        None => messages::history(&mut tx, &state.keyring, id, None, 50)
            .await
            .map(|(history, _)| (history, false)),
    };
    // Every read of a conversation is audited, as over REST.
    let result = match result {
        Ok(read) => Entry::new(Action::Read, "messages")
            .by_principal(&principal)
            .target(state.pseudonyms.of(principal.user_id, id))
            .details(json!({ "via": "socket" }))
            .record(&mut tx)
            .await
            .map(|()| read)
            .map_err(ApiError::from),
        Err(error) => Err(error),
    };
    let (history, has_more) = finish(s, tx, result).await?;
    let last = history.last();
    let page = Page {
        cursor: last.map(|m| m.id).or(join.since),
        cursor_seq: last.map(|m| m.seq).or(join.since_seq),
        has_more,
    };
    Ok((history, page))
}

/// Joins the user's room and registers the event handlers. Called from the connect middleware,
/// before socketioxide sends CONNECT: the client may emit the moment it is connected, and the
/// connect handler itself runs later on a spawned task.
pub fn listen<A: Adapter>(state: &AppState, s: &SocketRef<A>) {
    let Some(user) = user_of(s) else { return };
    s.join(user_room(user.principal.user_id));
    let (st, u) = (state.clone(), user.clone());
    s.on(
        "chat:join",
        move |s: SocketRef<A>, TryData(join): TryData<Join>, ack: AckSender<A>| {
            let (state, user) = (st.clone(), u.clone());
            async move {
                let Ok(join) = join else {
                    let body = refuse(&s, "validation.failed", "chat:join needs {consultationId}");
                    ack.send(&json!({ "ok": false, "error": body })).ok();
                    return;
                };
                let answer = match join_room(&state, &s, &user, &join).await {
                    Ok((history, page)) => {
                        s.emit("chat:history", &(&history, &page)).ok();
                        json!({ "ok": true, "messages": history, "cursor": page.cursor,
                                "cursorSeq": page.cursor_seq, "hasMore": page.has_more })
                    }
                    Err(refusal) => json!({ "ok": false, "error": refusal }),
                };
                ack.send(&answer).ok();
            }
        },
    );

    let (st, u) = (state.clone(), user.clone());
    let on_send = move |s: SocketRef<A>, TryData(send): TryData<Send>, ack: AckSender<A>| {
        let (state, user) = (st.clone(), u.clone());
        async move {
            let Ok(send) = send else {
                ack.send(&json!({ "ok": false, "error": { "code": "validation.failed", "message": "chat:message needs {consultationId, content}" } })).ok();
                return;
            };
            let stored = match open(&state, &s, &user).await {
                Ok((mut tx, principal)) => {
                    let result = messages::send(
                        &mut tx,
                        &state.keyring,
                        &principal,
                        send.consultation_id,
                        &send.content,
                        send.client_message_id.as_deref(),
                        None,
                    )
                    .await;
                    finish(&s, tx, result).await
                }
                Err(refusal) => Err(refusal),
            };
            match stored {
                Ok((message, _first_time)) => {
                    ack.send(&json!({ "ok": true, "message": message })).ok();
                    // A resend of a stored message is announced again: the first try may have
                    // committed and died before its broadcast (receivers de-duplicate by id).
                    s.join(room(message.consultation_id));
                    for event in RECEIVED {
                        s.to(room(message.consultation_id))
                            .emit(event, &message)
                            .await
                            .ok();
                    }
                }
                Err(refusal) => {
                    ack.send(&json!({ "ok": false, "error": refusal })).ok();
                }
            }
        }
    };
    s.on("chat:message", on_send.clone());
    s.on("message:send", on_send);

    let (st, u) = (state.clone(), user.clone());
    s.on("chat:typing", move |s: SocketRef<A>, TryData(typing): TryData<Typing>| {
        let (state, user) = (st.clone(), u.clone());
        async move {
            let Ok(typing) = typing else { return };
            let room = room(typing.consultation_id);
            if state.realtime.within_budget(&user).await && s.rooms().iter().any(|r| *r == room) {
                let body = json!({ "consultationId": typing.consultation_id, "userId": user.principal.user_id, "isTyping": typing.is_typing });
                s.to(room).emit("chat:typing", &body).await.ok();
            }
        }
    });

    let (st, u) = (state.clone(), user.clone());
    let on_read = move |s: SocketRef<A>, TryData(read): TryData<Read>| {
        let (state, user) = (st.clone(), u.clone());
        async move {
            let Ok(read) = read else {
                refuse(&s, "validation.failed", "chat:read needs {messageId}");
                return;
            };
            let Ok((mut tx, principal)) = open(&state, &s, &user).await else {
                return;
            };
            let result =
                messages::mark_read(&mut tx, &state.keyring, &principal, read.message_id).await;
            let marked = finish(&s, tx, result).await;
            if let Ok(message) = marked {
                broadcast_read(&state, &message, user.principal.user_id).await;
            }
        }
    };
    s.on("chat:read", on_read.clone());
    s.on("message:read", on_read);

    s.on(
        "chat:leave",
        async |s: SocketRef<A>, TryData(leave): TryData<Leave>| {
            if let Ok(leave) = leave {
                s.leave(room(leave.consultation_id));
            }
        },
    );
}

/// A socket joined `/chat` (its handlers are already registered): presence.
pub async fn connected<A: Adapter>(state: AppState, s: SocketRef<A>) {
    let Some(user) = user_of(&s) else { return };
    let me = user.principal.user_id;
    let partners = partners(&state, &user).await;
    if sockets_of(&s, me, Some(s.id)).await == 0 {
        announce(&s, &partners, me, true).await;
    }
    for partner in &partners {
        if sockets_of(&s, *partner, None).await > 0 {
            s.emit(
                "presence:update",
                &json!({ "userId": partner, "online": true }),
            )
            .ok();
        }
    }

    s.on_disconnect(move |s: SocketRef<A>| {
        let partners = partners.clone();
        async move {
            if sockets_of(&s, me, Some(s.id)).await == 0 {
                announce(&s, &partners, me, false).await;
            }
        }
    });
}
