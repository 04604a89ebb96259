//! Which feature answers which Socket.IO namespace: `/chat` is the chat's, `/audio-call` the
//! calls'; the hub itself serves `/notifications`.

use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use crate::care::{calls, chat};
use crate::infra::realtime::{Gate, Namespaces};
use crate::infra::state::AppState;

/// The features behind the namespaces, with the state their handlers need.
#[derive(Debug, Clone)]
struct Features(AppState);

impl Namespaces for Features {
    fn listen<A: Adapter>(&self, s: &SocketRef<A>) {
        match s.ns() {
            "/chat" => chat::socket::listen(&self.0, s),
            "/audio-call" => calls::listen(&self.0, s),
            _ => {}
        }
    }

    async fn connected<A: Adapter>(&self, s: SocketRef<A>) {
        match s.ns() {
            "/chat" => chat::socket::connected(self.0.clone(), s).await,
            "/audio-call" => calls::connected(self.0.clone(), s).await,
            _ => {}
        }
    }
}

/// Registers the namespaces on the state's hub and starts its background tasks.
pub async fn start(state: &AppState) -> anyhow::Result<()> {
    let gate = Gate {
        tokens: state.tokens.clone(),
        db: state.db.clone(),
        origins: state.settings.allowed_origins(),
    };
    state.realtime.start(gate, Features(state.clone())).await
}
