//! The `/room` page in a real browser: Debian's Chromium driven by playwright-core
//! (`tests/browser/room.mjs`), two contexts (employee, practitioner) chatting and making a WebRTC
//! audio call over loopback, and a third (another employee) kept out. Screenshots are saved in
//! `test-artifacts/browser/`.

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};
use crate::seed::Participants;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_chat_and_call_in_the_room_and_an_outsider_cannot_join() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let scripts = dir.join("tests/browser");
    assert!(
        scripts.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` (scripts/test does)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "Chromium is not installed at {chromium}: scripts/test installs Debian's chromium"
    );
    let artifacts = dir.join("test-artifacts/browser");
    std::fs::create_dir_all(&artifacts).expect("artifacts directory");

    let app = TestApp::spawn().await;
    let company = app.seed_company("room").await;
    let employee = app.seed_employee("emma@room.test", company, "Emma").await;
    app.seed_employee("otto@room.test", company, "Otto").await;
    let practitioner = app.seed_practitioner("paula@cabinet.test", "Paula").await;
    let people = Participants {
        company,
        employee,
        practitioner,
    };
    let consultation = app.seed_consultation(people, "AUDIO", "CONFIRMED", 1).await;
    let url = app.listen().await;

    let config = json!({ "url": url, "consultationId": consultation, "password": PASSWORD,
        "employeeEmail": "emma@room.test", "practitionerEmail": "paula@cabinet.test",
        "outsiderEmail": "otto@room.test", "artifacts": artifacts });
    let output = tokio::process::Command::new("node")
        .arg(scripts.join("room.mjs"))
        .current_dir(&scripts)
        .env("HZ", config.to_string())
        .env("CHROMIUM", &chromium)
        .output()
        .await
        .expect("node (Node.js 20) must be installed");
    assert!(
        output.status.success(),
        "room.mjs failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for shot in [
        "room-employee-in-call.png",
        "room-practitioner-in-call.png",
        "room-outsider-refused.png",
    ] {
        assert!(artifacts.join(shot).exists(), "screenshot {shot} missing");
    }

    // What the page did is in the database: messages stored (sealed), the call recorded.
    assert_eq!(app.stored_messages(consultation).await, 3);
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT event_type::text FROM consultation_events WHERE consultation_id = $1 ORDER BY timestamp",
    )
    .bind(consultation)
    .fetch_all(&app.db().system)
    .await
    .expect("events");
    assert!(
        events.contains(&"CALL_STARTED".to_owned()) && events.contains(&"CALL_ENDED".to_owned()),
        "{events:?}"
    );
}

#[tokio::test]
async fn the_room_page_is_embedded_and_locked_down() {
    let app = TestApp::spawn().await;
    let page = app.call(http::Method::GET, "/room", None, None).await;
    assert_eq!(page.status, http::StatusCode::OK);
    let body = page.body.as_str().expect("html");
    assert!(body.contains("<html lang=\"fr\">") && body.contains("/room/vendor/socket.io.min.js"));
    let policy = page.headers["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(policy.contains("script-src 'self' https://"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    // No script or stylesheet is loaded from another origin.
    assert!(!body.contains("src=\"http") && !body.contains("href=\"http"));
    for asset in [
        "/room/app.js",
        "/room/room.css",
        "/room/vendor/socket.io.min.js",
    ] {
        let response = app.call(http::Method::GET, asset, None, None).await;
        assert_eq!(response.status, http::StatusCode::OK, "{asset}");
    }
    let missing = app
        .call(http::Method::GET, "/room/secrets.txt", None, None)
        .await;
    assert_eq!(missing.status, http::StatusCode::NOT_FOUND);
}
