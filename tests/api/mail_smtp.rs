//! Mail through a real SMTP server (aiosmtpd, started here): the verification mail of a
//! registration arrives with its link.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use huntzen::infra::db::PoolSizes;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, parse_eml};

struct SmtpServer {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn start_smtp() -> SmtpServer {
    let port = crate::helpers::free_port();
    let maildir = tempfile::tempdir().expect("maildir");
    let child = Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir.path().join("inbox"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 -m aiosmtpd (scripts/test installs it with pip)");
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "aiosmtpd did not start (is it installed? `python3 -m pip install aiosmtpd`)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    SmtpServer {
        child,
        port,
        maildir,
    }
}

fn delivered(server: &SmtpServer) -> Vec<String> {
    let new = server.maildir.path().join("inbox/new");
    std::fs::read_dir(new)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn verification_mail_goes_through_smtp() {
    let server = start_smtp();
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let app =
        TestApp::spawn_configured(PoolSizes { app: 5, system: 3 }, |s| s.smtp_url = Some(url))
            .await;
    sqlx::query("INSERT INTO companies (name, slug, domain, is_active, auto_approve_employees) VALUES ('Mail', 'mail', 'mail.test', true, true)")
        .execute(&app.db().system)
        .await
        .expect("company");
    let registered = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": "smtp@mail.test", "password": PASSWORD, "role": "EMPLOYEE", "firstName": "Sam", "lastName": "Tp", "locale": "en" }),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::ACCEPTED,
        "{}",
        registered.body
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let raw = loop {
        if let Some(raw) = delivered(&server).into_iter().next() {
            break raw;
        }
        assert!(Instant::now() < deadline, "no mail reached the SMTP server");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mail = parse_eml(&raw);
    assert!(mail.to.contains("smtp@mail.test"), "{mail:?}");
    assert!(
        mail.subject.contains("Confirm your email"),
        "English for an English-speaking user: {}",
        mail.subject
    );
    let token = mail.token("verify-email");
    let verified = app
        .post("/api/auth/verify-email", None, json!({ "token": token }))
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert!(
        app.outbox().is_empty(),
        "with SMTP_URL nothing goes to the outbox"
    );
}

#[tokio::test]
async fn a_mail_that_cannot_be_delivered_is_retried_then_kept_for_inspection() {
    // A port nobody listens on.
    let port = crate::helpers::free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let app = TestApp::spawn_configured(PoolSizes { app: 5, system: 3 }, |s| {
        s.smtp_url = Some(url);
        s.job_retries = 1;
    })
    .await;
    sqlx::query("INSERT INTO companies (name, slug, domain, is_active, auto_approve_employees) VALUES ('Mail', 'mail', 'mail.test', true, true)")
        .execute(&app.db().system)
        .await
        .expect("company");
    let registered = app
        .post("/api/auth/register", None, json!({ "email": "lost@mail.test", "password": PASSWORD, "role": "EMPLOYEE", "firstName": "L", "lastName": "M" }))
        .await;
    assert_eq!(registered.status, StatusCode::ACCEPTED);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row: Option<(String, i32, Option<String>)> = sqlx::query_as(
            "SELECT status, attempts, last_result::text FROM apalis.jobs WHERE job_type = 'mail' AND last_result IS NOT NULL",
        )
        .fetch_optional(&app.db().system)
        .await
        .expect("jobs");
        if let Some((status, attempts, error)) = row {
            assert!(attempts >= 1, "attempts recorded");
            assert!(
                error.is_some_and(|e| !e.is_empty()),
                "the last error is kept"
            );
            assert_ne!(status, "Done", "a failed job is not marked done");
            break;
        }
        assert!(Instant::now() < deadline, "the failed job was not recorded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
