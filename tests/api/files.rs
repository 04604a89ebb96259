//! Files: typed by their bytes, sealed, and readable only as their purpose allows.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use huntzen::infra::identity::Role;
use uuid::Uuid;

use crate::helpers::{TestApp, TestResponse};

fn png() -> Vec<u8> {
    crate::helpers::png("GPS 48.8584N 2.2945E", "picture")
}
const PDF: &[u8] = b"%PDF-1.7\n1 0 obj diploma";

async fn upload(app: &TestApp, token: &str, uri: &str, bytes: &[u8]) -> TestResponse {
    app.upload(token, uri, bytes).await
}

async fn fetch(app: &TestApp, token: Option<&str>, url: &str) -> StatusCode {
    let mut builder = Request::builder().uri(url);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.send(builder.body(Body::empty()).expect("r"))
        .await
        .status
}

#[tokio::test]
async fn uploads_follow_their_purpose() {
    let app = TestApp::spawn().await;
    let system = &app.db().system;
    let company: Uuid = sqlx::query_scalar(
        "INSERT INTO companies (name, slug, domain, is_active) VALUES ('F', 'f', 'f.test', true) RETURNING id",
    )
    .fetch_one(system)
    .await
    .expect("company");
    let mut tokens = Vec::new();
    for who in ["ann", "bob"] {
        let user = app
            .create_user(&format!("{who}@f.test"), Role::Employee, Some(company))
            .await;
        sqlx::query("INSERT INTO employees (user_id, company_id, first_name, last_name) VALUES ($1, $2, $3, 'F')")
            .bind(user)
            .bind(company)
            .bind(who)
            .execute(system)
            .await
            .expect("employee");
        tokens.push(app.login(&format!("{who}@f.test")).await);
    }
    let doc = app
        .create_user("doc@cabinet.test", Role::Practitioner, None)
        .await;
    sqlx::query("INSERT INTO practitioners (user_id, first_name, last_name, title, specialty) VALUES ($1, 'D', 'D', 'Dr.', 'PSYCHIATRE')")
        .bind(doc)
        .execute(system)
        .await
        .expect("practitioner");
    app.create_user("rh@f.test", Role::AdminRh, Some(company))
        .await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let (ann, bob) = (&tokens[0], &tokens[1]);
    let (doc_token, hr, ops) = (
        app.login("doc@cabinet.test").await,
        app.login("rh@f.test").await,
        app.login("ops@huntzen.test").await,
    );

    let avatar = upload(&app, ann, "/api/employees/me/upload-avatar", &png()).await;
    assert_eq!(avatar.status, StatusCode::CREATED, "{}", avatar.body);
    let url = avatar.body["url"].as_str().expect("url").to_owned();
    assert_eq!(
        app.get("/api/employees/me", Some(ann)).await.body["avatarUrl"],
        url.as_str()
    );
    assert_eq!(
        fetch(&app, Some(bob), &url).await,
        StatusCode::OK,
        "pictures are visible to people signed in"
    );
    let downloaded = app
        .send(
            Request::builder()
                .uri(&url)
                .header(header::AUTHORIZATION, format!("Bearer {bob}"))
                .body(Body::empty())
                .expect("r"),
        )
        .await;
    let bytes = downloaded
        .body
        .as_str()
        .map(|s| s.as_bytes().to_vec())
        .unwrap_or_default();
    assert!(bytes.windows(3).any(|w| w == b"PNG"), "still a PNG");
    assert!(
        !bytes.windows(4).any(|w| w == b"GPS "),
        "image metadata was not stripped"
    );
    assert!(
        bytes.windows(7).any(|w| w == b"picture"),
        "the picture itself is kept"
    );
    assert_eq!(
        downloaded
            .headers
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert!(
        downloaded
            .headers
            .get(header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("attachment"))
    );
    assert_eq!(fetch(&app, None, &url).await, StatusCode::UNAUTHORIZED);
    upload(&app, ann, "/api/employees/me/upload-avatar", PDF)
        .await
        .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "file.unsupported_type");
    upload(
        &app,
        ann,
        "/api/files/upload",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    )
    .await
    .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "file.unsupported_type");

    let private = upload(&app, ann, "/api/files/upload", PDF).await;
    let private_url = private.body["url"].as_str().expect("url").to_owned();
    let private_id = private.body["id"].as_str().expect("id").to_owned();
    assert_eq!(fetch(&app, Some(ann), &private_url).await, StatusCode::OK);
    for token in [bob, &hr, &ops] {
        assert_eq!(
            fetch(&app, Some(token), &private_url).await,
            StatusCode::NOT_FOUND
        );
    }
    app.call(
        Method::DELETE,
        &format!("/api/files/{private_id}"),
        Some(bob),
        None,
    )
    .await
    .assert_problem(StatusCode::NOT_FOUND, "file.not_found");
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/files/{private_id}"),
            Some(ann),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        fetch(&app, Some(ann), &private_url).await,
        StatusCode::NOT_FOUND
    );

    let document = upload(
        &app,
        &doc_token,
        "/api/practitioners/me/upload-documents",
        PDF,
    )
    .await;
    let document_url = document.body["url"].as_str().expect("url").to_owned();
    assert_eq!(
        fetch(&app, Some(&ops), &document_url).await,
        StatusCode::OK,
        "platform admins check documents"
    );
    assert_eq!(
        fetch(&app, Some(ann), &document_url).await,
        StatusCode::NOT_FOUND
    );

    let logo = upload(&app, &hr, "/api/companies/me/upload-logo", &png()).await;
    assert_eq!(logo.status, StatusCode::CREATED, "{}", logo.body);
    assert_eq!(
        app.get("/api/companies/me", Some(&hr)).await.body["logoUrl"],
        logo.body["url"]
    );
    let stored: Vec<u8> = {
        let key: String = sqlx::query_scalar("SELECT storage_key FROM files WHERE id = $1::uuid")
            .bind(logo.body["id"].as_str().expect("id"))
            .fetch_one(system)
            .await
            .expect("key");
        std::fs::read(app.dir.path().join("files").join(&key[..2]).join(&key)).expect("blob")
    };
    assert!(
        !stored.windows(7).any(|w| w == b"picture"),
        "stored bytes are not the plaintext"
    );
}

/// A PDF that would act on its own in a viewer (JavaScript, an action on opening, a launched
/// program, embedded files) is refused, however it spells or hides the name; a plain one passes.
#[tokio::test]
async fn pdfs_with_active_content_are_refused() {
    use std::io::Write as _;
    let app = TestApp::spawn().await;
    app.create_user("doc@pdf.test", Role::Practitioner, None)
        .await;
    let token = app.login("doc@pdf.test").await;
    let deflated = |text: &[u8]| {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(text).expect("deflate");
        z.finish().expect("deflate")
    };
    let mut in_object_stream =
        b"%PDF-1.7\n4 0 obj << /Type /ObjStm /Filter /FlateDecode >>\nstream\n".to_vec();
    in_object_stream.extend(deflated(b"<< /S /JavaScript /JS (app.alert(1)) >>"));
    in_object_stream.extend_from_slice(b"\nendstream\nendobj\n");
    let mut compressed_but_plain =
        b"%PDF-1.7\n4 0 obj << /Filter /FlateDecode >>\nstream\n".to_vec();
    compressed_but_plain.extend(deflated(b"BT /F1 12 Tf (Diplome) Tj ET"));
    compressed_but_plain.extend_from_slice(b"\nendstream\nendobj\n");
    let refused: [&[u8]; 5] = [
        b"%PDF-1.7\n1 0 obj << /Type /Catalog /OpenAction 2 0 R >> endobj",
        b"%PDF-1.7\n1 0 obj << /S /J#61vaScript /JS (x) >> endobj",
        b"%PDF-1.7\n1 0 obj << /S /Launch /F (calc.exe) >> endobj",
        b"%PDF-1.7\n1 0 obj << /Names << /EmbeddedFiles 3 0 R >> >> endobj",
        &in_object_stream,
    ];
    for pdf in refused {
        upload(&app, &token, "/api/practitioners/me/upload-documents", pdf)
            .await
            .assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "file.active_content");
    }
    for pdf in [PDF, compressed_but_plain.as_slice()] {
        let ok = upload(&app, &token, "/api/practitioners/me/upload-documents", pdf).await;
        assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    }
}
