//! HTTP basics: the error format, token verification, sign-in and `/api/me`.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use huntzen::infra::identity::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{JWT_SECRET, PASSWORD, TestApp};

#[tokio::test]
async fn health_ready_and_openapi() {
    let app = TestApp::spawn().await;
    let health = app.get("/api/health", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["status"], "ok");
    assert!(health.headers.contains_key("x-request-id"));
    assert_eq!(app.get("/api/ready", None).await.status, StatusCode::OK);
    // Nothing an API answer says is kept by a browser or a cache, problems included.
    let problem = app.get("/api/me", None).await;
    for response in [&health, &problem] {
        let header = |name: &str| {
            response
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(header("cache-control").as_deref(), Some("no-store"));
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"));
    }

    let doc = app.get("/api/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(
        doc.body["openapi"]
            .as_str()
            .unwrap_or("")
            .starts_with("3.1")
    );
    for path in ["/api/health", "/api/ready", "/api/me", "/api/auth/login"] {
        assert!(
            doc.body["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    let docs = app.get("/api/docs/", None).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(
        docs.body.as_str().unwrap_or("").contains("swagger"),
        "docs page is not Swagger UI"
    );
}

#[tokio::test]
async fn unknown_route_and_wrong_method_are_problems() {
    let app = TestApp::spawn().await;
    app.get("/api/does-not-exist", None)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "route.not_found");
    app.call(Method::DELETE, "/api/health", None, None)
        .await
        .assert_problem(StatusCode::METHOD_NOT_ALLOWED, "route.method_not_allowed");
    // Another method on an alias path: 405 with the alias's methods, not what the canonical path
    // (or a `{id}` route the literal segment happens to fit) does with that method.
    for (method, path, allow) in [
        (Method::DELETE, "/api/admin-huntzen/kpis", "GET"),
        (Method::PUT, "/api/journal/entries", "GET, POST"),
        (Method::PUT, "/api/practitioners/search", "GET"),
    ] {
        let response = app.call(method, path, None, None).await;
        response.assert_problem(StatusCode::METHOD_NOT_ALLOWED, "route.method_not_allowed");
        assert_eq!(response.headers["allow"], allow, "{path}");
    }
}

#[tokio::test]
async fn bad_bodies_get_the_right_status() {
    let app = TestApp::spawn().await;
    let raw = |content_type: Option<&str>, body: &str| {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/api/auth/login");
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        builder.body(Body::from(body.to_owned())).expect("request")
    };
    app.send(raw(Some("application/json"), "{\"email\": "))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "request.malformed_json");
    app.send(raw(Some("application/json"), "{} trailing"))
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "request.malformed_json");
    app.send(raw(Some("text/plain"), "{}"))
        .await
        .assert_problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "request.unsupported_media_type",
        );
    app.send(raw(None, "{}")).await.assert_problem(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "request.unsupported_media_type",
    );

    let missing = app
        .send(raw(Some("application/json"), "{\"email\": \"a@b.fr\"}"))
        .await;
    missing.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    assert_eq!(missing.body["errors"][0]["field"], "password");
    assert_eq!(
        missing.body["errors"][0]["message"],
        "missing field `password`"
    );
    let wrong_type = app
        .send(raw(
            Some("application/json"),
            "{\"email\": 3, \"password\": \"x\"}",
        ))
        .await;
    wrong_type.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    assert_eq!(wrong_type.body["errors"][0]["field"], "email");
    let empty = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": "", "password": "" }),
        )
        .await;
    empty.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    assert_eq!(empty.body["errors"].as_array().map(Vec::len), Some(2));

    let huge = format!(
        "{{\"email\": \"{}\", \"password\": \"x\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    app.send(raw(Some("application/json"), &huge))
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large");
}

fn claims(sub: &str, sid: &str, exp_offset: i64, iss: &str, aud: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "sub": sub, "sid": sid, "role": "EMPLOYEE", "iss": iss, "aud": aud, "iat": now, "exp": now + exp_offset })
}

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_refused() {
    let app = TestApp::spawn().await;
    app.create_user("someone@huntzen.example", Role::AdminHuntzen, None)
        .await;
    let login = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": "someone@huntzen.example", "password": PASSWORD }),
        )
        .await;
    let access = login.body["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let refresh = login.body["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_eq!(
        app.get("/api/me", Some(&access)).await.status,
        StatusCode::OK
    );

    let payload: Value = {
        let middle = access.split('.').nth(1).expect("payload");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(middle).expect("b64")).expect("json")
    };
    let sub = payload["sub"].as_str().expect("sub");
    let sid = payload["sid"].as_str().expect("sid");

    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let none_payload =
        URL_SAFE_NO_PAD.encode(claims(sub, sid, 600, "huntzen", "huntzen-api").to_string());
    let mut tampered_payload = payload.clone();
    tampered_payload["role"] = json!("SUPER_ADMIN");
    tampered_payload["sub"] = json!(uuid::Uuid::new_v4());
    let parts: Vec<&str> = access.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(tampered_payload.to_string()),
        parts[2]
    );

    let cases = [
        ("alg none", format!("{none_header}.{none_payload}.")),
        (
            "expired",
            sign(
                &claims(sub, sid, -3600, "huntzen", "huntzen-api"),
                JWT_SECRET,
            ),
        ),
        (
            "wrong key",
            sign(
                &claims(sub, sid, 600, "huntzen", "huntzen-api"),
                "another-secret-another-secret-another-secret",
            ),
        ),
        (
            "wrong issuer",
            sign(&claims(sub, sid, 600, "evil", "huntzen-api"), JWT_SECRET),
        ),
        (
            "wrong audience",
            sign(&claims(sub, sid, 600, "huntzen", "jitsi"), JWT_SECRET),
        ),
        ("tampered payload", tampered),
        ("refresh token as access token", refresh),
        ("garbage", "not-a-jwt".to_owned()),
    ];
    for (name, token) in cases {
        let response = app.get("/api/me", Some(&token)).await;
        assert_eq!(
            response.status,
            StatusCode::UNAUTHORIZED,
            "{name} was accepted"
        );
        assert_eq!(response.code(), "auth.invalid_token", "{name}");
    }
    // Correctly signed, but for a session that does not exist.
    let unknown_session = sign(
        &claims(
            sub,
            &uuid::Uuid::new_v4().to_string(),
            600,
            "huntzen",
            "huntzen-api",
        ),
        JWT_SECRET,
    );
    app.get("/api/me", Some(&unknown_session))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.session_ended");
    app.get("/api/me", None)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.missing_token");
}

#[tokio::test]
async fn login_returns_tokens_and_me_reads_the_account() {
    let app = TestApp::spawn().await;
    let id = app
        .create_user("Admin@HuntZen.example", Role::AdminHuntzen, None)
        .await;
    let login = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": "admin@huntzen.example", "password": PASSWORD }),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["expiresIn"], 900);
    assert_eq!(login.body["user"]["id"], id.to_string());
    assert_eq!(login.body["user"]["role"], "ADMIN_HUNTZEN");
    assert!(login.body["user"]["companyId"].is_null());
    assert!(
        login.body["refreshToken"]
            .as_str()
            .is_some_and(|t| t.len() >= 40)
    );

    let me = app.get("/api/me", login.body["accessToken"].as_str()).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["id"], id.to_string());
    assert_eq!(me.body["role"], "ADMIN_HUNTZEN");
    assert_eq!(me.body["twoFactorEnabled"], false);

    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE user_id = $1 AND action = 'LOGIN'",
    )
    .bind(id)
    .fetch_one(&app.db().system)
    .await
    .expect("audit");
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_answer_the_same() {
    let app = TestApp::spawn().await;
    app.create_user("real@huntzen.example", Role::AdminHuntzen, None)
        .await;
    let wrong = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": "real@huntzen.example", "password": "not the password" }),
        )
        .await;
    let unknown = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": "ghost@huntzen.example", "password": "not the password" }),
        )
        .await;
    wrong.assert_problem(StatusCode::UNAUTHORIZED, "auth.invalid_credentials");
    unknown.assert_problem(StatusCode::UNAUTHORIZED, "auth.invalid_credentials");
    assert_eq!(wrong.body, unknown.body);
    let failures: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE action = 'LOGIN_FAILED'")
            .fetch_one(&app.db().system)
            .await
            .expect("audit");
    assert_eq!(failures, 2);
}

#[tokio::test]
async fn deactivation_blocks_the_next_request() {
    let app = TestApp::spawn().await;
    let id = app
        .create_user("soon-gone@huntzen.example", Role::AdminHuntzen, None)
        .await;
    let token = app.login("soon-gone@huntzen.example").await;
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::OK
    );
    sqlx::query("UPDATE users SET is_active = false WHERE id = $1")
        .bind(id)
        .execute(&app.db().system)
        .await
        .expect("deactivate");
    app.get("/api/me", Some(&token))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "auth.session_ended");
    let again = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": "soon-gone@huntzen.example", "password": PASSWORD }),
        )
        .await;
    again.assert_problem(StatusCode::UNAUTHORIZED, "auth.account_disabled");
}

#[tokio::test]
async fn create_admin_then_login() {
    let app = TestApp::spawn().await;
    huntzen::app::cli::create_admin(app.db(), "Boss@HuntZen.example", Role::SuperAdmin, PASSWORD)
        .await
        .expect("create");
    let duplicate = huntzen::app::cli::create_admin(
        app.db(),
        "boss@huntzen.example",
        Role::SuperAdmin,
        PASSWORD,
    )
    .await;
    assert!(duplicate.is_err());
    let token = app.login("boss@huntzen.example").await;
    let me = app.get("/api/me", Some(&token)).await;
    assert_eq!(me.body["role"], "SUPER_ADMIN");
    assert_eq!(me.body["email"], "boss@huntzen.example");
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = TestApp::spawn().await;
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/auth/login")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(Body::empty())
            .expect("request")
    };
    let allowed = app.send(preflight("http://allowed.example")).await;
    assert_eq!(
        allowed
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .and_then(|v| v.to_str().ok()),
        Some("http://allowed.example")
    );
    let denied = app.send(preflight("http://evil.example")).await;
    assert!(
        denied
            .headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}

#[tokio::test]
async fn healthcheck_command_reads_readiness_over_plain_tcp() {
    let app = crate::helpers::TestApp::spawn().await;
    let url = app.listen().await;
    assert_eq!(
        huntzen::app::probe::ready_status(&url)
            .await
            .expect("status"),
        200
    );
    let closed = crate::helpers::free_port();
    assert!(
        huntzen::app::probe::ready_status(&format!("http://127.0.0.1:{closed}"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn an_idle_server_does_not_poll_its_job_queue_in_a_loop() {
    let app = crate::helpers::TestApp::spawn().await;
    let transactions = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&app.db().system)
        .await
        .expect("stats")
    };
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let before = transactions().await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let after = transactions().await;
    // Three workers polling every half second: about 18. (apalis-postgres's Pubsub wake-up made
    // them re-fetch in a tight loop, about 3,000 here; and joined in one task they kept waking
    // each other into fetching again, 170 to 1,600 here.)
    assert!(
        after - before < 100,
        "{} transactions in 3 s on an idle server",
        after - before
    );
}

/// What a client that goes away does to its request: the future is polled until it waits on the
/// database, then dropped. Returns the state of the connection's backend a moment later.
async fn state_after_a_dropped_begin<F: std::future::Future>(
    app: &TestApp,
    begin: impl Fn(sqlx::PgPool) -> F,
) -> String {
    use futures::FutureExt as _;
    let options = (*app.db().system.connect_options()).clone();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .expect("pool");
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .expect("pid");
    // Let the connection finish going back to the pool (sqlx pings it on release).
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    drop(begin(pool.clone()).now_or_never());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let state = sqlx::query_scalar("SELECT state FROM pg_stat_activity WHERE pid = $1")
        .bind(pid)
        .fetch_one(&app.db().system)
        .await
        .expect("state");
    pool.close().await;
    state
}

#[tokio::test]
#[expect(
    clippy::disallowed_methods,
    reason = "shows what the plain `Pool::begin` does, which is why the lint sends everyone to `context::begin`"
)]
async fn a_request_dropped_during_begin_leaves_no_open_transaction() {
    let app = TestApp::spawn().await;
    // sqlx 0.9 alone can leave the pooled connection inside the transaction, depending on where
    // the drop lands (if this never happens any more, sqlx fixed it and `db::context::begin` may go).
    let mut raw = Vec::new();
    for _ in 0..10 {
        raw.push(
            state_after_a_dropped_begin(&app, |pool| async move { pool.begin().await.map(drop) })
                .await,
        );
        if raw.last().map(String::as_str) == Some("idle in transaction") {
            break;
        }
    }
    assert_eq!(
        raw.last().map(String::as_str),
        Some("idle in transaction"),
        "{raw:?}"
    );
    for _ in 0..10 {
        let ours = state_after_a_dropped_begin(&app, |pool| async move {
            huntzen::infra::db::context::begin(&pool).await.map(drop)
        })
        .await;
        assert_eq!(ours, "idle");
    }
}

/// OpenAPI requires every `operationId` to be unique, and client generators name their methods
/// after them: a duplicate breaks them or silently merges two operations. Every operation has one.
#[test]
fn operation_ids_are_unique() {
    let doc = serde_json::to_value(huntzen::app::openapi()).expect("openapi");
    let mut seen = std::collections::HashMap::new();
    let mut failures = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let Some(id) = operation["operationId"].as_str() else {
                failures.push(format!("{method} {path} has no operationId"));
                continue;
            };
            if let Some(first) = seen.insert(id.to_owned(), format!("{method} {path}")) {
                failures.push(format!(
                    "operationId `{id}` is used by {first} and {method} {path}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The document lists what clients really receive: every error answer as problem+json, 401 and 403
/// on each authenticated operation (401 alone where a token is optional), each path parameter declared under its path's own name, and
/// one schema per name (a name shared by two types silently kept only one).
#[test]
fn the_openapi_document_lists_error_answers_and_path_parameters() {
    let doc = serde_json::to_value(huntzen::app::routes::openapi()).expect("openapi");
    let mut failures = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
                continue;
            };
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let content: Vec<&String> = response["content"]
                        .as_object()
                        .map(|c| c.keys().collect())
                        .unwrap_or_default();
                    if content != ["application/problem+json"] {
                        failures.push(format!("{method} {path} {status}: content {content:?}"));
                    }
                }
            }
            let security = operation["security"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let token_optional = security.contains(&json!({}));
            if !security.is_empty() && !responses.contains_key("401") {
                failures.push(format!("{method} {path}: 401 not documented"));
            }
            if !security.is_empty() && !token_optional && !responses.contains_key("403") {
                failures.push(format!("{method} {path}: 403 not documented"));
            }
            // Paging bounds as the validators apply them (schemathesis sent page=0 as "valid").
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let (name, schema) = (&parameter["name"], &parameter["schema"]);
                let bounded = match name.as_str() {
                    Some("page") => schema["minimum"] == 1,
                    Some("pageSize" | "limit") => {
                        schema["minimum"] == 1 && schema["maximum"] == 100
                    }
                    _ => true,
                };
                if !bounded {
                    failures.push(format!(
                        "{method} {path}: `{name}` without its bounds: {schema}"
                    ));
                }
            }
            for name in path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            {
                let declared = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["in"] == "path" && p["name"] == name);
                if !declared {
                    failures.push(format!(
                        "{method} {path}: path parameter `{name}` not declared"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["HealthStatus"]["type"], "object");
    assert!(schemas["ConsultationStatus"]["enum"].is_array());
    assert_eq!(
        doc["paths"]["/api/auth/login"]["post"]["responses"]["429"]["headers"]["Retry-After"]["schema"]
            ["type"],
        "integer"
    );
}

/// Request bodies say what the validators accept, so that schema-valid data is not refused
/// (schemathesis's "schema-valid request rejected" check).
#[test]
fn request_schemas_carry_the_validators_bounds() {
    let doc = serde_json::to_value(huntzen::app::routes::openapi()).expect("openapi");
    let schema = |name: &str| doc["components"]["schemas"][name]["properties"].clone();
    let register = schema("RegisterRequest");
    assert_eq!(
        register["role"]["enum"],
        serde_json::json!(["EMPLOYEE", "PRACTITIONER"])
    );
    assert_eq!(register["firstName"]["maxLength"], 100);
    assert_eq!(register["password"]["minLength"], 12);
    assert_eq!(schema("LoginRequest")["email"]["minLength"], 1);
    assert_eq!(
        schema("AttendanceRequest")["event"]["enum"],
        serde_json::json!(["ROOM_JOINED", "ROOM_LEFT"])
    );
    assert_eq!(schema("ConsentInput")["version"]["maxLength"], 20);
    let entry = schema("EntryInput");
    assert_eq!(entry["content"]["maxLength"], 20_000);
    assert_eq!(
        (
            entry["tags"]["maxItems"].clone(),
            entry["tags"]["items"]["maxLength"].clone()
        ),
        (20.into(), 40.into())
    );
    // Creating requires what updating leaves optional.
    let required = |name: &str| doc["components"]["schemas"][name]["required"].clone();
    assert_eq!(
        required("NewArticle"),
        serde_json::json!(["title", "content", "category"])
    );
    assert_eq!(required("NewNews"), serde_json::json!(["title", "content"]));
    assert!(required("ArticleInput").is_null() && required("NewsInput").is_null());
    assert_eq!(schema("NewsInput")["title"]["maxLength"], 200);
    let created_at = &schema("JitsiEvent")["created_at"]["type"];
    assert!(created_at.to_string().contains("integer"), "{created_at}");
    // `sep` is a parameter of the CSV exports only (the JSON reports ignored it, whatever it was).
    let takes_sep = |path: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .any(|p| p["name"] == "sep")
    };
    assert!(
        takes_sep("/api/reports/export-csv") && takes_sep("/api/reports/practitioner-export-csv")
    );
    assert!(
        !takes_sep("/api/reports/department-usage") && !takes_sep("/api/reports/employee-usage")
    );
}

/// Inputs schemathesis found answered with a 500. PostgreSQL cannot store U+0000 in text: a body,
/// query or path holding it is a 422 naming where, never a database error.
#[tokio::test]
async fn the_nul_character_and_huge_pages_are_not_server_errors() {
    let app = TestApp::spawn().await;
    let body = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": "nul@example.test", "password": PASSWORD, "role": "EMPLOYEE",
                    "firstName": "a\u{0}b", "lastName": "N" }),
        )
        .await;
    body.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    assert_eq!(body.body["errors"][0]["field"], "firstName");
    let query = app.get("/api/articles?search=a%00b", None).await;
    query.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    assert_eq!(query.body["errors"][0]["field"], "search");
    // And a page far past the end is an empty page (its offset overflowed into a 500).
    let far = app
        .get("/api/articles?page=9223372036854775807&pageSize=100", None)
        .await;
    assert_eq!(far.status, StatusCode::OK, "body: {}", far.body);
    assert_eq!(far.body["items"], json!([]));
    let path = app.get("/api/articles/a%00b", None).await;
    path.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation.failed");
    assert_eq!(path.body["errors"][0]["field"], "path");
}
