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
    let validated = app
        .call(
            Method::POST,
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
