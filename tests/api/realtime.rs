//! Real time with the official `socket.io-client` (npm) against a real listening server: the
//! scenarios live in `tests/realtime/*.mjs` and assert there; a failing check fails this test.

use huntzen::auth::Role;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp};

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
        .post("/api/auth/login", None, json!({ "email": email, "password": PASSWORD }))
        .await;
    (
        response.body["accessToken"].as_str().expect("access").to_owned(),
        response.body["refreshToken"].as_str().expect("refresh").to_owned(),
    )
}

async fn setup(app: &TestApp, status: &str) -> Setup {
    let system = &app.db().system;
    let company: Uuid = sqlx::query_scalar(
        "INSERT INTO companies (name, slug, domain, is_active) VALUES ('RT', 'rt', 'rt.test', true) RETURNING id",
    )
    .fetch_one(system)
    .await
    .expect("company");
    let mut employees = Vec::new();
    for who in ["emma", "otto"] {
        let user = app
            .create_user(&format!("{who}@rt.test"), Role::Employee, Some(company))
            .await;
        let id: Uuid = sqlx::query_scalar(
            "INSERT INTO employees (user_id, company_id, first_name, last_name) VALUES ($1, $2, $3, 'E') RETURNING id",
        )
        .bind(user)
        .bind(company)
        .bind(who)
        .fetch_one(system)
        .await
        .expect("employee");
        employees.push(id);
    }
    let user = app.create_user("paula@cabinet.test", Role::Practitioner, None).await;
    let practitioner: Uuid = sqlx::query_scalar(
        "INSERT INTO practitioners (user_id, first_name, last_name, title, specialty, is_validated) VALUES ($1, 'Paula', 'P', 'Dr.', 'PSYCHIATRE', true) RETURNING id",
    )
    .bind(user)
    .fetch_one(system)
    .await
    .expect("practitioner");
    let consultation: Uuid = sqlx::query_scalar(
        "INSERT INTO consultations (company_id, employee_id, practitioner_id, scheduled_at, format, status) \
         VALUES ($1, $2, $3, now() + interval '1 day', 'AUDIO', $4::consultation_status) RETURNING id",
    )
    .bind(company)
    .bind(employees[0])
    .bind(practitioner)
    .bind(status)
    .fetch_one(system)
    .await
    .expect("consultation");
    let (employee, employee_refresh) = login(app, "emma@rt.test").await;
    Setup {
        consultation,
        company,
        practitioner_id: practitioner,
        outsider_id: employees[1],
        employee,
        employee_refresh,
        practitioner: login(app, "paula@cabinet.test").await.0,
        outsider: login(app, "otto@rt.test").await.0,
    }
}

/// Runs `tests/realtime/{script}` with the scenario's configuration; panics with its output on failure.
async fn scenario(script: &str, config: serde_json::Value) {
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_presence_receipts_and_replay_with_socket_io_client() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "CONFIRMED").await;
    let url = app.listen().await;
    let config = json!({ "url": url, "consultationId": s.consultation, "employeeToken": s.employee,
                         "practitionerToken": s.practitioner, "outsiderToken": s.outsider });
    scenario("chat.mjs", config).await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE consultation_id = $1")
        .bind(s.consultation)
        .fetch_one(&app.db().system)
        .await
        .expect("count");
    assert_eq!(stored, 5, "Bonjour (once), three missed, one via REST");
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
    let other: Uuid = sqlx::query_scalar(
        "INSERT INTO consultations (company_id, employee_id, practitioner_id, scheduled_at, format, status) \
         VALUES ($1, $2, $3, now() + interval '3 days', 'AUDIO', 'CONFIRMED') RETURNING id",
    )
    .bind(s.company)
    .bind(s.outsider_id)
    .bind(s.practitioner_id)
    .fetch_one(&app.db().system)
    .await
    .expect("second consultation");
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
    let missed: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications WHERE title = 'Appel manqué'")
        .fetch_one(&app.db().system)
        .await
        .expect("count");
    assert_eq!(missed, 1);
}
