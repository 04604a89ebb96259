//! Support tickets: opened by anyone signed in, answered by platform admins, sealed at rest,
//! invisible to anyone else, notified without their text, exported and erased with the creator.

use axum::http::{Method, StatusCode};
use huntzen::infra::identity::Role;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn a_ticket_is_followed_answered_and_closed_by_its_two_sides_only() {
    let app = TestApp::spawn().await;
    let system = &app.db().system;
    let company = app.seed_company("help").await;
    app.seed_employee("ana@help.test", company, "Ana").await;
    app.seed_employee("bob@help.test", company, "Bob").await;
    app.create_user("rh@help.test", Role::AdminRh, Some(company))
        .await;
    app.seed_practitioner("pia@help.test", "Pia").await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let second_agent = app
        .create_user("ops2@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let ana = app.login("ana@help.test").await;
    let bob = app.login("bob@help.test").await;
    let hr = app.login("rh@help.test").await;
    let pia = app.login("pia@help.test").await;
    let ops = app.login("ops@huntzen.test").await;
    let ops2 = app.login("ops2@huntzen.test").await;

    // Bad input is refused with the field named.
    for bad in [
        json!({ "subject": "ab", "body": "x", "category": "BOOKING" }),
        json!({ "subject": "Sujet", "body": "   ", "category": "BOOKING" }),
        json!({ "subject": "Sujet", "body": "x", "category": "NOPE" }),
        json!({ "subject": "Sujet", "body": "x", "category": "BOOKING", "priority": 1 }),
    ] {
        let refused = app.post("/api/support/tickets", Some(&ana), bad).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
    }
    let secret = "je fais des crises d'angoisse depuis mon arrêt";
    let opened = app
        .post(
            "/api/support/tickets",
            Some(&ana),
            json!({ "subject": "Impossible de réserver", "body": secret, "category": "BOOKING" }),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    assert_eq!(opened.body["status"], "OPEN");
    assert_eq!(opened.body["creatorRole"], "EMPLOYEE");
    assert_eq!(opened.body["body"], secret);
    let ticket = id(&opened.body);
    // Nothing about the creator beyond what they wrote: no name, email or company.
    let keys: Vec<&String> = opened.body.as_object().expect("object").keys().collect();
    for absent in ["email", "firstName", "lastName", "companyId", "creatorName"] {
        assert!(!keys.iter().any(|k| *k == absent), "{absent} in {keys:?}");
    }
    // Sealed at rest; absent from the audit trail.
    let (subject, body): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT subject, body FROM support_tickets WHERE id = $1::uuid")
            .bind(&ticket)
            .fetch_one(system)
            .await
            .expect("row");
    let raw = [subject, body].concat();
    assert!(!String::from_utf8_lossy(&raw).contains("angoisse"));
    assert!(!String::from_utf8_lossy(&raw).contains("réserver"));
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE details::text LIKE '%angoisse%' OR details::text LIKE '%réserver%'",
    )
    .fetch_one(system)
    .await
    .expect("audit");
    assert_eq!(audited, 0);

    // Anyone else: 404 on every route, and their lists do not show it.
    for token in [&bob, &hr, &pia] {
        let path = format!("/api/support/tickets/{ticket}");
        app.get(&path, Some(token))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "support.ticket_not_found");
        app.get(&format!("{path}/replies"), Some(token))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "support.ticket_not_found");
        app.post(
            &format!("{path}/replies"),
            Some(token),
            json!({ "body": "moi aussi" }),
        )
        .await
        .assert_problem(StatusCode::NOT_FOUND, "support.ticket_not_found");
        assert_eq!(
            app.get("/api/support/tickets", Some(token)).await.body["total"],
            0
        );
    }
    assert_eq!(
        app.get("/api/support/tickets", Some(&ana)).await.body["total"],
        1
    );
    let queue = app
        .get("/api/support/tickets?status=OPEN", Some(&ops))
        .await;
    assert_eq!(queue.body["total"], 1, "{}", queue.body);
    assert_eq!(queue.body["items"][0]["body"], secret);
    assert_eq!(
        app.get("/api/support/tickets?status=CLOSED", Some(&ops))
            .await
            .body["total"],
        0
    );

    // Assignment: to a platform admin only; only platform admins change a ticket.
    let path = format!("/api/support/tickets/{ticket}");
    let assigned = app
        .call(
            Method::PUT,
            &path,
            Some(&ops),
            Some(json!({ "assigneeId": second_agent })),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    assert_eq!(assigned.body["assigneeId"], json!(second_agent));
    let mine = app.get("/api/support/tickets?mine=true", Some(&ops2)).await;
    assert_eq!(mine.body["total"], 1);
    assert_eq!(
        app.get("/api/support/tickets?mine=true", Some(&ops))
            .await
            .body["total"],
        0
    );
    let wrong = app
        .call(
            Method::PUT,
            &path,
            Some(&ops),
            Some(json!({ "assigneeId": opened.body["creatorId"] })),
        )
        .await;
    wrong.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    app.call(
        Method::PUT,
        &path,
        Some(&ana),
        Some(json!({ "status": "CLOSED" })),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");

    // An answer: the ticket is in progress, the creator is told (without the answer's text).
    let answer = "Videz le cache de l'application puis réessayez";
    let replied = app
        .post(
            &format!("{path}/replies"),
            Some(&ops2),
            json!({ "body": answer }),
        )
        .await;
    assert_eq!(replied.status, StatusCode::CREATED, "{}", replied.body);
    assert_eq!(replied.body["authorRole"], "ADMIN_HUNTZEN");
    assert_eq!(
        app.get(&path, Some(&ana)).await.body["status"],
        "IN_PROGRESS"
    );
    let mail = app.wait_for_mail("ana@help.test", 1).await;
    assert!(mail.body.contains("/support"), "{}", mail.body);
    assert!(
        !mail.body.contains("cache") && !mail.body.contains("réserver"),
        "{}",
        mail.body
    );
    let told: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM notifications n JOIN users u ON u.id = n.user_id \
         WHERE u.email = 'ana@help.test' AND n.type = 'SUPPORT_REPLY' AND n.message NOT LIKE '%cache%'",
    )
    .fetch_one(system)
    .await
    .expect("notifications");
    assert_eq!(told, 1);
    // The creator reads the thread and answers; a resolved ticket reopens on their reply.
    let thread = app.get(&format!("{path}/replies"), Some(&ana)).await;
    assert_eq!(thread.body["items"][0]["body"], answer);
    let resolved = app
        .call(
            Method::PUT,
            &path,
            Some(&ops2),
            Some(json!({ "status": "RESOLVED" })),
        )
        .await;
    assert_eq!(resolved.body["status"], "RESOLVED");
    app.wait_for_mail("ana@help.test", 2).await;
    let again = app
        .post(
            &format!("{path}/replies"),
            Some(&ana),
            json!({ "body": "Toujours bloqué" }),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(app.get(&path, Some(&ops)).await.body["status"], "OPEN");
    assert_eq!(
        app.get(&format!("{path}/replies"), Some(&ops)).await.body["total"],
        2
    );
    // Closed: no more replies.
    let closed = app
        .call(
            Method::PUT,
            &path,
            Some(&ops2),
            Some(json!({ "status": "CLOSED" })),
        )
        .await;
    assert!(closed.body["closedAt"].is_string(), "{}", closed.body);
    app.post(
        &format!("{path}/replies"),
        Some(&ana),
        json!({ "body": "?" }),
    )
    .await
    .assert_problem(StatusCode::CONFLICT, "support.ticket_closed");

    // The creator's export has it all, decrypted; their erasure destroys its key.
    let export = app.get("/api/me/export", Some(&ana)).await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    assert_eq!(export.body["supportTickets"][0]["body"], secret);
    assert_eq!(
        export.body["supportTicketReplies"].as_array().map(Vec::len),
        Some(2)
    );
    assert!(
        !app.get("/api/me/export", Some(&bob))
            .await
            .text
            .contains("angoisse")
    );
    let erased = app
        .call(
            Method::DELETE,
            "/api/me",
            Some(&ana),
            Some(json!({ "currentPassword": PASSWORD })),
        )
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.body);
    app.get(&path, Some(&ops))
        .await
        .assert_problem(StatusCode::GONE, "support.ticket_erased");
}
