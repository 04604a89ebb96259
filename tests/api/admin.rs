//! SUPER_ADMIN operations: the audit trail (sign-ins found), health and metrics.

use axum::http::StatusCode;
use huntzen::auth::Role;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn the_operator_finds_sign_ins_and_checks_health_and_metrics() {
    let app = TestApp::spawn().await;
    let admin = app.create_user("root@huntzen.test", Role::SuperAdmin, None).await;
    app.create_user("ops@huntzen.test", Role::AdminHuntzen, None).await;
    app.post(
        "/api/auth/login",
        None,
        json!({ "email": "ops@huntzen.test", "password": "wrong wrong wrong" }),
    )
    .await;
    let ops = app.login("ops@huntzen.test").await;
    let root = app.login("root@huntzen.test").await;
    let logins = app.get("/api/super-admin/audit-logs?action=login", Some(&root)).await;
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
        .get(&format!("/api/super-admin/audit-logs?userId={admin}"), Some(&root))
        .await;
    assert_eq!(mine.body["items"][0]["action"], "LOGIN");
    assert!(
        !logins.body.to_string().contains(PASSWORD),
        "no secret in the audit trail"
    );

    let health = app.get("/api/super-admin/health", Some(&root)).await;
    assert_eq!(health.body["status"], "ok", "{}", health.body);
    assert_eq!(health.body["database"]["ready"], true);
    assert!(health.body["disk"]["dataDirFreeBytes"].as_u64().is_some_and(|b| b > 0));
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
