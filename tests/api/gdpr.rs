//! GDPR: consent history and the personal data export.

use axum::http::StatusCode;
use huntzen::infra::identity::Role;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp};
use crate::seed::Participants;

#[tokio::test]
async fn consents_keep_their_history() {
    let app = TestApp::spawn().await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
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
    assert_eq!(
        given,
        [false, true],
        "newest first, withdrawal kept after the consent"
    );
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
    let company = app.seed_company("g").await;
    let employee = app.seed_employee("gina@g.test", company, "gina").await;
    app.seed_employee("gus@g.test", company, "gus").await;
    let practitioner = app.seed_practitioner("doc@cabinet.test", "D").await;
    let people = Participants {
        company,
        employee,
        practitioner,
    };
    let consultation = app.seed_consultation(people, "VIDEO", "CONFIRMED", 1).await;
    let gina = app.login("gina@g.test").await;
    let gus = app.login("gus@g.test").await;
    app.post(
        &format!("/api/chat/{consultation}/messages"),
        Some(&gina),
        json!({ "content": "mon message" }),
    )
    .await;
    app.post(
        "/api/journal",
        Some(&gina),
        json!({ "content": "mon journal" }),
    )
    .await;
    app.post(
        "/api/journal",
        Some(&gus),
        json!({ "content": "le journal de Gus" }),
    )
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
    assert!(
        body["users"][0].get("passwordHash").is_none()
            && body["users"][0].get("totpSecret").is_none()
    );
    assert_eq!(body["messages"][0]["content"], "mon message");
    assert_eq!(body["journalEntries"][0]["content"], "mon journal");
    // Field names and instants as everywhere else in the API (camelCase, UTC with `Z`).
    assert_eq!(body["users"][0]["companyId"], json!(company));
    let created = body["journalEntries"][0]["createdAt"]
        .as_str()
        .expect("createdAt");
    assert!(created.ends_with('Z'), "{created}");
    assert_eq!(body["consultations"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["consents"][0]["type"], "DATA_PROCESSING");
    assert!(
        body["loginSessions"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(body["refreshTokens"][0].get("tokenHash").is_none());
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
    let covered = huntzen::governance::gdpr::covered();
    let missing: Vec<&String> = linked
        .iter()
        .filter(|t| !covered.contains(&t.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "tables linked to a person but not exported: {missing:?}"
    );
    // Tables linked through a consultation are exported too.
    for table in ["messages", "consultation_events", "clinical_notes"] {
        assert!(covered.contains(&table), "{table} is not exported");
    }
}

#[tokio::test]
async fn erasure_leaves_no_email_or_name_and_no_readable_content() {
    let app = TestApp::spawn().await;
    let system = &app.db().system;
    let company: Uuid = sqlx::query_scalar(
        "INSERT INTO companies (name, slug, domain, is_active) VALUES ('Z', 'z', 'z.test', true) RETURNING id",
    )
    .fetch_one(system)
    .await
    .expect("company");
    let user = app
        .create_user("zoe.zebulon@z.test", Role::Employee, Some(company))
        .await;
    let employee: Uuid = sqlx::query_scalar(
        "INSERT INTO employees (user_id, company_id, first_name, last_name, department) VALUES ($1, $2, 'Zoélie', 'Zebulon', 'Ops') RETURNING id",
    )
    .bind(user)
    .bind(company)
    .fetch_one(system)
    .await
    .expect("employee");
    let doc = app
        .create_user("doc@cabinet.test", Role::Practitioner, None)
        .await;
    let practitioner: Uuid = sqlx::query_scalar(
        "INSERT INTO practitioners (user_id, first_name, last_name, title, specialty, is_validated) VALUES ($1, 'D', 'D', 'Dr.', 'PSYCHIATRE', true) RETURNING id",
    )
    .bind(doc)
    .fetch_one(system)
    .await
    .expect("practitioner");
    let consultation: Uuid = sqlx::query_scalar(
        "INSERT INTO consultations (company_id, employee_id, practitioner_id, scheduled_at, format, status, started_at, ended_at, actual_duration) \
         VALUES ($1, $2, $3, '2026-01-05T09:00:00Z', 'VIDEO', 'COMPLETED', '2026-01-05T09:00:00Z', '2026-01-05T09:50:00Z', 50) RETURNING id",
    )
    .bind(company)
    .bind(employee)
    .bind(practitioner)
    .fetch_one(system)
    .await
    .expect("consultation");
    let zoe = app.login("zoe.zebulon@z.test").await;
    sqlx::query("UPDATE consultations SET status = 'CONFIRMED', ended_at = NULL WHERE id = $1")
        .bind(consultation)
        .execute(system)
        .await
        .expect("open");
    app.post(
        &format!("/api/chat/{consultation}/messages"),
        Some(&zoe),
        json!({ "content": "à effacer" }),
    )
    .await;
    sqlx::query("UPDATE consultations SET status = 'COMPLETED', ended_at = '2026-01-05T09:50:00Z' WHERE id = $1")
        .bind(consultation)
        .execute(system)
        .await
        .expect("close");
    app.post(
        "/api/journal",
        Some(&zoe),
        json!({ "content": "journal à effacer" }),
    )
    .await;
    let export = app.get("/api/me/export", Some(&zoe)).await;
    assert_eq!(export.status, StatusCode::OK);

    let erased = app
        .call(
            axum::http::Method::DELETE,
            "/api/me",
            Some(&zoe),
            Some(json!({ "currentPassword": PASSWORD })),
        )
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.body);
    app.get("/api/me", Some(&zoe))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.session_ended");

    // No table holds the email or the name any more.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname IN ('public', 'apalis')",
    )
    .fetch_all(system)
    .await
    .expect("tables");
    for needle in ["zoe.zebulon", "Zoélie", "Zebulon"] {
        for table in &tables {
            let hits: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {table} t WHERE t::text ILIKE '%' || $1 || '%'"
            )))
            .bind(needle)
            .fetch_one(system)
            .await
            .expect("scan");
            assert_eq!(hits, 0, "{needle} still in {table}");
        }
    }
    // The conversation's key is destroyed: the message can never be decrypted again.
    let destroyed: bool = sqlx::query_scalar(
        "SELECT wrapped_key IS NULL FROM data_keys WHERE subject_type = 'CONSULTATION' AND subject_id = $1",
    )
    .bind(consultation)
    .fetch_one(system)
    .await
    .expect("key");
    assert!(destroyed);
    let journal: i64 = sqlx::query_scalar("SELECT count(*) FROM journal_entries")
        .fetch_one(system)
        .await
        .expect("journal");
    assert_eq!(journal, 0);
    // HR still counts the consultation, anonymously.
    app.create_user("rh@z.test", Role::AdminRh, Some(company))
        .await;
    let hr = app.login("rh@z.test").await;
    let report = app
        .get("/api/reports/employee-usage?period=2026-01", Some(&hr))
        .await;
    let items = report.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", report.body);
    assert_eq!(
        (
            items[0]["consultationCount"].as_i64(),
            items[0]["totalDurationMinutes"].as_i64()
        ),
        (Some(1), Some(50))
    );
    assert!(!report.body.to_string().contains("Zebulon"));
    // The platform route: unknown ids are 404.
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let ops = app.login("ops@huntzen.test").await;
    app.call(
        axum::http::Method::POST,
        &format!("/api/admin-huntzen/users/{}/erase", Uuid::new_v4()),
        Some(&ops),
        Some(json!({ "reason": "request by mail", "currentPassword": PASSWORD })),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "user.not_found");
    let by_admin = app
        .call(
            axum::http::Method::POST,
            &format!("/api/admin-huntzen/users/{doc}/erase"),
            Some(&ops),
            Some(json!({ "reason": "request by mail", "currentPassword": PASSWORD })),
        )
        .await;
    assert_eq!(by_admin.status, StatusCode::NO_CONTENT);
}

/// Erasure needs the actor's own proof (a bearer token alone is not enough), a reason when an
/// admin erases, and the right admin for the account; the last SUPER_ADMIN stays.
#[tokio::test]
async fn erasure_is_confirmed_by_password_and_limited_by_role() {
    let app = TestApp::spawn().await;
    let system = &app.db().system;
    let erase = |token: String, id: Uuid, body: Option<serde_json::Value>| {
        let app = &app;
        async move {
            app.call(
                axum::http::Method::POST,
                &format!("/api/admin-huntzen/users/{id}/erase"),
                Some(&token),
                body,
            )
            .await
        }
    };
    let proof = |reason: &str| json!({ "reason": reason, "currentPassword": PASSWORD });
    let erased_at = |id: Uuid| async move {
        sqlx::query_scalar::<_, Option<chrono::DateTime<chrono::Utc>>>(
            "SELECT erased_at FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_one(system)
        .await
        .expect("user")
    };

    // Self-erasure: no body, an empty password or a wrong one → 401, nothing erased.
    let me = app
        .create_user("self@erase.test", Role::Practitioner, None)
        .await;
    let token = app.login("self@erase.test").await;
    for body in [
        None,
        Some(json!({})),
        Some(json!({ "currentPassword": "" })),
        Some(json!({ "currentPassword": "not the password at all" })),
    ] {
        app.call(axum::http::Method::DELETE, "/api/me", Some(&token), body)
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "auth.reauth_required");
    }
    assert!(
        erased_at(me).await.is_none(),
        "nothing is erased without the password"
    );

    let ops = app
        .create_user("ops@erase.test", Role::AdminHuntzen, None)
        .await;
    let ops_token = app.login("ops@erase.test").await;
    let root = app
        .create_user("root@erase.test", Role::SuperAdmin, None)
        .await;
    let root_token = app.login("root@erase.test").await;
    let company: Uuid = sqlx::query_scalar(
        "INSERT INTO companies (name, slug, domain, is_active) VALUES ('E', 'e', 'erase.test', true) RETURNING id",
    )
    .fetch_one(system)
    .await
    .expect("company");
    let rh = app
        .create_user("rh@erase.test", Role::AdminRh, Some(company))
        .await;

    // An admin erasure without the admin's password, or without a reason, changes nothing.
    erase(ops_token.clone(), rh, Some(json!({ "reason": "asked" })))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.reauth_required");
    erase(
        ops_token.clone(),
        rh,
        Some(json!({ "currentPassword": PASSWORD })),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    assert!(erased_at(rh).await.is_none());
    // ADMIN_HUNTZEN may not erase a platform admin; a SUPER_ADMIN erases only platform admins.
    erase(ops_token.clone(), root, Some(proof("no")))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
    erase(root_token.clone(), rh, Some(proof("no")))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
    assert!(erased_at(root).await.is_none() && erased_at(rh).await.is_none());
    // The right admin, with proof and reason: erased, the reason in the audit trail; again → 404.
    let done = erase(
        ops_token.clone(),
        rh,
        Some(proof("request received by mail")),
    )
    .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    assert!(erased_at(rh).await.is_some());
    let reason: String = sqlx::query_scalar(
        "SELECT details->>'reason' FROM audit_logs WHERE resource = 'user' AND resource_id = $1::text \
         AND details->>'event' = 'erasure_requested' ORDER BY created_at DESC LIMIT 1",
    )
    .bind(rh)
    .fetch_one(system)
    .await
    .expect("audit");
    assert_eq!(reason, "request received by mail");
    erase(ops_token.clone(), rh, Some(proof("again")))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "user.not_found");
    // The last SUPER_ADMIN cannot go, neither erased by another nor by themselves.
    let done = erase(root_token.clone(), ops, Some(proof("left the company"))).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    app.call(
        axum::http::Method::DELETE,
        "/api/me",
        Some(&root_token),
        Some(json!({ "currentPassword": PASSWORD })),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "user.last_super_admin");
    assert!(erased_at(root).await.is_none());
    // With a second SUPER_ADMIN, one may erase the other (once: then it is the last one).
    let second = app
        .create_user("root2@erase.test", Role::SuperAdmin, None)
        .await;
    let done = erase(root_token.clone(), second, Some(proof("duplicate account"))).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    // And the practitioner, with the password, erases themselves.
    let done = app
        .call(
            axum::http::Method::DELETE,
            "/api/me",
            Some(&token),
            Some(json!({ "currentPassword": PASSWORD })),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    assert!(erased_at(me).await.is_some());
}

/// Two SUPER_ADMINs erasing each other at the same instant cannot both go.
#[tokio::test]
async fn two_super_admins_erasing_each_other_at_once_leave_one() {
    let app = TestApp::spawn().await;
    let a = app.create_user("a@root.test", Role::SuperAdmin, None).await;
    let b = app.create_user("b@root.test", Role::SuperAdmin, None).await;
    let (ta, tb) = (
        app.login("a@root.test").await,
        app.login("b@root.test").await,
    );
    let body = || Some(json!({ "reason": "race", "currentPassword": PASSWORD }));
    let (erase_b, erase_a) = (
        format!("/api/admin-huntzen/users/{b}/erase"),
        format!("/api/admin-huntzen/users/{a}/erase"),
    );
    let (ra, rb) = tokio::join!(
        app.call(axum::http::Method::POST, &erase_b, Some(&ta), body()),
        app.call(axum::http::Method::POST, &erase_a, Some(&tb), body()),
    );
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users WHERE role = 'SUPER_ADMIN' AND erased_at IS NULL",
    )
    .fetch_one(&app.db().system)
    .await
    .expect("count");
    assert_eq!(
        left, 1,
        "{} {} / {} {}",
        ra.status, ra.body, rb.status, rb.body
    );
}

/// An erased person's upcoming consultations are cancelled and the other participant told,
/// without the erased person's name; past ones stay as they were.
#[tokio::test]
async fn erasure_cancels_upcoming_consultations_and_tells_the_other_side_without_a_name() {
    let app = TestApp::spawn().await;
    let system = &app.db().system;
    let company = app.seed_company("cancel").await;
    let employee = app
        .seed_employee("emma@cancel.test", company, "Emmanuelle")
        .await;
    let practitioner = app.seed_practitioner("doc@cabinet.test", "Docteur").await;
    let other_doc = app.seed_practitioner("other@cabinet.test", "Autre").await;
    let people = Participants {
        company,
        employee,
        practitioner,
    };
    let upcoming = app.seed_consultation(people, "VIDEO", "CONFIRMED", 3).await;
    let past = app
        .seed_consultation(people, "VIDEO", "COMPLETED", -3)
        .await;
    let with_other = app
        .seed_consultation(
            Participants {
                practitioner: other_doc,
                ..people
            },
            "AUDIO",
            "SCHEDULED",
            5,
        )
        .await;
    let status = |id: Uuid| async move {
        sqlx::query_scalar::<_, String>("SELECT status::text FROM consultations WHERE id = $1")
            .bind(id)
            .fetch_one(system)
            .await
            .expect("status")
    };

    let emma = app.login("emma@cancel.test").await;
    let done = app
        .call(
            axum::http::Method::DELETE,
            "/api/me",
            Some(&emma),
            Some(json!({ "currentPassword": PASSWORD })),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    assert_eq!(status(upcoming).await, "CANCELLED");
    assert_eq!(status(with_other).await, "CANCELLED");
    assert_eq!(status(past).await, "COMPLETED");
    // Each practitioner is told, once per consultation, and never who it was.
    let doc = app.login("doc@cabinet.test").await;
    let notes = app.get("/api/notifications", Some(&doc)).await;
    let items = notes.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", notes.body);
    assert_eq!(items[0]["type"], "CONSULTATION_CANCELLED");
    assert_eq!(items[0]["linkUrl"], format!("/consultations/{upcoming}"));
    let text = notes.body.to_string();
    assert!(
        !text.contains("Emmanuelle") && !text.contains("emma"),
        "{text}"
    );
    let other = app.login("other@cabinet.test").await;
    let notes = app.get("/api/notifications", Some(&other)).await;
    assert_eq!(
        notes.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        notes.body
    );
    // No live consultation holds the practitioner's time any more (the exclusion constraint
    // against double booking counts live statuses only).
    let taken: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM consultations WHERE practitioner_id = $1 AND status IN ('SCHEDULED', 'CONFIRMED')",
    )
    .bind(practitioner)
    .fetch_one(system)
    .await
    .expect("live");
    assert_eq!(taken, 0);

    // A practitioner erased by the platform: their patients are told, without the name.
    let noah = app.seed_employee("noah@cancel.test", company, "Noah").await;
    let booked = app
        .seed_consultation(
            Participants {
                employee: noah,
                practitioner: other_doc,
                company,
            },
            "VIDEO",
            "SCHEDULED",
            2,
        )
        .await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let ops = app.login("ops@huntzen.test").await;
    let other_user: Uuid = sqlx::query_scalar("SELECT user_id FROM practitioners WHERE id = $1")
        .bind(other_doc)
        .fetch_one(system)
        .await
        .expect("user");
    let done = app
        .call(
            axum::http::Method::POST,
            &format!("/api/admin-huntzen/users/{other_user}/erase"),
            Some(&ops),
            Some(json!({ "reason": "left the platform", "currentPassword": PASSWORD })),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    assert_eq!(status(booked).await, "CANCELLED");
    let noah_token = app.login("noah@cancel.test").await;
    let notes = app.get("/api/notifications", Some(&noah_token)).await;
    let items = notes.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", notes.body);
    assert_eq!(items[0]["linkUrl"], format!("/consultations/{booked}"));
    assert!(!notes.body.to_string().contains("Autre"), "{}", notes.body);
}
