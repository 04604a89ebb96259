//! Files on an S3-compatible store: moto's server (PyPI `moto[server]`, installed by
//! scripts/test) stands in for S3/MinIO; it accepts any credentials, so the test passes dummy ones.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use huntzen::infra::db::PoolSizes;
use huntzen::infra::identity::Role;

use crate::helpers::TestApp;

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn raw(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok();
    answer
}

#[tokio::test]
async fn files_round_trip_through_an_s3_compatible_store() {
    let port = crate::helpers::free_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m moto.server (scripts/test installs moto[server])");
    let _moto = Moto(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto did not start (is `moto[server]` installed?)"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let created = raw(
        port,
        &format!(
            "PUT /huntzen-files HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(
        created.starts_with("HTTP/1.1 200"),
        "bucket not created: {created}"
    );

    let url = format!(
        "s3://huntzen-files?endpoint=http://127.0.0.1:{port}&region=us-east-1&access_key_id=test&secret_access_key=test"
    );
    let app = TestApp::spawn_configured(PoolSizes { app: 5, system: 3 }, |s| {
        s.storage_url = Some(url)
    })
    .await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    let token = app.login("ops@huntzen.test").await;
    let mut body =
        b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.pdf\"\r\n\r\n%PDF-1.7 s3-canary-bytes"
            .to_vec();
    body.extend_from_slice(b"\r\n--B--\r\n");
    let upload = |body: Vec<u8>| {
        Request::builder()
            .method(Method::POST)
            .uri("/api/files/upload")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=B")
            .body(Body::from(body))
            .expect("request")
    };
    let stored = app.send(upload(body)).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
    let file_url = stored.body["url"].as_str().expect("url").to_owned();
    let id = stored.body["id"].as_str().expect("id").to_owned();
    let key: String = sqlx::query_scalar("SELECT storage_key FROM files WHERE id = $1::uuid")
        .bind(&id)
        .fetch_one(&app.db().system)
        .await
        .expect("key");

    // The object is in the bucket (read back from S3), and it is ciphertext.
    let object = app
        .state
        .store
        .get(&key)
        .await
        .expect("object in the bucket");
    assert!(
        !object.windows(15).any(|w| w == b"s3-canary-bytes"),
        "the stored object is plaintext"
    );
    assert!(
        !std::path::Path::new(&app.dir.path().join("files")).exists(),
        "nothing was written locally"
    );

    let download = app.get(&file_url, Some(&token)).await;
    assert_eq!(download.status, StatusCode::OK);
    assert!(
        download
            .body
            .as_str()
            .is_some_and(|b| b.contains("s3-canary-bytes"))
    );
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/files/{id}"),
            Some(&token),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert!(
        app.state.store.get(&key).await.is_err(),
        "the object was not deleted"
    );
}
