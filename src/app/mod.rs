//! The composition root: it knows every feature and wires them together. Only `main.rs` and the
//! tests import it.

/// Old paths of the brief rewritten to the canonical ones.
pub mod aliases;
/// The `huntzen` command line: `serve`, `migrate`, `create-admin`, …
pub mod cli;
/// `huntzen seed-demo`: demo tenant, practitioners and consultations.
pub mod demo;
/// Liveness and readiness routes.
pub mod health;
/// The job workers: mail, reminders and backups on the durable queue.
pub mod jobs;
/// `huntzen healthcheck`: `GET /api/ready` without an HTTP client.
pub mod probe;
/// Every operation's error answers in the OpenAPI document.
mod responses;
/// The consultation room page, `/room`, embedded in the binary.
pub mod room_page;
/// The API map and the OpenAPI document.
pub mod routes;
/// Listening, middleware stack and graceful shutdown.
pub mod server;
/// Socket.IO namespaces: which feature answers which namespace.
pub mod sockets;

pub use routes::openapi;
