//! GDPR: consent history and the personal data export.

use axum::http::StatusCode;
use huntzen::auth::Role;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::TestApp;

#[tokio::test]
async fn consents_keep_their_history() {
    let app = TestApp::spawn().await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None).await;
    let token = app.login("ops@huntzen.test").await;
    for given in [true, false] {
        let recorded = app
            .post(
                "/api/me/consents",
                Some(&token),
                json!({ "type": "terms", "version": "2026-01", "given": given }),
            )
            .await;
        assert_eq!(recorded.status, StatusCode::CREATED, "{}", recorded.body);
        assert_eq!(recorded.body["type"], "TERMS");
    }
    let history = app.get("/api/me/consents", Some(&token)).await;
    let given: Vec<bool> = history
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["given"].as_bool())
        .collect();
    assert_eq!(given, [false, true], "newest first, withdrawal kept after the consent");
    app.post(
        "/api/me/consents",
        Some(&token),
        json!({ "type": "", "version": "1", "given": true }),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
}

#[tokio::test]
async fn the_export_holds_everything_about_the_caller_decrypted_and_nothing_else() {
    let app = TestApp::spawn().await;
    let system = &app.db().system;
    let company: Uuid = sqlx::query_scalar(
        "INSERT INTO companies (name, slug, domain, is_active) VALUES ('G', 'g', 'g.test', true) RETURNING id",
    )
    .fetch_one(system)
    .await
    .expect("company");
    let mut employees = Vec::new();
    for who in ["gina", "gus"] {
        let user = app
            .create_user(&format!("{who}@g.test"), Role::Employee, Some(company))
            .await;
        let id: Uuid = sqlx::query_scalar(
            "INSERT INTO employees (user_id, company_id, first_name, last_name) VALUES ($1, $2, $3, 'G') RETURNING id",
        )
        .bind(user)
        .bind(company)
        .bind(who)
        .fetch_one(system)
        .await
        .expect("employee");
        employees.push(id);
    }
    let doc = app.create_user("doc@cabinet.test", Role::Practitioner, None).await;
    let practitioner: Uuid = sqlx::query_scalar(
        "INSERT INTO practitioners (user_id, first_name, last_name, title, specialty, is_validated) VALUES ($1, 'D', 'D', 'Dr.', 'PSYCHIATRE', true) RETURNING id",
    )
    .bind(doc)
    .fetch_one(system)
    .await
    .expect("practitioner");
    let consultation: Uuid = sqlx::query_scalar(
        "INSERT INTO consultations (company_id, employee_id, practitioner_id, scheduled_at, format, status) VALUES ($1, $2, $3, now() + interval '1 day', 'VIDEO', 'CONFIRMED') RETURNING id",
    )
    .bind(company)
    .bind(employees[0])
    .bind(practitioner)
    .fetch_one(system)
    .await
    .expect("consultation");
    let gina = app.login("gina@g.test").await;
    let gus = app.login("gus@g.test").await;
    app.post(
        &format!("/api/chat/{consultation}/messages"),
        Some(&gina),
        json!({ "content": "mon message" }),
    )
    .await;
    app.post("/api/journal", Some(&gina), json!({ "content": "mon journal" }))
        .await;
    app.post("/api/journal", Some(&gus), json!({ "content": "le journal de Gus" }))
        .await;
    app.post(
        "/api/me/consents",
        Some(&gina),
        json!({ "type": "DATA_PROCESSING", "version": "1", "given": true }),
    )
    .await;

    let export = app.get("/api/me/export", Some(&gina)).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    let body = &export.body;
    assert_eq!(body["users"][0]["email"], "gina@g.test");
    assert!(body["users"][0].get("password_hash").is_none() && body["users"][0].get("totp_secret").is_none());
    assert_eq!(body["messages"][0]["content"], "mon message");
    assert_eq!(body["journal_entries"][0]["content"], "mon journal");
    assert_eq!(body["consultations"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["consents"][0]["type"], "DATA_PROCESSING");
    assert!(body["login_sessions"].as_array().is_some_and(|s| !s.is_empty()));
    assert!(body["refresh_tokens"][0].get("token_hash").is_none());
    let text = body.to_string();
    assert!(
        !text.contains("le journal de Gus") && !text.contains("gus@g.test"),
        "another person's data in the export"
    );
    assert!(!text.contains("$argon2"), "a password hash in the export");
}

/// Every table that points at a person (users, employees, practitioners) is in the export.
#[tokio::test]
async fn the_export_covers_every_table_linked_to_a_person() {
    let app = TestApp::spawn().await;
    let linked: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT c.conrelid::regclass::text FROM pg_constraint c \
         WHERE c.contype = 'f' AND c.confrelid::regclass::text IN ('users', 'employees', 'practitioners') \
           AND c.connamespace = 'public'::regnamespace",
    )
    .fetch_all(&app.db().system)
    .await
    .expect("foreign keys");
    assert!(linked.len() > 10, "{linked:?}");
    let covered = huntzen::gdpr::covered();
    let missing: Vec<&String> = linked.iter().filter(|t| !covered.contains(&t.as_str())).collect();
    assert!(
        missing.is_empty(),
        "tables linked to a person but not exported: {missing:?}"
    );
    // Tables linked through a consultation are exported too.
    for table in ["messages", "consultation_events", "clinical_notes"] {
        assert!(covered.contains(&table), "{table} is not exported");
    }
}
