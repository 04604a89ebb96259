//! The `/audio-call` namespace (signalling only; media is peer to peer).

use socketioxide::extract::SocketRef;

use super::{user_of, user_room};
use crate::state::AppState;

/// A socket joined `/audio-call`.
pub async fn connected(_state: AppState, s: SocketRef) {
    if let Some(user) = user_of(&s) {
        s.join(user_room(user.principal.user_id));
    }
}
