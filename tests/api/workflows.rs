//! The people's workflows (issue 23): an employee's allowance in `/api/me`, crisis lines for
//! anyone.

use axum::http::{Method, Request, StatusCode};
use huntzen::infra::identity::Role;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::TestApp;
use crate::seed::Participants;

/// Moves a consultation to `days` days after the start of the current UTC year (`-1`: last year).
async fn schedule_in_year(app: &TestApp, id: Uuid, years_back: i32, days: i32) {
    sqlx::query(
        "UPDATE consultations SET scheduled_at = date_trunc('year', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' \
         - make_interval(years => $2) + make_interval(days => $3) WHERE id = $1",
    )
    .bind(id)
    .bind(years_back)
    .bind(days)
    .execute(&app.db().system)
    .await
    .expect("reschedule");
}

#[tokio::test]
async fn an_employee_sees_the_allowance_left_this_year() {
    let app = TestApp::spawn().await;
    let company = app.seed_company("allow").await;
    sqlx::query("UPDATE companies SET sessions_per_employee_per_year = 5 WHERE id = $1")
        .bind(company)
        .execute(&app.db().system)
        .await
        .expect("allowance");
    let employee = app.seed_employee("ana@allow.test", company, "Ana").await;
    let other = app.seed_employee("bob@allow.test", company, "Bob").await;
    let practitioner = app.seed_practitioner("pia@cabinet.test", "Pia").await;
    let ana = Participants {
        company,
        employee,
        practitioner,
    };
    let bob = Participants {
        company,
        employee: other,
        practitioner,
    };
    // This year: two done or booked count, a cancelled one does not; last year's does not;
    // another employee's does not.
    for (people, status, years_back, days) in [
        (ana, "COMPLETED", 0, 3),
        (ana, "CONFIRMED", 0, 20),
        (ana, "CANCELLED", 0, 25),
        (ana, "COMPLETED", 1, 40),
        (bob, "COMPLETED", 0, 5),
    ] {
        let id = app.seed_consultation(people, "VIDEO", status, 1).await;
        schedule_in_year(&app, id, years_back, days).await;
    }
    let token = app.login("ana@allow.test").await;
    let me = app.get("/api/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let allowance = &me.body["allowance"];
    assert_eq!(allowance["perYear"], 5, "{}", me.body);
    assert_eq!(allowance["used"], 2);
    assert_eq!(allowance["remaining"], 3);
    let year = chrono::Datelike::year(&chrono::Utc::now());
    assert_eq!(allowance["resetsOn"], format!("{}-01-01", year + 1));

    // Unlimited: null. Other roles: absent.
    sqlx::query("UPDATE companies SET sessions_per_employee_per_year = NULL WHERE id = $1")
        .bind(company)
        .execute(&app.db().system)
        .await
        .expect("unlimited");
    let me = app.get("/api/me", Some(&token)).await;
    assert!(me.body["allowance"].is_null());
    assert!(
        me.body
            .as_object()
            .expect("object")
            .contains_key("allowance")
    );
    app.create_user("rh@allow.test", Role::AdminRh, Some(company))
        .await;
    let hr = app.login("rh@allow.test").await;
    let me = app.get("/api/me", Some(&hr)).await;
    assert!(
        !me.body
            .as_object()
            .expect("object")
            .contains_key("allowance")
    );
}

async fn crisis(app: &TestApp, query: &str, language: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(format!("/api/resources/crisis{query}"));
    if let Some(language) = language {
        request = request.header("accept-language", language);
    }
    let response = app
        .send(request.body(axum::body::Body::empty()).expect("request"))
        .await;
    (response.status, response.body)
}

#[tokio::test]
async fn crisis_lines_are_public_per_country_and_language() {
    let app = TestApp::spawn().await;
    let (status, fr) = crisis(&app, "?country=FR", None).await;
    assert_eq!(status, StatusCode::OK, "{fr}");
    let phones: Vec<&str> = fr["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|line| line["phone"].as_str().expect("phone"))
        .collect();
    for number in ["3114", "15", "112"] {
        assert!(phones.contains(&number), "{number} missing: {phones:?}");
    }
    assert_eq!(fr["listed"], true);
    assert!(fr["advice"].as_str().expect("advice").contains("urgence"));
    // Default country FR; English on request.
    let (_, default) = crisis(&app, "", Some("en-GB,en;q=0.9")).await;
    assert_eq!(default["country"], "FR");
    assert!(
        default["advice"]
            .as_str()
            .expect("advice")
            .contains("emergency")
    );
    // A country without its own list still gets a number to call.
    let (status, elsewhere) = crisis(&app, "?country=pt", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(elsewhere["country"], "PT");
    assert_eq!(elsewhere["listed"], false);
    assert_eq!(elsewhere["items"][0]["phone"], "112");
    let (status, bad) = crisis(&app, "?country=France", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert_eq!(bad["code"], "validation.failed");
}

/// Uploads a vetting document with an optional `kind` field.
async fn upload_document(
    app: &TestApp,
    token: &str,
    name: &str,
    kind: Option<&str>,
) -> crate::helpers::TestResponse {
    let mut body = Vec::new();
    if let Some(kind) = kind {
        body.extend_from_slice(
            format!("--B\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(b"%PDF-1.7\n1 0 obj diploma");
    body.extend_from_slice(b"\r\n--B--\r\n");
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/practitioners/me/upload-documents")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "multipart/form-data; boundary=B")
        .body(axum::body::Body::from(body))
        .expect("request");
    app.send(request).await
}

fn find<'a>(page: &'a Value, id: &str) -> Option<&'a Value> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["id"] == id)
}

/// Vetting as the reviewer does it: the documents are listed with their kind and state, the queue
/// shows their counts, a refusal needs a reason that reaches the practitioner by mail, takes them
/// out of the queue until they change their application, and is audited; verification stamps each
/// document; validation mails them.
#[tokio::test]
async fn a_reviewer_sees_the_documents_refuses_with_a_reason_and_validates() {
    let app = TestApp::spawn().await;
    app.create_user("vet@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let admin = app.login("vet@huntzen.test").await;
    let admin_id: Uuid =
        sqlx::query_scalar("SELECT id FROM users WHERE email = 'vet@huntzen.test'")
            .fetch_one(&app.db().system)
            .await
            .expect("admin id");
    let user = app
        .create_user("new@cabinet.test", Role::Practitioner, None)
        .await;
    let practitioner: Uuid = sqlx::query_scalar(
        "INSERT INTO practitioners (user_id, first_name, last_name, title, specialty, is_validated) \
         VALUES ($1, 'Nina', 'Nouvelle', 'Psychologue', 'PSYCHIATRE', false) RETURNING id",
    )
    .bind(user)
    .fetch_one(&app.db().system)
    .await
    .expect("practitioner");
    let own = app.login("new@cabinet.test").await;
    let other_id = app.seed_practitioner("other@cabinet.test", "Otto").await;
    let other = app.login("other@cabinet.test").await;

    let diploma = upload_document(&app, &own, "diplome.pdf", Some("diploma")).await;
    assert_eq!(diploma.status, StatusCode::CREATED, "{}", diploma.body);
    let other_doc = upload_document(&app, &own, "divers.pdf", None).await;
    assert_eq!(other_doc.status, StatusCode::CREATED);
    let bad = upload_document(&app, &own, "x.pdf", Some("SELFIE")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert_eq!(bad.body["errors"][0]["field"], "kind", "{}", bad.body);

    let path = format!("/api/practitioners/{practitioner}/documents");
    let listed = app.get(&path, Some(&admin)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let items = listed.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["kind"], "DIPLOMA");
    assert_eq!(items[0]["fileName"], "diplome.pdf");
    assert_eq!(items[1]["kind"], "OTHER");
    assert!(items[0]["verifiedAt"].is_null() && items[0]["size"].as_i64() > Some(0));
    assert_eq!(app.get(&path, Some(&own)).await.status, StatusCode::OK);
    app.get(&path, Some(&other))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "practitioner.not_found");
    app.get(
        &format!("/api/practitioners/{other_id}/documents"),
        Some(&own),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "practitioner.not_found");

    let queue = app.get("/api/practitioners/pending", Some(&admin)).await;
    let waiting = find(&queue.body, &practitioner.to_string()).expect("in the queue");
    assert_eq!(waiting["documents"]["total"], 2);
    assert_eq!(waiting["documents"]["verified"], 0);

    // A refusal needs a reason.
    let reject = format!("/api/practitioners/{practitioner}/reject");
    app.call(
        Method::PUT,
        &reject,
        Some(&admin),
        Some(serde_json::json!({})),
    )
    .await
    .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    app.call(
        Method::PUT,
        &reject,
        Some(&own),
        Some(serde_json::json!({ "reason": "moi" })),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
    let reason = "Le diplôme transmis est illisible : merci d'en joindre une copie nette.";
    let refused = app
        .call(
            Method::PUT,
            &reject,
            Some(&admin),
            Some(serde_json::json!({ "reason": reason })),
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.body);
    assert!(refused.body["rejectedAt"].is_string());
    assert_eq!(refused.body["rejectionReason"], reason);
    let mail = app.wait_for_mail("new@cabinet.test", 1).await;
    assert!(mail.body.contains(reason), "{}", mail.body);
    let queue = app.get("/api/practitioners/pending", Some(&admin)).await;
    assert!(
        find(&queue.body, &practitioner.to_string()).is_none(),
        "still in the queue"
    );
    app.call(
        Method::PUT,
        &reject,
        Some(&admin),
        Some(serde_json::json!({ "reason": reason })),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "practitioner.not_pending");
    let audited: Vec<Value> = sqlx::query_scalar(
        "SELECT details FROM audit_logs WHERE resource = 'practitioner' AND resource_id = $1 ORDER BY created_at",
    )
    .bind(practitioner.to_string())
    .fetch_all(&app.db().system)
    .await
    .expect("audit");
    assert!(
        audited.iter().any(|d| d["event"] == "rejected"),
        "{audited:?}"
    );
    assert!(
        audited.iter().all(|d| !d.to_string().contains("illisible")),
        "the reason is not copied into the audit trail"
    );

    // A new document puts the application back in the queue.
    assert_eq!(
        upload_document(&app, &own, "diplome-net.pdf", Some("DIPLOMA"))
            .await
            .status,
        StatusCode::CREATED
    );
    let queue = app.get("/api/practitioners/pending", Some(&admin)).await;
    let waiting = find(&queue.body, &practitioner.to_string()).expect("back in the queue");
    assert!(waiting["rejectedAt"].is_null());
    assert_eq!(waiting["documents"]["total"], 3);

    // Verification stamps each document; validation mails them.
    let verified = app
        .call(
            Method::PUT,
            &format!("/api/practitioners/{practitioner}/documents-verified"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    let listed = app.get(&path, Some(&admin)).await;
    for item in listed.body["items"].as_array().expect("items") {
        assert!(item["verifiedAt"].is_string(), "{item}");
        assert_eq!(item["verifiedBy"], admin_id.to_string());
    }
    // The method API.md writes (POST, the brief's, is tested by onboarding).
    let validated = app
        .call(
            Method::PUT,
            &format!("/api/practitioners/{practitioner}/validate"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(validated.status, StatusCode::OK, "{}", validated.body);
    assert_eq!(validated.body["isValidated"], true);
    let mail = app.wait_for_mail("new@cabinet.test", 2).await;
    assert!(mail.subject.contains("valid"), "{}", mail.subject);
}

/// Free slot starts (as sent) from `from_days` to `to_days` days ahead.
async fn free_slots(
    app: &TestApp,
    token: &str,
    practitioner: Uuid,
    from_days: i64,
    to_days: i64,
) -> Vec<String> {
    let today = chrono::Utc::now().date_naive();
    let from = today + chrono::Duration::days(from_days);
    let to = today + chrono::Duration::days(to_days);
    let response = app
        .get(
            &format!("/api/practitioners/{practitioner}/availability?from={from}&to={to}"),
            Some(token),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.body["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .map(|s| s["startsAt"].as_str().expect("startsAt").to_owned())
        .collect()
}

fn same_instant(a: &Value, b: &str) -> bool {
    let a: chrono::DateTime<chrono::Utc> = a.as_str().expect("instant").parse().expect("a");
    let b: chrono::DateTime<chrono::Utc> = b.parse().expect("b");
    a == b
}

async fn book_at(app: &TestApp, token: &str, practitioner: Uuid, at: &str, format: &str) -> Value {
    let booked = app
        .post(
            "/api/consultations",
            Some(token),
            serde_json::json!({ "practitionerId": practitioner, "scheduledAt": at, "format": format }),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    booked.body
}

async fn reschedule(
    app: &TestApp,
    token: &str,
    id: &Value,
    at: &str,
) -> crate::helpers::TestResponse {
    app.post(
        &format!("/api/consultations/{}/reschedule", id.as_str().expect("id")),
        Some(token),
        serde_json::json!({ "scheduledAt": at }),
    )
    .await
}

#[tokio::test]
async fn a_consultation_moves_to_a_free_slot_or_stays_and_late_changes_use_the_allowance() {
    let app = TestApp::spawn().await;
    let company = app.seed_company("move").await;
    let ana_employee = app.seed_employee("ana@move.test", company, "Ana").await;
    app.seed_employee("bob@move.test", company, "Bob").await;
    let practitioner = app.seed_practitioner("pia@move.test", "Pia").await;
    let pia = app.login("pia@move.test").await;
    app.open_mornings(&pia).await;
    let ana = app.login("ana@move.test").await;
    let bob = app.login("bob@move.test").await;
    let free = free_slots(&app, &ana, practitioner, 3, 6).await;
    assert!(free.len() >= 6, "{free:?}");

    let mine = book_at(&app, &ana, practitioner, &free[0], "VIDEO").await;
    let id = &mine["id"];
    book_at(&app, &bob, practitioner, &free[1], "VIDEO").await;
    let confirmed = app
        .call(
            Method::PUT,
            &format!("/api/consultations/{}/confirm", id.as_str().expect("id")),
            Some(&pia),
            None,
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);

    // A taken slot, a past time, a time that is no slot: 409, and the booking keeps its time.
    for at in [
        free[1].as_str(),
        "2020-01-06T08:00:00Z",
        "2099-01-06T08:17:00Z",
    ] {
        reschedule(&app, &ana, id, at)
            .await
            .assert_problem(StatusCode::CONFLICT, "consultation.slot_unavailable");
    }
    reschedule(&app, &ana, id, &free[0])
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    // Someone else's consultation: 404.
    reschedule(&app, &bob, id, &free[2])
        .await
        .assert_problem(StatusCode::NOT_FOUND, "consultation.not_found");
    let unchanged = app
        .get(
            &format!("/api/consultations/{}", id.as_str().expect("id")),
            Some(&ana),
        )
        .await;
    assert!(same_instant(&unchanged.body["scheduledAt"], &free[0]));
    assert_eq!(unchanged.body["status"], "CONFIRMED");

    // A free slot: moved, back to SCHEDULED (the practitioner confirms the new time), one event,
    // both told, the old slot free again and the new one taken.
    let moved = reschedule(&app, &ana, id, &free[2]).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert!(same_instant(&moved.body["scheduledAt"], &free[2]));
    assert_eq!(moved.body["status"], "SCHEDULED");
    assert_eq!(
        moved.body["lateChanges"], 0,
        "3 days ahead is outside the 24 h rule"
    );
    let now_free = free_slots(&app, &ana, practitioner, 3, 6).await;
    assert!(now_free.contains(&free[0]));
    assert!(!now_free.contains(&free[2]));
    let consultation: Uuid = id.as_str().expect("id").parse().expect("uuid");
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT event_type::text FROM consultation_events WHERE consultation_id = $1 ORDER BY timestamp",
    )
    .bind(consultation)
    .fetch_all(&app.db().system)
    .await
    .expect("events");
    assert_eq!(
        events.iter().filter(|e| *e == "RESCHEDULED").count(),
        1,
        "{events:?}"
    );
    let told: Vec<String> = sqlx::query_scalar(
        "SELECT u.email FROM notifications n JOIN users u ON u.id = n.user_id \
         WHERE n.type = 'CONSULTATION_RESCHEDULED' ORDER BY u.email",
    )
    .fetch_all(&app.db().system)
    .await
    .expect("notifications");
    assert_eq!(told, ["ana@move.test", "pia@move.test"]);
    // The practitioner may move it too.
    let back = reschedule(&app, &pia, id, &free[3]).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(back.body["lateChanges"], 0);

    // Inside the company's lateCancellationHours, the employee's changes use the allowance; the
    // practitioner's never do.
    app.create_user("ops@move.test", Role::AdminHuntzen, None)
        .await;
    let ops = app.login("ops@move.test").await;
    let updated = app
        .call(
            Method::PUT,
            &format!("/api/companies/{company}"),
            Some(&ops),
            Some(serde_json::json!({ "lateCancellationHours": 336, "sessionsPerEmployeePerYear": 10 })),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["lateCancellationHours"], 336);
    let wrong = app
        .call(
            Method::PUT,
            &format!("/api/companies/{company}"),
            Some(&ops),
            Some(serde_json::json!({ "lateCancellationHours": 1000 })),
        )
        .await;
    wrong.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    let year: i32 = sqlx::query_scalar(
        "SELECT extract(year FROM scheduled_at)::int FROM consultations WHERE id = $1",
    )
    .bind(consultation)
    .fetch_one(&app.db().system)
    .await
    .expect("year");
    let used = || async {
        sqlx::query_scalar::<_, i64>("SELECT allowance_used($1, $2)")
            .bind(ana_employee)
            .bind(year)
            .fetch_one(&app.db().system)
            .await
            .expect("used")
    };
    assert_eq!(used().await, 1);
    let late = reschedule(&app, &ana, id, &free[4]).await;
    assert_eq!(late.status, StatusCode::OK, "{}", late.body);
    assert_eq!(late.body["lateChanges"], 1);
    assert_eq!(used().await, 2, "the consultation and its late change");
    let by_practitioner = reschedule(&app, &pia, id, &free[5]).await;
    assert_eq!(by_practitioner.body["lateChanges"], 1);
    let cancelled = app
        .call(
            Method::PUT,
            &format!("/api/consultations/{}/cancel", id.as_str().expect("id")),
            Some(&ana),
            None,
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["lateChanges"], 2);
    assert_eq!(
        used().await,
        2,
        "cancelled: only its two late changes count"
    );
    // A practitioner's late cancellation costs the employee nothing.
    let other = book_at(&app, &ana, practitioner, &free[0], "VIDEO").await;
    let cancelled = app
        .call(
            Method::PUT,
            &format!(
                "/api/consultations/{}/cancel",
                other["id"].as_str().expect("id")
            ),
            Some(&pia),
            None,
        )
        .await;
    assert_eq!(cancelled.body["lateChanges"], 0);
    assert_eq!(used().await, 2);
    // Past its start, nothing moves.
    sqlx::query("UPDATE consultations SET status = 'CONFIRMED', scheduled_at = now() - interval '1 hour' WHERE id = $1")
        .bind(consultation)
        .execute(&app.db().system)
        .await
        .expect("past");
    reschedule(&app, &ana, id, &free[1])
        .await
        .assert_problem(StatusCode::CONFLICT, "consultation.invalid_transition");
}

#[tokio::test]
async fn of_parallel_moves_into_one_slot_exactly_one_wins_and_the_others_keep_their_time() {
    let app = TestApp::spawn().await;
    let company = app.seed_company("race").await;
    let practitioner = app.seed_practitioner("pia@race.test", "Pia").await;
    let pia = app.login("pia@race.test").await;
    app.open_mornings(&pia).await;
    let movers = 16;
    let mut people = Vec::new();
    for i in 0..movers {
        let email = format!("e{i}@race.test");
        app.seed_employee(&email, company, "Emp").await;
        people.push(app.login(&email).await);
    }
    let free = free_slots(&app, &people[0], practitioner, 2, 9).await;
    assert!(free.len() > movers, "{free:?}");
    let target = free[movers].clone();
    let mut booked = Vec::new();
    for (token, at) in people.iter().zip(&free) {
        booked.push((
            book_at(&app, token, practitioner, at, "VIDEO").await,
            at.clone(),
        ));
    }
    let answers = futures::future::join_all(
        people
            .iter()
            .zip(&booked)
            .map(|(token, (consultation, _))| {
                reschedule(&app, token, &consultation["id"], &target)
            }),
    )
    .await;
    let won = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    assert_eq!(
        won,
        1,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    for answer in answers.iter().filter(|a| a.status != StatusCode::OK) {
        answer.assert_problem(StatusCode::CONFLICT, "consultation.slot_unavailable");
    }
    // Every loser still holds its own slot; the slot is held once.
    let mut at_target = 0;
    for (token, (consultation, at)) in people.iter().zip(&booked) {
        let now = app
            .get(
                &format!(
                    "/api/consultations/{}",
                    consultation["id"].as_str().expect("id")
                ),
                Some(token),
            )
            .await;
        if same_instant(&now.body["scheduledAt"], &target) {
            at_target += 1;
        } else {
            assert!(same_instant(&now.body["scheduledAt"], at), "{}", now.body);
        }
    }
    assert_eq!(at_target, 1);
}

#[tokio::test]
async fn the_office_address_reaches_in_person_bookings_only() {
    let app = TestApp::spawn().await;
    let company = app.seed_company("office").await;
    app.seed_employee("ana@office.test", company, "Ana").await;
    let practitioner = app.seed_practitioner("pia@office.test", "Pia").await;
    let pia = app.login("pia@office.test").await;
    app.open_mornings(&pia).await;
    let address = "12 rue de la Paix, 75002 Paris";
    let set = app
        .call(
            Method::PUT,
            "/api/practitioners/me",
            Some(&pia),
            Some(serde_json::json!({ "offersInPerson": true, "officeAddress": address, "officeAccessNotes": "3e étage, code 4821" })),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["officeAddress"], address);
    let too_long = app
        .call(
            Method::PUT,
            "/api/practitioners/me",
            Some(&pia),
            Some(serde_json::json!({ "officeAddress": "x".repeat(301) })),
        )
        .await;
    too_long.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");

    let ana = app.login("ana@office.test").await;
    // Never in the directory or the public profile.
    for path in [
        format!("/api/practitioners/{practitioner}"),
        "/api/practitioners?q=Pia".to_owned(),
    ] {
        let public = app.get(&path, Some(&ana)).await;
        assert_eq!(public.status, StatusCode::OK, "{path}: {}", public.body);
        assert!(
            !public.text.contains("rue de la Paix"),
            "{path}: {}",
            public.text
        );
        assert!(!public.text.contains("4821"), "{path}");
    }
    let free = free_slots(&app, &ana, practitioner, 3, 6).await;
    let video = book_at(&app, &ana, practitioner, &free[0], "VIDEO").await;
    assert!(video.get("officeAddress").is_none(), "{video}");
    let in_person = book_at(&app, &ana, practitioner, &free[1], "IN_PERSON").await;
    assert_eq!(in_person["officeAddress"], address);
    assert_eq!(in_person["officeAccessNotes"], "3e étage, code 4821");
    let id = in_person["id"].as_str().expect("id");
    let list = app.get("/api/consultations/mine", Some(&ana)).await;
    assert!(list.text.contains("rue de la Paix"));
    // Once cancelled, the booking no longer carries it.
    let cancelled = app
        .call(
            Method::PUT,
            &format!("/api/consultations/{id}/cancel"),
            Some(&ana),
            None,
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    assert!(
        cancelled.body.get("officeAddress").is_none(),
        "{}",
        cancelled.body
    );
    // `null` removes it.
    let cleared = app
        .call(
            Method::PUT,
            "/api/practitioners/me",
            Some(&pia),
            Some(serde_json::json!({ "officeAddress": null })),
        )
        .await;
    assert!(cleared.body["officeAddress"].is_null());
}

/// `ics` read by Python's `icalendar` (an independent, standard parser): the fields that matter.
fn parse_ics(ics: &str) -> Value {
    let script = r#"
import json, sys, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.read())
events = [c for c in cal.walk() if c.name == "VEVENT"]
e = events[0]
print(json.dumps({
    "events": len(events),
    "method": str(cal.get("METHOD")),
    "uid": str(e.get("UID")),
    "sequence": int(e.get("SEQUENCE")),
    "start": e.decoded("DTSTART").isoformat(),
    "end": e.decoded("DTEND").isoformat(),
    "location": str(e.get("LOCATION")),
    "summary": str(e.get("SUMMARY")),
    "status": str(e.get("STATUS")),
}))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), ics.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("icalendar");
    assert!(out.status.success(), "icalendar refused: {ics}");
    serde_json::from_slice(&out.stdout).expect("json")
}

#[tokio::test]
async fn a_consultation_calendar_parses_and_follows_reschedules_and_cancellation() {
    let app = TestApp::spawn().await;
    let company = app.seed_company("ics").await;
    app.seed_employee("ana@ics.test", company, "Anastasia")
        .await;
    app.seed_employee("bob@ics.test", company, "Bob").await;
    let practitioner = app.seed_practitioner("pia@ics.test", "Philippine").await;
    let pia = app.login("pia@ics.test").await;
    app.open_mornings(&pia).await;
    let address = "12 rue de la Paix, 75002 Paris; 3e étage";
    app.call(
        Method::PUT,
        "/api/practitioners/me",
        Some(&pia),
        Some(serde_json::json!({ "offersInPerson": true, "officeAddress": address })),
    )
    .await;
    let ana = app.login("ana@ics.test").await;
    let bob = app.login("bob@ics.test").await;
    let free = free_slots(&app, &ana, practitioner, 3, 6).await;
    let booked = book_at(&app, &ana, practitioner, &free[0], "VIDEO").await;
    let id = booked["id"].as_str().expect("id").to_owned();
    let path = format!("/api/consultations/{id}/calendar.ics");

    let first = app.get(&path, Some(&ana)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert!(
        first.headers["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/calendar")
    );
    let event = parse_ics(&first.text);
    assert_eq!(event["events"], 1);
    assert_eq!(event["method"], "REQUEST");
    assert_eq!(event["uid"], format!("{id}@huntzen.care"));
    assert_eq!(event["sequence"], 0);
    assert!(same_instant(&event["start"], &free[0]), "{event}");
    assert!(
        event["location"]
            .as_str()
            .expect("location")
            .ends_with(&format!("/consultations/{id}"))
    );
    // Nothing clinical, no name.
    for name in ["Anastasia", "Philippine", "PSYCHIATRE", "Dr."] {
        assert!(!first.text.contains(name), "{name} in {}", first.text);
    }
    // The practitioner gets the same event; anyone else 404.
    let theirs = parse_ics(&app.get(&path, Some(&pia)).await.text);
    assert_eq!(theirs["uid"], event["uid"]);
    app.get(&path, Some(&bob))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "consultation.not_found");

    // Moved: same UID, higher SEQUENCE, the new time.
    let moved = reschedule(&app, &ana, &booked["id"], &free[1]).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let after = parse_ics(&app.get(&path, Some(&ana)).await.text);
    assert_eq!(after["uid"], event["uid"]);
    assert_eq!(after["sequence"], 1);
    assert!(same_instant(&after["start"], &free[1]), "{after}");
    // Cancelled: METHOD:CANCEL for the same UID.
    app.call(
        Method::PUT,
        &format!("/api/consultations/{id}/cancel"),
        Some(&pia),
        None,
    )
    .await;
    let cancelled = parse_ics(&app.get(&path, Some(&ana)).await.text);
    assert_eq!(cancelled["method"], "CANCEL");
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["uid"], event["uid"]);
    assert_eq!(cancelled["sequence"], 2);

    // In person: the office is the location (escaped, and read back whole).
    let in_person = book_at(&app, &ana, practitioner, &free[2], "IN_PERSON").await;
    let ics = app
        .get(
            &format!(
                "/api/consultations/{}/calendar.ics",
                in_person["id"].as_str().expect("id")
            ),
            Some(&ana),
        )
        .await;
    assert_eq!(parse_ics(&ics.text)["location"], address);
}
