//! The test harness: one embedded PostgreSQL cluster shared by every test process (started by the
//! first test that needs it, under a file lock), a migrated template database, and a fresh
//! database per test cloned from it. Requests go through the real router and the real request
//! role, so row-level security applies exactly as in production.

use std::path::PathBuf;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use huntzen::auth::Role;
use huntzen::config::{AppEnv, Secrets, Settings, parse_keyring};
use huntzen::db::embedded::{self, EmbeddedPostgres};
use huntzen::db::{Db, PoolSizes};
use huntzen::state::AppState;
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tower::ServiceExt;
use uuid::Uuid;
use zeroize::Zeroizing;

/// The JWT secret every test server uses (tests forge tokens with it).
pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz";
/// A password that passes every rule.
pub const PASSWORD: &str = "correct horse battery staple";

/// Where the shared test cluster lives: `HUNTZEN_TEST_PG_DIR` (set by `scripts/test`, which stops
/// and removes it afterwards), else under /tmp — reachable by the `postgres` user when the tests
/// run as root — keyed by the checkout so that two checkouts never share one.
pub fn cluster_dir() -> PathBuf {
    use sha2::Digest;
    if let Some(dir) = std::env::var_os("HUNTZEN_TEST_PG_DIR") {
        return PathBuf::from(dir);
    }
    let key = hex::encode(&sha2::Sha256::digest(env!("CARGO_MANIFEST_DIR").as_bytes())[..4]);
    std::env::temp_dir().join(format!("huntzen-test-pg-{key}"))
}

static CLUSTER: OnceLock<EmbeddedPostgres> = OnceLock::new();

/// Starts the shared cluster if no test process has yet, and creates the migrated template.
async fn cluster() -> EmbeddedPostgres {
    if let Some(cluster) = CLUSTER.get() {
        return cluster.clone();
    }
    let dir = cluster_dir();
    std::fs::create_dir_all(&dir).expect("test cluster dir");
    let lock = std::fs::File::create(dir.join("lock")).expect("lock file");
    lock.lock().expect("locking the test cluster");
    let running = embedded::start(&dir)
        .await
        .expect("starting the test PostgreSQL cluster");
    let cluster = running.cluster().clone();
    ensure_template(&cluster).await;
    drop(lock);
    CLUSTER.get_or_init(|| cluster).clone()
}

fn template_name() -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let queue = huntzen::db::job_queue_migrations();
    for migration in huntzen::db::MIGRATOR.iter().chain(queue.iter()) {
        hasher.update(migration.version.to_le_bytes());
        hasher.update(&migration.checksum);
    }
    format!("huntzen_tpl_{}", hex::encode(&hasher.finalize()[..6]))
}

async fn ensure_template(cluster: &EmbeddedPostgres) {
    let name = template_name();
    let mut admin = cluster
        .connect_options("postgres")
        .connect()
        .await
        .expect("admin connection");
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .expect("template lookup");
    if !exists {
        let building = format!("{name}_building");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {building}")))
            .execute(&mut admin)
            .await
            .expect("drop stale template");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
            .execute(&mut admin)
            .await
            .expect("create template");
        let mut conn = cluster
            .connect_options(&building)
            .connect()
            .await
            .expect("template connection");
        huntzen::db::MIGRATOR
            .run(&mut conn)
            .await
            .expect("migrating the template");
        conn.close().await.expect("close template connection");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {building} RENAME TO {name}"
        )))
        .execute(&mut admin)
        .await
        .expect("publish template");
    }
    admin.close().await.ok();
}

/// Creates a fresh, migrated database and returns its connection options.
pub async fn fresh_database() -> PgConnectOptions {
    let cluster = cluster().await;
    let name = format!("test_{}", Uuid::new_v4().simple());
    let mut admin = cluster
        .connect_options("postgres")
        .connect()
        .await
        .expect("admin connection");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name} TEMPLATE {} STRATEGY FILE_COPY",
        template_name()
    )))
    .execute(&mut admin)
    .await
    .expect("create test database");
    admin.close().await.ok();
    cluster.connect_options(&name)
}

/// Settings for a test server whose data lives in `data_dir`.
pub fn test_settings(data_dir: PathBuf) -> Settings {
    Settings {
        data_dir,
        http_addr: "127.0.0.1:0".parse().expect("addr"),
        database_url: None,
        jwt_secret: Some(JWT_SECRET.to_owned()),
        encryption_key: None,
        public_url: "http://localhost:3000".to_owned(),
        cors_origins: "http://allowed.example".to_owned(),
        jitsi_domain: "meet.test".to_owned(),
        jitsi_app_id: "huntzen".to_owned(),
        jitsi_app_secret: None,
        smtp_url: None,
        mail_from: "HuntZen Care <no-reply@huntzen.test>".to_owned(),
        redis_url: None,
        storage_url: None,
        turn_urls: None,
        turn_secret: None,
        app_env: AppEnv::Development,
    }
}

fn test_secrets() -> Secrets {
    Secrets {
        jwt_secret: Zeroizing::new(JWT_SECRET.as_bytes().to_vec()),
        jitsi_app_secret: Zeroizing::new(b"test-jitsi-secret-0123456789abcdefghijkl".to_vec()),
        master_keys: parse_keyring("6f1c2a9e8b7d4c3f5a6e9d8c7b2a1f0e3d4c5b6a79881726354453627180a9bf").expect("key"),
    }
}

/// A test server: real router, real database, real request role.
pub struct TestApp {
    /// The state (pools, settings).
    pub state: AppState,
    /// The router with its middleware.
    pub router: axum::Router,
    /// Scratch directory (outbox, files), removed with the app.
    #[expect(dead_code, reason = "kept alive for the server's DATA_DIR; read by later tests")]
    pub dir: tempfile::TempDir,
}

/// A response, body parsed as JSON when possible.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestResponse {
    /// The `code` of a problem+json answer.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// Asserts the answer is problem+json with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(
            self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        assert_eq!(self.code(), code, "body: {}", self.body);
        assert_eq!(self.body["status"], status.as_u16());
        assert_eq!(self.body["type"], "about:blank");
    }
}

impl TestApp {
    /// A server on a fresh database.
    pub async fn spawn() -> Self {
        Self::spawn_with(PoolSizes { app: 5, system: 3 }).await
    }

    /// A server on a fresh database with the given pool sizes.
    pub async fn spawn_with(sizes: PoolSizes) -> Self {
        let options = fresh_database().await;
        let db = Db::connect(options, sizes).await.expect("connect test database");
        let dir = tempfile::tempdir().expect("tempdir");
        let state = AppState::new(db, test_settings(dir.path().to_path_buf()), &test_secrets()).expect("state");
        let router = huntzen::server::app(state.clone());
        Self { state, router, dir }
    }

    /// The database handles.
    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// Sends a request through the full middleware stack.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        TestResponse { status, headers, body }
    }

    /// A JSON request, optionally authenticated.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).expect("request")).await
    }

    /// `GET` with a token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> TestResponse {
        self.call(Method::GET, path, token, None).await
    }

    /// `POST` JSON with a token.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// Creates an active, verified user directly (system pool) and returns its id.
    pub async fn create_user(&self, email: &str, role: Role, company_id: Option<Uuid>) -> Uuid {
        let hash = self.state.passwords.hash(PASSWORD).await.expect("hash");
        sqlx::query_scalar(
            "INSERT INTO users (email, password_hash, role, company_id, email_verified) VALUES ($1, $2, $3, $4, true) RETURNING id",
        )
        .bind(email)
        .bind(hash)
        .bind(role)
        .bind(company_id)
        .fetch_one(&self.db().system)
        .await
        .expect("insert user")
    }

    /// Signs in and returns the access token.
    pub async fn login(&self, email: &str) -> String {
        let response = self
            .post(
                "/api/auth/login",
                None,
                serde_json::json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "login failed: {}", response.body);
        response.body["accessToken"].as_str().expect("accessToken").to_owned()
    }
}
