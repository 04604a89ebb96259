//! A database outage (issue 21): readiness answers 503 at once instead of hanging, requests get
//! the retryable `service.unavailable` (503 + `Retry-After`) rather than `internal`, and the job
//! workers come back by themselves: a mail asked for after the outage is delivered.
//!
//! The server reaches PostgreSQL through a small TCP relay the test can cut (every connection
//! dropped, new ones refused) and restore: the shared test cluster itself stays up.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use huntzen::infra::db::PoolSizes;
use huntzen::infra::identity::Role;
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use tokio::net::{TcpListener, UnixStream};
use tokio::task::AbortHandle;

use crate::helpers::{TestApp, fresh_database};

/// TCP on 127.0.0.1 → the cluster's Unix socket.
struct Relay {
    port: u16,
    socket: PathBuf,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Relay {
    async fn start(socket: PathBuf) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let relay = Self {
            port,
            socket,
            tasks: Arc::default(),
        };
        relay.serve(listener);
        relay
    }

    fn serve(&self, listener: TcpListener) {
        let (socket, tasks) = (self.socket.clone(), self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let socket = socket.clone();
                let pipe = tokio::spawn(async move {
                    if let Ok(mut server) = UnixStream::connect(&socket).await {
                        tokio::io::copy_bidirectional(&mut client, &mut server)
                            .await
                            .ok();
                    }
                });
                tasks.lock().expect("tasks").push(pipe.abort_handle());
            }
        });
        self.tasks
            .lock()
            .expect("tasks")
            .push(accept.abort_handle());
    }

    /// The database "goes down": every connection drops, new ones are refused.
    fn cut(&self) {
        for task in self.tasks.lock().expect("tasks").drain(..) {
            task.abort();
        }
    }

    /// It comes back on the same port.
    async fn restore(&self) {
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        self.serve(listener);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_answers_503_at_once_and_the_workers_come_back() {
    let direct = fresh_database().await;
    let socket = direct
        .get_socket()
        .expect("the test cluster listens on a Unix socket")
        .join(format!(".s.PGSQL.{}", direct.get_port()));
    let relay = Relay::start(socket).await;
    let through_relay = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(relay.port)
        .username(direct.get_username())
        .database(direct.get_database().expect("database"));
    let app = TestApp::spawn_on(through_relay, PoolSizes { app: 4, system: 3 }, |_| {}).await;
    app.create_user("ana@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let token = app.login("ana@huntzen.test").await;
    assert_eq!(app.get("/api/ready", None).await.status, StatusCode::OK);

    relay.cut();
    let asked = Instant::now();
    let ready = app.get("/api/ready", None).await;
    let waited = asked.elapsed();
    ready.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "service.unavailable");
    assert!(
        waited < Duration::from_secs(3),
        "readiness took {waited:?} to say the database is down"
    );
    let me = app.get("/api/me", Some(&token)).await;
    me.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "service.unavailable");
    assert!(
        me.headers.contains_key("retry-after"),
        "a 503 says when to retry"
    );
    // Past 30 s of failed polls apalis stops a worker ("pool timed out"): the outage that used to
    // stop mail for good. The log shows each worker being started again.
    tokio::time::sleep(Duration::from_secs(32)).await;

    relay.restore().await;
    let back = Instant::now();
    while app.get("/api/ready", None).await.status != StatusCode::OK {
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "never ready again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let asked = app
        .post(
            "/api/auth/forgot-password",
            None,
            json!({ "email": "ana@huntzen.test" }),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    let mail = app.wait_for_mail("ana@huntzen.test", 1).await;
    assert!(!mail.token("reset-password").is_empty());
}
