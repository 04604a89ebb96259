//! Erasure destroys what belongs to the erased person and keeps what others have a right or duty
//! to keep; the audit trail never pairs two people, while each employee's access list tells them
//! who read what of theirs.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use huntzen::infra::identity::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp};
use crate::seed::Participants;

struct Cast {
    company: Uuid,
    emma_employee: Uuid,
    paula: Uuid,
    peter: Uuid,
    emma_chat: Uuid,
    eric_chat: Uuid,
    emma: String,
    eric: String,
    paula_token: String,
    peter_token: String,
    ops: String,
}

async fn cast(app: &TestApp) -> Cast {
    let company = app.seed_company("c").await;
    let emma_employee = app.seed_employee("emma@c.test", company, "emma").await;
    let eric_employee = app.seed_employee("eric@c.test", company, "eric").await;
    let paula = app.seed_practitioner("paula@cabinet.test", "paula").await;
    let peter = app.seed_practitioner("peter@cabinet.test", "peter").await;
    let emma_chat = app
        .seed_consultation(
            Participants {
                company,
                employee: emma_employee,
                practitioner: paula,
            },
            "VIDEO",
            "CONFIRMED",
            1,
        )
        .await;
    let eric_chat = app
        .seed_consultation(
            Participants {
                company,
                employee: eric_employee,
                practitioner: peter,
            },
            "VIDEO",
            "CONFIRMED",
            1,
        )
        .await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    Cast {
        company,
        emma_employee,
        paula,
        peter,
        emma_chat,
        eric_chat,
        emma: app.login("emma@c.test").await,
        eric: app.login("eric@c.test").await,
        paula_token: app.login("paula@cabinet.test").await,
        peter_token: app.login("peter@cabinet.test").await,
        ops: app.login("ops@huntzen.test").await,
    }
}

async fn say(app: &TestApp, token: &str, chat: Uuid, text: &str) {
    let sent = app
        .post(
            &format!("/api/chat/{chat}/messages"),
            Some(token),
            json!({ "content": text }),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
}

async fn note(app: &TestApp, token: &str, chat: Uuid, text: &str) -> Uuid {
    let made = app
        .post(
            "/api/clinical-notes",
            Some(token),
            json!({ "consultationId": chat, "content": text }),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    made.body["id"].as_str().expect("id").parse().expect("uuid")
}

fn contents(history: &Value) -> Vec<Value> {
    history["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["content"].clone())
        .collect()
}

#[tokio::test]
async fn erasure_keeps_the_practitioners_notes_and_the_patients_chats() {
    let app = TestApp::spawn().await;
    let c = cast(&app).await;
    say(&app, &c.emma, c.emma_chat, "Emma écrit").await;
    say(&app, &c.paula_token, c.emma_chat, "Paula répond").await;
    note(&app, &c.paula_token, c.emma_chat, "note de Paula sur Emma").await;
    say(&app, &c.eric, c.eric_chat, "Eric écrit").await;
    say(&app, &c.peter_token, c.eric_chat, "Peter répond").await;
    let peter_note = note(&app, &c.peter_token, c.eric_chat, "note de Peter sur Eric").await;

    // The employee erases herself: her chat goes, the practitioner's note stays, readable by
    // its author, on an anonymous patient.
    let erased = app
        .call(
            Method::DELETE,
            "/api/me",
            Some(&c.emma),
            Some(json!({ "currentPassword": PASSWORD })),
        )
        .await;
    assert_eq!(erased.status, StatusCode::NO_CONTENT, "{}", erased.body);
    let notes = app
        .get(
            &format!("/api/clinical-notes/consultation/{}", c.emma_chat),
            Some(&c.paula_token),
        )
        .await;
    assert_eq!(notes.status, StatusCode::OK, "{}", notes.body);
    assert_eq!(notes.body[0]["content"], "note de Paula sur Emma");
    let chat = app
        .get(
            &format!("/api/chat/{}/messages", c.emma_chat),
            Some(&c.paula_token),
        )
        .await;
    assert!(
        contents(&chat.body).iter().all(Value::is_null),
        "the erased patient's chat is unreadable: {}",
        chat.body
    );
    let consents: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM consents WHERE user_id = (SELECT user_id FROM employees WHERE id = $1)",
    )
    .bind(c.emma_employee)
    .fetch_one(&app.db().system)
    .await
    .expect("consents");
    assert_eq!(consents, 0);

    // An admin erases the other practitioner: the patient keeps the whole chat history; the
    // practitioner's notes are sealed (no route reads them), kept until their retention ends.
    let by_admin = app
        .call(
            Method::POST,
            &format!(
                "/api/admin-huntzen/users/{}/erase",
                user_of(&app, c.peter).await
            ),
            Some(&c.ops),
            Some(json!({ "reason": "request by mail", "currentPassword": PASSWORD })),
        )
        .await;
    assert_eq!(by_admin.status, StatusCode::NO_CONTENT, "{}", by_admin.body);
    let history = app
        .get(
            &format!("/api/chat/{}/messages", c.eric_chat),
            Some(&c.eric),
        )
        .await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.body);
    let mut texts: Vec<String> = contents(&history.body)
        .iter()
        .map(|v| v.as_str().expect("readable").to_owned())
        .collect();
    texts.sort();
    assert_eq!(texts, ["Eric écrit", "Peter répond"]);
    let (sealed, purge_years): (bool, f64) = sqlx::query_as(
        "SELECT k.sealed_at IS NOT NULL AND k.wrapped_key IS NOT NULL, \
                (extract(epoch FROM k.purge_after - now()) / (365 * 86400))::float8 \
         FROM clinical_notes n JOIN data_keys k ON k.id = n.key_id WHERE n.id = $1",
    )
    .bind(peter_note)
    .fetch_one(&app.db().system)
    .await
    .expect("sealed");
    assert!(sealed);
    assert!((19.9..20.1).contains(&purge_years), "{purge_years}");
    // Sealed means no request context sees the key, even with the author's own context.
    let mut tx = huntzen::infra::db::context::begin(&app.db().app)
        .await
        .expect("tx");
    sqlx::query("SELECT set_config('app.user_id', $1, true), set_config('app.role', 'PRACTITIONER', true), set_config('app.practitioner_id', $2, true)")
        .bind(user_of(&app, c.peter).await.to_string())
        .bind(c.peter.to_string())
        .execute(&mut *tx)
        .await
        .expect("context");
    let visible: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM data_keys WHERE id = (SELECT key_id FROM clinical_notes WHERE id = $1)",
    )
    .bind(peter_note)
    .fetch_one(&mut *tx)
    .await
    .unwrap_or(0);
    assert_eq!(visible, 0, "a sealed key is readable through no request");
    tx.rollback().await.ok();

    // When the retention period ends, the retention job purges the notes and the key, and the
    // purge enters the erasure ledger (so it reaches the backups).
    sqlx::query(
        "UPDATE data_keys SET purge_after = now() - interval '1 day' WHERE sealed_at IS NOT NULL",
    )
    .execute(&app.db().system)
    .await
    .expect("age");
    let purged = huntzen::governance::retention::purge(&app.state)
        .await
        .expect("purge");
    assert_eq!(purged.sealed_notes, 1);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM clinical_notes WHERE id = $1")
        .bind(peter_note)
        .fetch_one(&app.db().system)
        .await
        .expect("left");
    assert_eq!(left, 0);
    let ledger = huntzen::infra::backup_files::BackupDir::new(app.dir.path())
        .ledger()
        .expect("ledger");
    assert_eq!(ledger.len(), 3, "two erasures and one purge: {ledger:?}");
    assert!(ledger[2].user_id.is_none());
    let _ = (c.company, c.paula);
}

async fn user_of(app: &TestApp, practitioner: Uuid) -> Uuid {
    sqlx::query_scalar("SELECT user_id FROM practitioners WHERE id = $1")
        .bind(practitioner)
        .fetch_one(&app.db().system)
        .await
        .expect("user")
}

fn attachment(token: &str, chat: Uuid) -> Request<Body> {
    let mut body = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"scan.png\"\r\nContent-Type: image/png\r\n\r\n".to_vec();
    body.extend(crate::helpers::png("scan", "bytes"));
    body.extend_from_slice(b"\r\n--B--\r\n");
    Request::builder()
        .method(Method::POST)
        .uri(format!("/api/chat/{chat}/upload"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=B")
        .body(Body::from(body))
        .expect("request")
}

#[tokio::test]
async fn audit_rows_never_pair_two_people_and_the_employee_sees_who_read_what() {
    let app = TestApp::spawn().await;
    let c = cast(&app).await;
    say(&app, &c.emma, c.emma_chat, "Emma écrit").await;
    let sent = app.send(attachment(&c.emma, c.emma_chat)).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let file_url = sent.body["attachment"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let file_id = sent.body["attachment"]["id"].as_str().map(str::to_owned);
    let note_id = note(&app, &c.paula_token, c.emma_chat, "note").await;
    let chat = format!("/api/chat/{}/messages", c.emma_chat);
    for token in [&c.emma, &c.paula_token] {
        assert_eq!(app.get(&chat, Some(token)).await.status, StatusCode::OK);
    }
    assert_eq!(
        app.get(&file_url, Some(&c.paula_token)).await.status,
        StatusCode::OK
    );
    app.get(
        &format!("/api/clinical-notes/consultation/{}", c.emma_chat),
        Some(&c.paula_token),
    )
    .await;

    // The platform's audit search: no resource id shared by two people's rows, none equal to
    // the consultation, the note or the file.
    app.create_user("root@huntzen.test", Role::SuperAdmin, None)
        .await;
    let root = app.login("root@huntzen.test").await;
    let mut seen: std::collections::HashMap<String, String> = Default::default();
    for resource in ["messages", "file", "clinical_note"] {
        let rows = app
            .get(
                &format!(
                    "/api/super-admin/audit-logs?action=READ&resource={resource}&pageSize=100"
                ),
                Some(&root),
            )
            .await;
        assert_eq!(rows.status, StatusCode::OK, "{}", rows.body);
        for row in rows.body["items"].as_array().expect("items") {
            let id = row["resourceId"].as_str().expect("resource id").to_owned();
            let who = row["userId"].as_str().expect("user").to_owned();
            for plain in [c.emma_chat.to_string(), note_id.to_string()] {
                assert_ne!(id, plain, "a plain id in the trail: {row}");
            }
            if let Some(file) = &file_id {
                assert_ne!(&id, file, "a plain file id in the trail");
            }
            if let Some(other) = seen.insert(id.clone(), who.clone()) {
                assert_eq!(other, who, "two people's rows share {id}");
            }
        }
    }
    assert!(seen.len() >= 4, "{seen:?}");

    // The employee's own access list: the practitioner's reads of her chat, note and file.
    let log = app.get("/api/me/access-log", Some(&c.emma)).await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    let items = log.body["items"].as_array().expect("items");
    let kinds: std::collections::BTreeSet<&str> = items
        .iter()
        .map(|i| i["resource"].as_str().expect("resource"))
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["clinical_note", "file", "messages"],
        "{}",
        log.body
    );
    for item in items {
        assert_eq!(item["readerRole"], "PRACTITIONER");
        assert!(
            item["readerName"].as_str().expect("name").contains("paula"),
            "{item}"
        );
        assert_eq!(item["consultationId"], c.emma_chat.to_string());
    }
    let messages = items
        .iter()
        .find(|i| i["resource"] == "messages")
        .expect("messages read");
    assert_eq!(messages["resourceId"], c.emma_chat.to_string());
    assert_eq!(log.body["total"], items.len());
    app.get("/api/me/access-log", Some(&c.paula_token))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");

    // Her export shows her own reads with the real id, and the same access list.
    let export = app.get("/api/me/export", Some(&c.emma)).await;
    assert_eq!(export.status, StatusCode::OK);
    let own = export.body["auditLogs"]
        .as_array()
        .expect("audit")
        .iter()
        .find(|r| r["resource"] == "messages" && r["action"] == "READ")
        .expect("own read")
        .clone();
    assert_eq!(own["resourceId"], c.emma_chat.to_string());
    assert_eq!(
        export.body["accessLog"].as_array().map(Vec::len),
        Some(items.len())
    );
    let _ = (
        c.eric,
        c.peter_token,
        c.eric_chat,
        c.emma_employee,
        c.company,
    );
}
