//! Real time with the official `socket.io-client` (npm) against a real listening server: the
//! scenarios live in `tests/realtime/*.mjs` and assert there; a failing check fails this test.

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp};
use crate::seed::Participants;

struct Setup {
    consultation: Uuid,
    company: Uuid,
    practitioner_id: Uuid,
    outsider_id: Uuid,
    employee: String,
    employee_refresh: String,
    practitioner: String,
    outsider: String,
}

async fn login(app: &TestApp, email: &str) -> (String, String) {
    let response = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": email, "password": PASSWORD }),
        )
        .await;
    (
        response.body["accessToken"]
            .as_str()
            .expect("access")
            .to_owned(),
        response.body["refreshToken"]
            .as_str()
            .expect("refresh")
            .to_owned(),
    )
}

async fn setup(app: &TestApp, status: &str) -> Setup {
    let company = app.seed_company("rt").await;
    let employee = app.seed_employee("emma@rt.test", company, "emma").await;
    let outsider_id = app.seed_employee("otto@rt.test", company, "otto").await;
    let practitioner = app.seed_practitioner("paula@cabinet.test", "Paula").await;
    let people = Participants {
        company,
        employee,
        practitioner,
    };
    let consultation = app.seed_consultation(people, "AUDIO", status, 1).await;
    let (employee, employee_refresh) = login(app, "emma@rt.test").await;
    Setup {
        consultation,
        company,
        practitioner_id: practitioner,
        outsider_id,
        employee,
        employee_refresh,
        practitioner: login(app, "paula@cabinet.test").await.0,
        outsider: login(app, "otto@rt.test").await.0,
    }
}

/// Runs `tests/realtime/{script}` with the scenario's configuration; panics with its output on failure.
pub async fn scenario(script: &str, config: serde_json::Value) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/realtime");
    assert!(
        dir.join("node_modules/socket.io-client").exists(),
        "socket.io-client is not installed: run `npm ci --prefix tests/realtime` (scripts/test does)"
    );
    let output = tokio::process::Command::new("node")
        .arg(dir.join(script))
        .current_dir(&dir)
        .env("HZ", config.to_string())
        .output()
        .await
        .expect("node (Node.js 20) must be installed");
    assert!(
        output.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_presence_receipts_and_replay_with_socket_io_client() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CONFIRMED").await;
    let url = app.listen().await;
    let config = json!({ "url": url, "consultationId": s.consultation, "employeeToken": s.employee,
                         "practitionerToken": s.practitioner, "outsiderToken": s.outsider });
    scenario("chat.mjs", config).await;
    let stored = app.stored_messages(s.consultation).await;
    assert_eq!(stored, 5, "Bonjour (once), three missed, one via REST");
    // Every history a participant's socket received is an audited read of the conversation,
    // named by that reader's pseudonym of it.
    let participants: Vec<Uuid> = sqlx::query_scalar(
        "SELECT e.user_id FROM consultations c JOIN employees e ON e.id = c.employee_id WHERE c.id = $1 \
         UNION ALL SELECT p.user_id FROM consultations c JOIN practitioners p ON p.id = c.practitioner_id WHERE c.id = $1",
    )
    .bind(s.consultation)
    .fetch_all(&app.db().system)
    .await
    .expect("participants");
    let pseudonyms: Vec<String> = participants
        .iter()
        .map(|user| app.state.pseudonyms.of(*user, s.consultation).to_string())
        .collect();
    let (reads, outsiders): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE resource_id = ANY($1)), count(*) FILTER (WHERE resource_id IS NULL OR NOT resource_id = ANY($1)) \
         FROM audit_logs WHERE action = 'READ' AND resource = 'messages' AND details->>'via' = 'socket'",
    )
    .bind(&pseudonyms)
    .fetch_one(&app.db().system)
    .await
    .expect("audit");
    assert!(
        reads >= 2,
        "both participants joined: {reads} audited reads"
    );
    assert_eq!(outsiders, 0, "a refused join reads nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_pushed_and_ended_sessions_dropped() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "SCHEDULED").await;
    let url = app.listen().await;
    let config = json!({ "url": url, "consultationId": s.consultation, "employeeToken": s.employee,
                         "practitionerToken": s.practitioner, "employeeRefreshToken": s.employee_refresh });
    scenario("notifications.mjs", config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_call_signalling_with_socket_io_client() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CONFIRMED").await;
    // The outsider has their own consultation with the same practitioner (to ring a busy line).
    let people = Participants {
        company: s.company,
        employee: s.outsider_id,
        practitioner: s.practitioner_id,
    };
    let other = app.seed_consultation(people, "AUDIO", "CONFIRMED", 3).await;
    let url = app.listen().await;
    let config = json!({ "url": url, "consultationId": s.consultation, "otherConsultationId": other,
                         "employeeToken": s.employee, "practitionerToken": s.practitioner, "outsiderToken": s.outsider });
    scenario("calls.mjs", config).await;
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT event_type::text FROM consultation_events WHERE consultation_id = $1 ORDER BY timestamp",
    )
    .bind(s.consultation)
    .fetch_all(&app.db().system)
    .await
    .expect("events");
    assert!(
        events.iter().filter(|e| *e == "CALL_STARTED").count() >= 2,
        "{events:?}"
    );
    assert!(events.contains(&"CALL_ENDED".to_owned()), "{events:?}");
    let missed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notifications WHERE title = 'Appel manqué'")
            .fetch_one(&app.db().system)
            .await
            .expect("count");
    assert_eq!(missed, 1);
}

/// A private `redis-server` on a free loopback port, stopped when dropped.
pub struct RedisServer {
    child: std::process::Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    pub async fn start() -> Self {
        let port = crate::helpers::free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let child = std::process::Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test installs Debian's redis-server)");
        // Owned before waiting, so that a failed start still stops the process (Drop).
        let server = Self {
            child,
            url: format!("redis://127.0.0.1:{port}/?protocol=resp3"),
            _dir: dir,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {port}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_rooms_presence_and_calls_through_redis() {
    let redis = RedisServer::start().await;
    let node_a = TestApp::spawn_configured(
        huntzen::infra::db::PoolSizes { app: 5, system: 3 },
        |settings| {
            settings.redis_url = Some(redis.url.clone());
        },
    )
    .await;
    let node_b = node_a.another_node().await;
    assert!(node_a.state.realtime.is_clustered() && node_b.state.realtime.is_clustered());
    let s = setup(&node_a, "CONFIRMED").await;
    let (url_a, url_b) = (node_a.listen().await, node_b.listen().await);
    let config = json!({ "urlA": url_a, "urlB": url_b, "consultationId": s.consultation, "employeeToken": s.employee,
                         "practitionerToken": s.practitioner, "outsiderToken": s.outsider });
    scenario("nodes.mjs", config).await;
    let stored = node_b.stored_messages(s.consultation).await;
    assert_eq!(
        stored, 3,
        "one message from each node's socket and one over REST"
    );
    let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM live_calls")
        .fetch_one(&node_a.db().system)
        .await
        .expect("calls");
    assert_eq!(calls, 0, "the call ended on both nodes");
}

/// A flood from 50 sockets at once on a pool of 5: what exceeds the waiting bound is refused at
/// once, the rest is stored, and the refused messages sent again are stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_flood_is_refused_at_once_past_the_waiting_bound() {
    // The per-user budget is lifted here: this is about the waiting bound, with two users.
    let app = TestApp::spawn_configured(
        huntzen::infra::db::PoolSizes { app: 5, system: 3 },
        |settings| settings.socket_events_per_second = 100_000,
    )
    .await;
    let s = setup(&app, "CONFIRMED").await;
    let url = app.listen().await;
    let config = json!({ "url": url, "consultationId": s.consultation, "employeeToken": s.employee,
                         "practitionerToken": s.practitioner });
    scenario("flood.mjs", config).await;
    let stored = app.stored_messages(s.consultation).await;
    assert_eq!(stored, 400, "50 sockets × 8 messages, each stored once");
}

/// One user with twenty sockets on two nodes sends two hundred messages at once: the per-user
/// budget holds across sockets and nodes (Redis), and what was accepted is exactly what is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_is_limited_across_sockets_and_nodes() {
    let redis = RedisServer::start().await;
    let node_a = TestApp::spawn_configured(
        huntzen::infra::db::PoolSizes { app: 5, system: 3 },
        |settings| {
            settings.redis_url = Some(redis.url.clone());
        },
    )
    .await;
    let node_b = node_a.another_node().await;
    let s = setup(&node_a, "CONFIRMED").await;
    let (url_a, url_b) = (node_a.listen().await, node_b.listen().await);
    let config = json!({ "urlA": url_a, "urlB": url_b, "consultationId": s.consultation,
                         "employeeToken": s.employee });
    let output = scenario("userlimit.mjs", config).await;
    let accepted: i64 = output
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v["accepted"].as_i64())
        .expect("accepted count");
    let stored = node_a.stored_messages(s.consultation).await;
    assert_eq!(stored, accepted, "{output}");
    assert!(stored <= 60, "{stored} stored from one user in one burst");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_logins_and_suspension_end_their_sockets_at_once() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CONFIRMED").await;
    app.create_user(
        "hr@rt.test",
        huntzen::infra::identity::Role::AdminRh,
        Some(s.company),
    )
    .await;
    let employee_user: Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'emma@rt.test'")
            .fetch_one(&app.db().system)
            .await
            .expect("employee user");
    let url = app.listen().await;
    // `setup` signed Emma in once (login A); B and C are two more devices.
    let config = json!({ "url": url, "tokenA": s.employee,
                         "tokenB": login(&app, "emma@rt.test").await.0,
                         "tokenC": login(&app, "emma@rt.test").await.0,
                         "hrToken": login(&app, "hr@rt.test").await.0,
                         "employeeUserId": employee_user, "password": PASSWORD });
    scenario("signout.mjs", config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acked_message_reaches_a_reconnecting_reader_in_one_order() {
    let app = TestApp::spawn_configured(
        huntzen::infra::db::PoolSizes { app: 5, system: 3 },
        |settings| settings.socket_events_per_second = 100_000,
    )
    .await;
    let s = setup(&app, "CONFIRMED").await;
    let url = app.listen().await;
    let config = json!({ "url": url, "consultationId": s.consultation, "employeeToken": s.employee,
                         "practitionerToken": s.practitioner });
    let output = scenario("delivery.mjs", config).await;
    let stored = app.stored_messages(s.consultation).await;
    assert_eq!(stored, 300 + 450, "each message stored once: {output}");
    let (positions, top): (i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT seq), max(seq) FROM messages WHERE consultation_id = $1",
    )
    .bind(s.consultation)
    .fetch_one(&app.db().system)
    .await
    .expect("positions");
    assert_eq!((positions, top), (750, 750), "positions 1..750, no gaps");
}

/// Reads a knob of the chaos test from the environment (`bench/chaos` turns them up).
fn chaos_knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Chaos, from outside: the release-like binary on its embedded PostgreSQL, both participants
/// sending and reading with reconnecting `socket.io-client` sockets, while the server is killed with
/// SIGKILL and restarted (3 times) and PostgreSQL is killed under it (once; the server restarts
/// it). Every acknowledged message is stored exactly once and reaches both participants, live or
/// on their next join, with one position for everyone. `bench/chaos` runs it longer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_messages_survive_server_and_postgres_kills_for_every_participant() {
    use crate::lifecycle as life;
    use rand::RngExt;
    let server_kills = chaos_knob("HUNTZEN_CHAOS_SERVER_KILLS", 3);
    let postgres_kills = chaos_knob("HUNTZEN_CHAOS_POSTGRES_KILLS", 1);
    let gap_ms = chaos_knob("HUNTZEN_CHAOS_GAP_MS", 2500);
    let dir = life::data_dir();
    let addr = life::free_addr();
    let path = dir.path().to_path_buf();
    let command = move || {
        let mut command = life::huntzen(&path, addr, None);
        command
            .env("ENCRYPTION_KEY", crate::helpers::ENCRYPTION_KEY)
            .env("SOCKET_EVENTS_PER_SECOND", "200");
        command
    };
    let start = {
        let command = command.clone();
        move || {
            let command = command.clone();
            tokio::task::spawn_blocking(move || life::serve(command(), addr))
        }
    };
    let mut server = start().await.expect("start");

    // People and a consultation, written with the test master key (the binary has the same one);
    // the participants then sign in to the binary itself.
    let cluster = huntzen::infra::db::embedded::EmbeddedPostgres::new(dir.path()).expect("cluster");
    let options = cluster.connect_options(huntzen::infra::db::embedded::DATABASE_NAME);
    let app = TestApp::spawn_on(
        options.clone(),
        huntzen::infra::db::PoolSizes { app: 2, system: 2 },
        |_| {},
    )
    .await;
    let company = app.seed_company("chaos").await;
    let people = Participants {
        company,
        employee: app.seed_employee("emma@chaos.test", company, "emma").await,
        practitioner: app.seed_practitioner("paula@cabinet.test", "Paula").await,
    };
    let consultation = app.seed_consultation(people, "AUDIO", "CONFIRMED", 1).await;
    let sign_in = |email: &str| {
        let body = json!({ "email": email, "password": PASSWORD }).to_string();
        let (status, answer) =
            life::http(addr, "POST", "/api/auth/login", Some(&body)).expect("login");
        assert_eq!(status, 200, "{answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).expect("json");
        answer["accessToken"].as_str().expect("token").to_owned()
    };
    let (employee, practitioner) = (sign_in("emma@chaos.test"), sign_in("paula@cabinet.test"));
    // This process's sessions would keep the cluster from stopping with the server.
    app.db().app.close().await;
    app.db().system.close().await;

    let done = dir.path().join("chaos-done");
    let config = json!({ "url": format!("http://{addr}"), "consultationId": consultation,
                         "employeeToken": employee, "practitionerToken": practitioner,
                         "doneFile": done });
    let script = tokio::spawn(scenario("chaos.mjs", config));
    let mut faults: Vec<bool> = (0..server_kills)
        .map(|_| false)
        .chain((0..postgres_kills).map(|_| true))
        .collect();
    let mut rng = rand::rng();
    for i in (1..faults.len()).rev() {
        faults.swap(i, rng.random_range(0..=i));
    }
    for kill_postgres in faults {
        let pause = rng.random_range(gap_ms / 2..=gap_ms * 3 / 2);
        tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
        if kill_postgres {
            life::kill_9(&life::postmaster_pid(cluster.cluster_dir()));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while !matches!(life::http(addr, "GET", "/api/ready", None), Some((200, _))) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "PostgreSQL was not restarted"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        } else {
            life::kill_9(&server.id().to_string());
            server.wait().expect("wait");
            server = start().await.expect("restart");
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(gap_ms)).await;
    std::fs::write(&done, "").expect("done file");
    let output = script.await.expect("scenario");
    let summary: serde_json::Value = output
        .lines()
        .find_map(|line| serde_json::from_str(line).ok())
        .expect("the scenario's summary line");
    println!("chaos: {server_kills} server kills, {postgres_kills} PostgreSQL kills: {summary}");
    assert!(
        summary["acked"].as_u64().expect("acked") > 50,
        "too few messages to mean anything"
    );

    let stored: i64 = {
        use sqlx::{ConnectOptions, Connection};
        let mut conn = options.connect().await.expect("connect");
        let n = sqlx::query_scalar("SELECT count(*) FROM messages WHERE consultation_id = $1")
            .bind(consultation)
            .fetch_one(&mut conn)
            .await
            .expect("count");
        conn.close().await.ok();
        n
    };
    assert_eq!(
        stored as u64,
        summary["acked"].as_u64().expect("acked"),
        "every stored message was acknowledged once"
    );
    tokio::task::spawn_blocking(move || life::terminate(server))
        .await
        .expect("stop");
}
