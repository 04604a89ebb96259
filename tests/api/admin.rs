//! SUPER_ADMIN operations: the audit trail (sign-ins found), health and metrics.

use axum::http::StatusCode;
use huntzen::infra::identity::Role;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn the_operator_finds_sign_ins_and_checks_health_and_metrics() {
    let app = TestApp::spawn().await;
    let admin = app
        .create_user("root@huntzen.test", Role::SuperAdmin, None)
        .await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None)
        .await;
    app.post(
        "/api/auth/login",
        None,
        json!({ "email": "ops@huntzen.test", "password": "wrong wrong wrong" }),
    )
    .await;
    let ops = app.login("ops@huntzen.test").await;
    let root = app.login("root@huntzen.test").await;
    let logins = app
        .get("/api/super-admin/audit-logs?action=login", Some(&root))
        .await;
    assert_eq!(logins.status, StatusCode::OK, "{}", logins.body);
    assert_eq!(logins.body["total"], 2, "{}", logins.body);
    let failed = app
        .get(
            "/api/super-admin/audit-logs?action=LOGIN_FAILED&resource=user",
            Some(&root),
        )
        .await;
    assert_eq!(failed.body["total"], 1);
    let mine = app
        .get(
            &format!("/api/super-admin/audit-logs?userId={admin}"),
            Some(&root),
        )
        .await;
    assert_eq!(mine.body["items"][0]["action"], "LOGIN");
    assert!(
        !logins.body.to_string().contains(PASSWORD),
        "no secret in the audit trail"
    );

    let health = app.get("/api/super-admin/health", Some(&root)).await;
    assert_eq!(health.body["status"], "ok", "{}", health.body);
    assert_eq!(health.body["database"]["ready"], true);
    assert!(
        health.body["disk"]["dataDirFreeBytes"]
            .as_u64()
            .is_some_and(|b| b > 0)
    );
    let metrics = app.get("/api/super-admin/metrics", Some(&root)).await;
    assert!(
        metrics.body["pools"]["app"]["size"].as_u64().is_some(),
        "{}",
        metrics.body
    );
    app.get("/api/super-admin/health", Some(&ops))
        .await
        .assert_problem(StatusCode::FORBIDDEN, "auth.forbidden");
}

#[tokio::test]
async fn a_backup_is_encrypted_and_restores_into_a_fresh_database() {
    use sqlx::ConnectOptions;
    let app = TestApp::spawn().await;
    app.create_user("root@huntzen.test", Role::SuperAdmin, None)
        .await;
    let root = app.login("root@huntzen.test").await;
    let queued = app
        .call(
            axum::http::Method::POST,
            "/api/super-admin/backup",
            Some(&root),
            None,
        )
        .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.body);
    let id = queued.body["jobId"].as_str().expect("job id").to_owned();
    let dir = app.dir.path().join("backups");
    let mut file = None;
    for _ in 0..200 {
        file = std::fs::read_dir(&dir).ok().and_then(|entries| {
            entries.flatten().map(|e| e.path()).find(|p| {
                let name = p.to_string_lossy();
                name.contains(&id) && name.ends_with(".dump.enc")
            })
        });
        if file.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let file = file.expect("the backup job wrote no file within 20 s");
    let sealed = std::fs::read(&file).expect("read");
    assert!(
        !sealed.windows(5).any(|w| w == b"PGDMP"),
        "the backup is encrypted at rest"
    );
    assert!(!sealed.windows(17).any(|w| w == b"root@huntzen.test"));

    let dump = huntzen::governance::backup::decrypt(&app.state.keyring, &file).expect("decrypt");
    assert!(dump.starts_with(b"PGDMP"), "a pg_dump custom archive");

    let target = crate::helpers::empty_database().await;
    let restored = huntzen::governance::restore::restore(
        &file,
        huntzen::governance::backup::Target {
            database_url: None,
            options: &target,
        },
        &app.state.keyring,
        &huntzen::infra::backup_files::BackupDir::new(app.dir.path()),
        20,
        &mut Vec::new(),
    )
    .await
    .expect("restore");
    assert!(restored.keys >= 1, "the key snapshot was loaded");
    let mut restored = target.connect().await.expect("restored");
    let users: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE email = 'root@huntzen.test'")
            .fetch_one(&mut restored)
            .await
            .expect("count");
    assert_eq!(users, 1, "the restored database holds the data");
}

#[tokio::test]
async fn the_audit_chain_detects_an_edited_row() {
    let app = TestApp::spawn().await;
    app.create_user("root@huntzen.test", Role::SuperAdmin, None)
        .await;
    for _ in 0..3 {
        app.login("root@huntzen.test").await;
    }
    app.post(
        "/api/auth/login",
        None,
        json!({ "email": "root@huntzen.test", "password": "not it at all" }),
    )
    .await;
    let intact = huntzen::infra::audit::verify(app.db())
        .await
        .expect("verify");
    assert_eq!(
        intact,
        huntzen::infra::audit::Verification::Intact { rows: 4 }
    );
    // The request role may add rows, never change them.
    let token = app.login("root@huntzen.test").await;
    let _ = token;
    let privileges: (bool, bool) = sqlx::query_as(
        "SELECT has_table_privilege('huntzen_app', 'audit_logs', 'UPDATE'), has_table_privilege('huntzen_app', 'audit_logs', 'DELETE')",
    )
    .fetch_one(&app.db().system)
    .await
    .expect("privileges");
    assert_eq!(privileges, (false, false));
    // An erasure clears personal metadata without breaking the chain…
    sqlx::query("UPDATE audit_logs SET ip_address = NULL, user_agent = NULL")
        .execute(&app.db().system)
        .await
        .expect("clear");
    assert!(matches!(
        huntzen::infra::audit::verify(app.db())
            .await
            .expect("verify"),
        huntzen::infra::audit::Verification::Intact { .. }
    ));
    // …but an edited row is found.
    let edited: uuid::Uuid = sqlx::query_scalar(
        "UPDATE audit_logs SET details = '{\"forged\": true}' WHERE seq = (SELECT min(seq) + 1 FROM audit_logs) RETURNING id",
    )
    .fetch_one(&app.db().system)
    .await
    .expect("tamper");
    match huntzen::infra::audit::verify(app.db())
        .await
        .expect("verify")
    {
        huntzen::infra::audit::Verification::Broken { id, .. } => assert_eq!(id, edited),
        other => panic!("tampering not detected: {other:?}"),
    }
}

#[tokio::test]
async fn prometheus_metrics_need_their_token_and_carry_no_ids() {
    let app = TestApp::spawn().await;
    app.create_user("root@huntzen.test", Role::SuperAdmin, None)
        .await;
    let root = app.login("root@huntzen.test").await;
    app.get("/api/me", Some(&root)).await;
    app.get(
        &format!("/api/companies/{}", uuid::Uuid::new_v4()),
        Some(&root),
    )
    .await;
    app.get("/metrics", None)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "metrics.unauthorized");
    app.get("/metrics", Some("wrong"))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "metrics.unauthorized");
    let scraped = app.get("/metrics", Some("test-metrics-token")).await;
    assert_eq!(scraped.status, StatusCode::OK);
    let text = scraped.body.as_str().expect("text").to_owned();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(
        text.contains("route=\"/api/companies/{id}\""),
        "routes are templates: {text}"
    );
    assert!(text.contains("http_request_duration_seconds"));
    assert!(text.contains("db_pool_connections"));
    assert!(!text.contains("@huntzen.test"), "no user in metrics");
}
