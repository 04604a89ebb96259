//! SUPER_ADMIN operations against the real binary: the settings in effect show secrets only as
//! set and a fingerprint, and the structured log files it writes are read back through
//! `GET /api/super-admin/logs` with no secret and no confidential text in them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::PASSWORD;
use crate::lifecycle::{create_admin, data_dir, free_addr, huntzen, logged, serve, terminate};

/// One HTTP/1.1 exchange with an optional bearer token: (status, head, body).
fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let body = body.unwrap_or("");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // Chunked answers: keep the JSON part.
    let body = match (body.find('{'), body.rfind('}')) {
        (Some(start), Some(end)) if end >= start => body[start..=end].to_owned(),
        _ => body.to_owned(),
    };
    (status, head.to_owned(), body)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn config_and_logs_show_no_secret_and_no_content() {
    let dir = data_dir();
    let addr = free_addr();
    let metrics_token = "metrics-token-abcdefghijklmnopqrstuvwxyz";
    let mut command = huntzen(dir.path(), addr, None);
    // Request lines are logged at debug by tower_http: this asks for them, as an operator would.
    command
        .env("RUST_LOG", "info,tower_http=debug")
        .env("METRICS_TOKEN", metrics_token);
    let server = serve(command, addr);
    create_admin(dir.path(), addr, "root@ops.test");
    let (status, _, body) = call(
        addr,
        "POST",
        "/api/auth/login",
        None,
        Some(&format!(
            r#"{{"email":"root@ops.test","password":"{PASSWORD}"}}"#
        )),
    );
    assert_eq!(status, 200, "{body}");
    let token = json(&body)["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let wrong_password = "wrong-but-secret-passphrase-42";
    call(
        addr,
        "POST",
        "/api/auth/login",
        None,
        Some(&format!(
            r#"{{"email":"root@ops.test","password":"{wrong_password}"}}"#
        )),
    );
    let confidential = "mon burn-out et mes idées noires";
    let (status, head, body) = call(
        addr,
        "POST",
        "/api/support/tickets",
        Some(&token),
        Some(&format!(
            r#"{{"subject":"Aide","body":"{confidential}","category":"OTHER"}}"#
        )),
    );
    assert_eq!(status, 201, "{body}");
    let request_id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("x-request-id")
        .trim()
        .to_owned();

    // The settings: values, and secrets as set + fingerprint only.
    let (status, _, config) = call(addr, "GET", "/api/super-admin/config", Some(&token), None);
    assert_eq!(status, 200, "{config}");
    let settings = &json(&config)["settings"];
    assert_eq!(settings["METRICS_TOKEN"]["set"], true);
    let fingerprint = settings["METRICS_TOKEN"]["fingerprint"]
        .as_str()
        .expect("fingerprint");
    assert_eq!(fingerprint.len(), 12);
    assert_eq!(
        settings["DATABASE_URL"]["set"], false,
        "the embedded default"
    );
    assert_eq!(settings["JWT_SECRET"]["generated"], true);
    assert_eq!(settings["TURN_SECRET"]["set"], false);
    assert_eq!(settings["HTTP_ADDR"], addr.to_string());
    assert!(!config.contains(metrics_token));
    for generated in ["JWT_SECRET", "JITSI_APP_SECRET", "ENCRYPTION_KEY"] {
        let value =
            std::fs::read_to_string(dir.path().join("secrets").join(generated)).unwrap_or_default();
        let value = value.trim();
        assert!(
            value.len() >= 32 && !config.contains(value),
            "{generated} shown"
        );
    }

    // The ticket's request, found by its id in the log files the server wrote.
    let deadline = Instant::now() + Duration::from_secs(15);
    let entries = loop {
        let (status, _, body) = call(
            addr,
            "GET",
            &format!("/api/super-admin/logs?level=debug&requestId={request_id}"),
            Some(&token),
            None,
        );
        assert_eq!(status, 200, "{body}");
        let page = json(&body);
        if page["total"].as_i64().unwrap_or(0) > 0 {
            break page;
        }
        assert!(
            Instant::now() < deadline,
            "no log entry of request {request_id} (lines naming it in the files: {})",
            logged(dir.path())
                .lines()
                .filter(|l| l.contains(&request_id))
                .count()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    for item in entries["items"].as_array().expect("items") {
        assert_eq!(item["requestId"], request_id.as_str());
        assert_eq!(item["path"], "/api/support/tickets");
    }
    let (status, _, future) = call(
        addr,
        "GET",
        "/api/super-admin/logs?since=2099-01-01T00:00:00Z",
        Some(&token),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(json(&future)["total"], 0);
    let (status, _, _) = call(
        addr,
        "GET",
        "/api/super-admin/logs?level=loud",
        Some(&token),
        None,
    );
    assert_eq!(status, 422);
    let (status, _, paged) = call(
        addr,
        "GET",
        "/api/super-admin/logs?level=debug&pageSize=2",
        Some(&token),
        None,
    );
    assert_eq!(status, 200);
    assert!(
        json(&paged)["items"]
            .as_array()
            .is_some_and(|i| i.len() <= 2)
    );

    terminate(server);
    // Nothing secret or confidential in any log file, at these levels.
    let logs = logged(dir.path());
    assert!(
        logs.contains(&request_id),
        "the files hold the request lines"
    );
    for secret in [
        confidential,
        wrong_password,
        PASSWORD,
        token.as_str(),
        metrics_token,
    ] {
        assert!(!logs.contains(secret), "{secret:?} in the logs");
    }
}
