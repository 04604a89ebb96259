//! `huntzen seed-demo`: the demo it creates signs in and has a consultation in every state; a
//! second run changes nothing but passwords; production refuses it.

use http::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, test_settings};

const DEMO_PASSWORD: &str = "Une-autre-salle-de-demo";

async fn sign_in(app: &TestApp, email: &str) -> String {
    let body = json!({ "email": email, "password": DEMO_PASSWORD });
    let response = app.post("/api/auth/login", None, body).await;
    response.body["accessToken"]
        .as_str()
        .expect("access token")
        .to_owned()
}

#[tokio::test]
async fn seed_demo_creates_a_usable_tenant_once() {
    let app = TestApp::spawn().await;
    let seeded = huntzen::app::demo::seed(app.db(), DEMO_PASSWORD, &app.state.jitsi_secret)
        .await
        .expect("seed");
    assert!(seeded.created);
    let mut statuses: Vec<&str> = seeded.consultations.iter().map(|c| c.0.as_str()).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [
            "CANCELLED",
            "COMPLETED",
            "CONFIRMED",
            "IN_PROGRESS",
            "NO_SHOW",
            "SCHEDULED"
        ]
    );
    for login in &seeded.logins {
        let response = app
            .post(
                "/api/auth/login",
                None,
                json!({ "email": login.email, "password": DEMO_PASSWORD }),
            )
            .await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "{}: {}",
            login.email,
            response.body
        );
        assert_eq!(response.body["user"]["role"], login.role.to_string());
    }
    // The printed walkthrough's pair shares the AUDIO consultation that can be called now.
    let employee = sign_in(&app, "camille.martin@demo.huntzen.test").await;
    let practitioner = sign_in(&app, "dr.durand@praticiens.huntzen.test").await;
    let mine = app.get("/api/consultations/mine", Some(&employee)).await;
    let audio = mine.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["format"] == "AUDIO" && c["status"] == "CONFIRMED")
        .expect("a confirmed audio consultation")
        .clone();
    let upcoming = app
        .get("/api/consultations/upcoming", Some(&practitioner))
        .await;
    assert!(
        upcoming.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|c| c["id"] == audio["id"])
    );
    // Practitioners have availability: free slots exist.
    let slots = app
        .get(
            &format!(
                "/api/practitioners/{}/availability",
                audio["practitionerId"].as_str().expect("id")
            ),
            Some(&employee),
        )
        .await;
    assert_eq!(slots.status, StatusCode::OK, "{}", slots.body);
    assert!(!slots.body["slots"].as_array().expect("slots").is_empty());

    // Regression: demo consultations have their Jitsi room (HMAC of the id, as booked ones), so
    // the Jitsi webhook maps them instead of answering 404.
    let rooms: Vec<(uuid::Uuid, Option<String>)> = sqlx::query_as(
        "SELECT c.id, c.room_name FROM consultations c JOIN companies co ON co.id = c.company_id WHERE co.slug = 'demo-huntzen'",
    )
    .fetch_all(&app.db().system)
    .await
    .expect("rooms");
    assert_eq!(rooms.len(), seeded.consultations.len());
    for (id, room) in &rooms {
        assert_eq!(
            room.as_deref(),
            Some(
                huntzen::care::scheduling::consultations::room_name(&app.state.jitsi_secret, *id)
                    .as_str()
            )
        );
    }
    let audio_room = rooms
        .iter()
        .find(|(id, _)| audio["id"] == id.to_string())
        .and_then(|(_, room)| room.clone())
        .expect("the audio consultation's room");
    let created = json!({ "event_name": "muc-room-created", "room_name": audio_room,
                          "room_jid": format!("{audio_room}@conference.meet.test"), "created_at": 1_799_999_990 });
    let request = axum::http::Request::builder()
        .method(axum::http::Method::POST)
        .uri("/api/webhooks/jitsi/events")
        .header("content-type", "application/json")
        .header(
            "authorization",
            format!("Bearer {}", crate::helpers::JITSI_WEBHOOK_SECRET),
        )
        .body(axum::body::Body::from(created.to_string()))
        .expect("request");
    assert_eq!(app.send(request).await.status, StatusCode::NO_CONTENT);

    let again = huntzen::app::demo::seed(app.db(), DEMO_PASSWORD, &app.state.jitsi_secret)
        .await
        .expect("second run");
    assert!(!again.created);
    assert_eq!(again.consultations.len(), seeded.consultations.len());
    let users: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE email LIKE '%huntzen.test'")
            .fetch_one(&app.db().system)
            .await
            .expect("count");
    assert_eq!(users, 7);
    let text = huntzen::app::demo::describe(&again, DEMO_PASSWORD, "http://127.0.0.1:8080");
    assert!(
        text.contains("http://127.0.0.1:8080/room")
            && text.contains("camille.martin@demo.huntzen.test")
    );
}

#[test]
fn seed_demo_is_refused_in_production() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = test_settings(dir.path().to_path_buf());
    assert!(huntzen::app::demo::ensure_allowed(&settings).is_ok());
    settings.app_env = huntzen::infra::config::AppEnv::Production;
    let error = huntzen::app::demo::ensure_allowed(&settings).expect_err("refused");
    assert!(error.to_string().contains("APP_ENV=production"));

    // The command itself stops before touching any database.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_huntzen"))
        .arg("seed-demo")
        .env("APP_ENV", "production")
        .env("DATA_DIR", dir.path())
        .output()
        .expect("run huntzen");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("refused when APP_ENV=production"));
    assert!(
        !dir.path().join("postgres").exists(),
        "a database was started"
    );
}
