//! Confidential content over REST: chat (idempotent, cursor, receipts, window), attachments,
//! clinical notes (author only, audited reads), journal (owner only); nothing readable by anyone
//! else; only ciphertext at rest; key rotation keeps everything readable.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use huntzen::infra::identity::Role;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, TestResponse};
use crate::seed::Participants;

struct Pair {
    consultation: Uuid,
    employee: String,
    practitioner: String,
    other_employee: String,
    other_practitioner: String,
    hr: String,
    admin: String,
}

async fn pair(app: &TestApp) -> Pair {
    let company = app.seed_company("c").await;
    let employee = app.seed_employee("emma@c.test", company, "emma").await;
    app.seed_employee("eric@c.test", company, "eric").await;
    let practitioner = app.seed_practitioner("paula@cabinet.test", "paula").await;
    app.seed_practitioner("peter@cabinet.test", "peter").await;
    let people = Participants {
        company,
        employee,
        practitioner,
    };
    let consultation = app.seed_consultation(people, "VIDEO", "CONFIRMED", 1).await;
    app.create_user("hr@c.test", Role::AdminRh, Some(company))
        .await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    Pair {
        consultation,
        employee: app.login("emma@c.test").await,
        practitioner: app.login("paula@cabinet.test").await,
        other_employee: app.login("eric@c.test").await,
        other_practitioner: app.login("peter@cabinet.test").await,
        hr: app.login("hr@c.test").await,
        admin: app.login("ops@huntzen.test").await,
    }
}

fn multipart(token: &str, uri: &str, bytes: &[u8], extra: &[(&str, &str)]) -> Request<Body> {
    let mut body = Vec::new();
    for (name, value) in extra {
        body.extend_from_slice(
            format!("--B\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"scan.png\"\r\nContent-Type: image/png\r\n\r\n");
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--B--\r\n");
    Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=B")
        .body(Body::from(body))
        .expect("request")
}

fn png() -> Vec<u8> {
    crate::helpers::png("taken at 48.85N 2.35E", "canary-attachment-bytes")
}

#[tokio::test]
async fn chat_between_the_two_participants_only() {
    let app = TestApp::spawn().await;
    let p = pair(&app).await;
    let url = format!("/api/chat/{}/messages", p.consultation);
    let first = app
        .post(
            &url,
            Some(&p.employee),
            json!({ "content": "Bonjour docteur", "clientMessageId": "c-1" }),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["content"], "Bonjour docteur");
    assert_eq!(first.body["senderRole"], "EMPLOYEE");
    let retry = app
        .post(
            &url,
            Some(&p.employee),
            json!({ "content": "Bonjour docteur", "clientMessageId": "c-1" }),
        )
        .await;
    assert_eq!(
        retry.body["id"], first.body["id"],
        "a retry returns the first message"
    );
    for i in 0..4 {
        app.post(
            &url,
            Some(&p.practitioner),
            json!({ "content": format!("réponse {i}") }),
        )
        .await;
    }
    let page = app.get(&format!("{url}?limit=2"), Some(&p.employee)).await;
    assert_eq!(page.body["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        page.body["items"][1]["content"], "réponse 3",
        "oldest first within a page, newest page first"
    );
    let cursor = page.body["nextCursor"].as_str().expect("cursor").to_owned();
    let older = app
        .get(
            &format!("{url}?limit=10&before={cursor}"),
            Some(&p.employee),
        )
        .await;
    assert_eq!(older.body["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(older.body["items"][0]["content"], "Bonjour docteur");
    assert!(older.body["nextCursor"].is_null());
    // Each read of the conversation is audited, naming the consultation by the reader's pseudonym
    // (never the plain id, never the content).
    let reads: Vec<(Option<String>, Option<serde_json::Value>)> =
        sqlx::query_as("SELECT resource_id, details FROM audit_logs WHERE action = 'READ' AND resource = 'messages'")
            .fetch_all(&app.db().system)
            .await
            .expect("audit");
    assert_eq!(reads.len(), 2, "two history reads, two audit rows");
    let consultation = p.consultation.to_string();
    assert!(reads.iter().all(|(target, details)| {
        target
            .as_deref()
            .is_some_and(|t| t != consultation && t.parse::<Uuid>().is_ok())
            && details.is_none()
    }));
    app.get(&format!("{url}?limit=101"), Some(&p.employee))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");

    let id = first.body["id"].as_str().expect("id");
    let own = app
        .call(
            Method::PUT,
            &format!("/api/chat/messages/{id}/read"),
            Some(&p.employee),
            None,
        )
        .await;
    assert!(
        own.body["readAt"].is_null(),
        "the sender does not mark their own message read"
    );
    let read = app
        .call(
            Method::PUT,
            &format!("/api/chat/messages/{id}/read"),
            Some(&p.practitioner),
            None,
        )
        .await;
    assert!(read.body["readAt"].is_string(), "{}", read.body);

    for token in [&p.other_employee, &p.other_practitioner] {
        app.get(&url, Some(token))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "consultation.not_found");
        app.post(&url, Some(token), json!({ "content": "intrusion" }))
            .await
            .assert_problem(StatusCode::NOT_FOUND, "consultation.not_found");
        app.call(
            Method::PUT,
            &format!("/api/chat/messages/{id}/read"),
            Some(token),
            None,
        )
        .await
        .assert_problem(StatusCode::NOT_FOUND, "message.not_found");
    }
    for token in [&p.hr, &p.admin] {
        app.get(&url, Some(token))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
    }
    app.post(&url, Some(&p.employee), json!({ "content": "   " }))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");

    sqlx::query("UPDATE consultations SET status = 'CANCELLED' WHERE id = $1")
        .bind(p.consultation)
        .execute(&app.db().system)
        .await
        .expect("cancel");
    app.post(&url, Some(&p.employee), json!({ "content": "encore ?" }))
        .await
        .assert_problem(StatusCode::CONFLICT, "chat.closed");
    assert_eq!(
        app.get(&url, Some(&p.employee)).await.status,
        StatusCode::OK,
        "reading stays open"
    );
    sqlx::query("UPDATE consultations SET status = 'COMPLETED', ended_at = now() - interval '8 days' WHERE id = $1")
        .bind(p.consultation)
        .execute(&app.db().system)
        .await
        .expect("complete");
    app.post(&url, Some(&p.employee), json!({ "content": "trop tard" }))
        .await
        .assert_problem(StatusCode::CONFLICT, "chat.closed");
}

#[tokio::test]
async fn attachments_are_typed_limited_sealed_and_private() {
    let app = TestApp::spawn().await;
    let p = pair(&app).await;
    let uri = format!("/api/chat/{}/upload", p.consultation);
    let sent = app
        .send(multipart(
            &p.employee,
            &uri,
            &png(),
            &[("content", "mon ordonnance")],
        ))
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    assert_eq!(sent.body["attachment"]["contentType"], "image/png");
    let url = sent.body["attachment"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    // The brief's names for the same file.
    assert_eq!(sent.body["attachmentUrl"], url.as_str());
    assert_eq!(sent.body["attachmentType"], "image");
    let download = app
        .send(
            Request::builder()
                .uri(&url)
                .header(header::AUTHORIZATION, format!("Bearer {}", p.practitioner))
                .body(Body::empty())
                .expect("r"),
        )
        .await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(
        download
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    assert_eq!(
        app.audit_rows("READ", "file").await,
        1,
        "downloading an attachment is audited"
    );
    for token in [&p.other_employee, &p.hr, &p.admin] {
        let denied = app
            .send(
                Request::builder()
                    .uri(&url)
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())
                    .expect("r"),
            )
            .await;
        denied.assert_problem(StatusCode::NOT_FOUND, "file.not_found");
    }
    let text = app
        .send(multipart(
            &p.employee,
            &uri,
            b"just text, not an image",
            &[],
        ))
        .await;
    text.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "file.unsupported_type");
    let mut big = png();
    big.resize(10 * 1024 * 1024 + 1, 0);
    app.send(multipart(&p.employee, &uri, &big, &[]))
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large");
    let json = app.post(&uri, Some(&p.employee), json!({})).await;
    json.assert_problem(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "request.unsupported_media_type",
    );
}

#[tokio::test]
async fn clinical_notes_belong_to_their_author() {
    let app = TestApp::spawn().await;
    let p = pair(&app).await;
    let created = app
        .post(
            "/api/clinical-notes",
            Some(&p.practitioner),
            json!({ "consultationId": p.consultation, "content": "Anxiété au travail." }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let second = app
        .post(
            &format!("/api/consultations/{}/notes", p.consultation),
            Some(&p.practitioner),
            json!({ "content": "Suivi dans 2 semaines." }),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED);
    let listed = app
        .get(
            &format!("/api/clinical-notes/consultation/{}", p.consultation),
            Some(&p.practitioner),
        )
        .await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(2));
    assert_eq!(listed.body[0]["content"], "Anxiété au travail.");
    assert_eq!(
        app.audit_rows("READ", "clinical_note").await,
        2,
        "each note read is audited"
    );
    let leaked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE details::text LIKE '%Anxiété%'")
            .fetch_one(&app.db().system)
            .await
            .expect("audit");
    assert_eq!(leaked, 0);

    let updated = app
        .call(
            Method::PUT,
            &format!("/api/clinical-notes/{id}"),
            Some(&p.practitioner),
            Some(json!({ "content": "Revu." })),
        )
        .await;
    assert_eq!(updated.body["content"], "Revu.");
    app.get(
        &format!("/api/clinical-notes/consultation/{}", p.consultation),
        Some(&p.employee),
    )
    .await
    .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
    app.get(
        &format!("/api/clinical-notes/consultation/{}", p.consultation),
        Some(&p.other_practitioner),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "consultation.not_found");
    app.post(
        "/api/clinical-notes",
        Some(&p.other_practitioner),
        json!({ "consultationId": p.consultation, "content": "x" }),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "consultation.not_found");
    app.call(
        Method::PUT,
        &format!("/api/clinical-notes/{id}"),
        Some(&p.other_practitioner),
        Some(json!({ "content": "x" })),
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "clinical_note.not_found");
    for token in [&p.hr, &p.admin] {
        app.get(
            &format!("/api/clinical-notes/consultation/{}", p.consultation),
            Some(token),
        )
        .await
        .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
    }
    // Another practitioner cannot delete it; its author can, and the deletion is audited.
    app.call(
        Method::DELETE,
        &format!("/api/clinical-notes/{id}"),
        Some(&p.other_practitioner),
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "clinical_note.not_found");
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/clinical-notes/{id}"),
            Some(&p.practitioner),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let deleted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE action = 'DELETE' AND resource = 'clinical_note' AND resource_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&app.db().system)
    .await
    .expect("audit");
    assert_eq!(deleted, 1, "the deletion of a clinical note is audited");
}

#[tokio::test]
async fn the_journal_is_its_owners_alone() {
    let app = TestApp::spawn().await;
    let p = pair(&app).await;
    let created = app
        .post(
            "/api/journal/entries",
            Some(&p.employee),
            json!({ "content": "Journée difficile.", "mood": "BAD", "tags": ["Travail"] }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["tags"], json!(["travail"]));
    let id = created.body["id"].as_str().expect("id").to_owned();
    let listed = app.get("/api/journal", Some(&p.employee)).await;
    assert_eq!(listed.body["total"], 1);
    assert_eq!(listed.body["items"][0]["content"], "Journée difficile.");
    let updated = app
        .call(
            Method::PUT,
            &format!("/api/journal/{id}"),
            Some(&p.employee),
            Some(json!({ "content": "Mieux.", "mood": "GOOD" })),
        )
        .await;
    assert_eq!(
        (
            updated.body["content"].as_str(),
            updated.body["mood"].as_str()
        ),
        (Some("Mieux."), Some("GOOD"))
    );
    app.get(&format!("/api/journal/{id}"), Some(&p.other_employee))
        .await
        .assert_problem(StatusCode::NOT_FOUND, "journal_entry.not_found");
    assert_eq!(
        app.get("/api/journal/entries", Some(&p.other_employee))
            .await
            .body["total"],
        0
    );
    for token in [&p.practitioner, &p.hr, &p.admin] {
        app.get(&format!("/api/journal/{id}"), Some(token))
            .await
            .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
    }
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/journal/{id}"),
            Some(&p.employee),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Canary strings written through every confidential route must appear nowhere in plaintext:
/// not in any table (as text or as bytea hex), not on disk, not in logs.
#[tokio::test]
async fn only_ciphertext_at_rest() {
    let app = TestApp::spawn().await;
    let p = pair(&app).await;
    let canaries = [
        "CANARY-MESSAGE-7f3a",
        "CANARY-NOTE-91bc",
        "CANARY-JOURNAL-55de",
        "canary-attachment-bytes",
    ];
    let responses: Vec<TestResponse> = vec![
        app.post(
            &format!("/api/chat/{}/messages", p.consultation),
            Some(&p.employee),
            json!({ "content": canaries[0] }),
        )
        .await,
        app.post(
            "/api/clinical-notes",
            Some(&p.practitioner),
            json!({ "consultationId": p.consultation, "content": canaries[1] }),
        )
        .await,
        app.post(
            "/api/journal",
            Some(&p.employee),
            json!({ "content": canaries[2] }),
        )
        .await,
        app.send(multipart(
            &p.employee,
            &format!("/api/chat/{}/upload", p.consultation),
            &png(),
            &[],
        ))
        .await,
    ];
    assert!(responses.iter().all(|r| r.status == StatusCode::CREATED));
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname IN ('public', 'apalis')",
    )
    .fetch_all(&app.db().system)
    .await
    .expect("tables");
    for canary in canaries {
        let hex = hex::encode(canary.as_bytes());
        for table in &tables {
            let hits: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {table} t WHERE t::text ILIKE '%' || $1 || '%' OR t::text ILIKE '%' || $2 || '%'"
            )))
            .bind(canary)
            .bind(&hex)
            .fetch_one(&app.db().system)
            .await
            .expect("scan");
            assert_eq!(hits, 0, "{canary} found in plaintext in {table}");
        }
        for entry in walk(app.dir.path()) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            assert!(
                !contains(&bytes, canary.as_bytes()),
                "{canary} found in {}",
                entry.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn key_rotation_keeps_every_row_readable() {
    let app = TestApp::spawn().await;
    let p = pair(&app).await;
    app.post(
        &format!("/api/chat/{}/messages", p.consultation),
        Some(&p.employee),
        json!({ "content": "avant rotation" }),
    )
    .await;
    app.post(
        "/api/journal",
        Some(&p.employee),
        json!({ "content": "journal avant rotation" }),
    )
    .await;
    let old = huntzen::infra::config::parse_keyring(
        "6f1c2a9e8b7d4c3f5a6e9d8c7b2a1f0e3d4c5b6a79881726354453627180a9bf",
    )
    .expect("old");
    let new_hex = "0a1b2c3d4e5f60718293a4b5c6d7e8f9f8e7d6c5b4a392817060f5e4d3c2b1a0";
    let both = huntzen::infra::crypto::Keyring::new(
        &huntzen::infra::config::parse_keyring(&format!(
            "{new_hex},6f1c2a9e8b7d4c3f5a6e9d8c7b2a1f0e3d4c5b6a79881726354453627180a9bf"
        ))
        .expect("ring"),
    )
    .expect("ring");
    let mut out = Vec::new();
    let done = huntzen::infra::crypto::rotation::rotate(app.db(), &both, 1, &mut out)
        .await
        .expect("rotate");
    // The consultation's, the journal's, and the platform's audit pseudonym key.
    assert_eq!(done.data_keys, 3);
    let log = String::from_utf8(out).expect("utf8");
    assert!(log.contains("re-wrapped 3/3"), "{log}");
    let again = huntzen::infra::crypto::rotation::rotate(app.db(), &both, 1, &mut Vec::new())
        .await
        .expect("rerun");
    assert_eq!(again.data_keys, 0, "a re-run has nothing left to do");
    // Only the new master key is needed now.
    let only_new = huntzen::infra::crypto::Keyring::new(
        &huntzen::infra::config::parse_keyring(new_hex).expect("new"),
    )
    .expect("ring");
    let (key_id, content, message_id): (Uuid, Vec<u8>, Uuid) =
        sqlx::query_as("SELECT key_id, content, id FROM messages")
            .fetch_one(&app.db().system)
            .await
            .expect("message");
    let mut conn = app.db().system.acquire().await.expect("conn");
    let key = huntzen::infra::crypto::data_keys::by_id(&mut conn, &only_new, key_id)
        .await
        .expect("unwrap")
        .expect("key");
    assert_eq!(
        key.open_text("messages", "content", message_id, &content)
            .expect("open"),
        "avant rotation"
    );
    let stale = huntzen::infra::crypto::Keyring::new(&old).expect("ring");
    assert!(
        huntzen::infra::crypto::data_keys::by_id(&mut conn, &stale, key_id)
            .await
            .is_err(),
        "the old master key alone no longer unwraps it"
    );
}

#[tokio::test]
async fn retention_purges_old_conversations_and_audit_rows_only() {
    let app = TestApp::spawn().await;
    let p = pair(&app).await;
    let url = format!("/api/chat/{}/messages", p.consultation);
    app.post(&url, Some(&p.employee), json!({ "content": "ancien" }))
        .await;
    app.send(multipart(
        &p.employee,
        &format!("/api/chat/{}/upload", p.consultation),
        &png(),
        &[],
    ))
    .await;
    let system = &app.db().system;
    // A second, recent conversation that must stay.
    let recent: Uuid = sqlx::query_scalar(
        "INSERT INTO consultations (company_id, employee_id, practitioner_id, scheduled_at, format, status) \
         SELECT company_id, employee_id, practitioner_id, now() + interval '3 days', 'VIDEO', 'CONFIRMED' FROM consultations WHERE id = $1 RETURNING id",
    )
    .bind(p.consultation)
    .fetch_one(system)
    .await
    .expect("recent");
    app.post(
        &format!("/api/chat/{recent}/messages"),
        Some(&p.employee),
        json!({ "content": "récent" }),
    )
    .await;
    sqlx::query("UPDATE consultations SET status = 'COMPLETED', scheduled_at = now() - interval '14 months', ended_at = now() - interval '13 months' WHERE id = $1")
        .bind(p.consultation)
        .execute(system)
        .await
        .expect("age");
    sqlx::query(
        "UPDATE audit_logs SET created_at = now() - interval '13 months' WHERE seq = (SELECT min(seq) FROM audit_logs)",
    )
    .execute(system)
    .await
    .expect("age audit");
    let audit_before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(system)
        .await
        .expect("count");

    let purged = huntzen::governance::retention::purge(&app.state)
        .await
        .expect("purge");
    assert_eq!(
        (purged.messages, purged.files, purged.audit_rows),
        (2, 1, 1)
    );
    let left: Vec<Uuid> = sqlx::query_scalar("SELECT consultation_id FROM messages")
        .fetch_all(system)
        .await
        .expect("left");
    assert_eq!(left, [recent]);
    let audit_after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(system)
        .await
        .expect("count");
    assert_eq!(audit_after, audit_before - 1);
    let blobs = walk(&app.dir.path().join("files"));
    assert!(blobs.is_empty(), "attachment bytes left: {blobs:?}");
}
