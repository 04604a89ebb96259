//! The `huntzen` binary as a user runs it: embedded default, restart keeping data, clean shutdown
//! leaving no PostgreSQL behind, and an external DATABASE_URL.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::{ConnectOptions, Connection};

use crate::helpers::{PASSWORD, fresh_database};

const BIN: &str = env!("CARGO_BIN_EXE_huntzen");

/// A minimal HTTP/1.1 client: (status, body).
pub(crate) fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

pub(crate) fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

pub(crate) fn data_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("huntzen-life-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    // As root the cluster runs as `postgres`, which must be able to enter DATA_DIR.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

pub(crate) fn huntzen(data_dir: &Path, addr: SocketAddr, database_url: Option<&str>) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATA_DIR", data_dir)
        .env("HTTP_ADDR", addr.to_string())
        .env("RUST_LOG", "warn");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command
}

fn start(data_dir: &Path, addr: SocketAddr, database_url: Option<&str>) -> Child {
    serve(huntzen(data_dir, addr, database_url), addr)
}

/// Runs `command serve` and waits until it is ready.
pub(crate) fn serve(mut command: Command, addr: SocketAddr) -> Child {
    let mut child = command
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn huntzen");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some((200, _)) = http(addr, "GET", "/api/ready", None) {
            return child;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("huntzen serve exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().ok();
    child.wait().ok();
    panic!("huntzen serve was not ready within 60 s");
}

pub(crate) fn terminate(mut child: Child) -> Duration {
    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "huntzen exited with {status}");
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "huntzen did not stop within 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// PostgreSQL processes whose command line names this directory.
fn postgres_processes_under(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .filter(|cmd| cmd.contains("postgres") && cmd.contains(&needle))
        .collect()
}

pub(crate) fn create_admin(data_dir: &Path, addr: SocketAddr, email: &str) {
    let mut child = huntzen(data_dir, addr, None)
        .args(["create-admin", "--email", email, "--role", "SUPER_ADMIN"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn create-admin");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success(), "create-admin failed");
}

fn can_login(addr: SocketAddr, email: &str) -> bool {
    let body = format!(r#"{{"email":"{email}","password":"{PASSWORD}"}}"#);
    matches!(http(addr, "POST", "/api/auth/login", Some(&body)), Some((200, b)) if b.contains("accessToken"))
}

/// A command (here the library call the command line makes) that started the embedded cluster,
/// and a server that came up on it meanwhile: when the command ends, the cluster stays up for the
/// server instead of being stopped under it; when the server ends, the last one out, it stops it.
#[tokio::test(flavor = "multi_thread")]
async fn a_command_ending_leaves_the_cluster_to_the_server_on_it() {
    let dir = data_dir();
    let addr = free_addr();
    let command = huntzen::infra::db::embedded::start(dir.path())
        .await
        .expect("start the cluster");
    let server = start(dir.path(), addr, None);
    command.stop().await.expect("end the command");
    assert!(
        !postgres_processes_under(dir.path()).is_empty(),
        "the cluster was stopped under the server"
    );
    assert!(matches!(
        http(addr, "GET", "/api/ready", None),
        Some((200, _))
    ));
    terminate(server);
    assert_eq!(
        postgres_processes_under(dir.path()),
        Vec::<String>::new(),
        "the last process out did not stop the cluster"
    );
}

/// The postmaster's pid, from `postmaster.pid`.
pub(crate) fn postmaster_pid(cluster_dir: &Path) -> String {
    let pid_file =
        std::fs::read_to_string(cluster_dir.join("postmaster.pid")).expect("postmaster.pid");
    pid_file.lines().next().expect("pid").trim().to_owned()
}

pub(crate) fn kill_9(pid: &str) {
    assert!(
        Command::new("kill")
            .args(["-KILL", pid])
            .status()
            .expect("kill")
            .success()
    );
}

/// Everything the server logged to its files under DATA_DIR/logs.
pub(crate) fn logged(data_dir: &Path) -> String {
    std::fs::read_dir(data_dir.join("logs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .collect()
}

/// `GET /api/health` as JSON.
pub(crate) fn health(addr: SocketAddr) -> Option<serde_json::Value> {
    match http(addr, "GET", "/api/health", None) {
        Some((200, body)) => serde_json::from_str(&body).ok(),
        _ => None,
    }
}

/// A SIGKILL of the server leaves its PostgreSQL running (it is a separate process); the next
/// server adopts that cluster, says so, and stops it on shutdown like one it started.
#[test]
fn a_cluster_left_by_a_killed_server_is_adopted_and_stopped_with_the_next() {
    let dir = data_dir();
    let addr = free_addr();
    let mut killed = start(dir.path(), addr, None);
    create_admin(dir.path(), addr, "root@huntzen.example");
    let pid = postmaster_pid(&dir.path().join("postgres"));
    kill_9(&killed.id().to_string());
    killed.wait().expect("wait");
    assert!(
        !postgres_processes_under(dir.path()).is_empty(),
        "PostgreSQL is a process of its own and outlives a SIGKILL of the server"
    );

    let server = start(dir.path(), addr, None);
    assert_eq!(
        postmaster_pid(&dir.path().join("postgres")),
        pid,
        "the running cluster is reused, not started twice"
    );
    assert!(can_login(addr, "root@huntzen.example"));
    assert!(
        logged(dir.path()).contains("adopting the embedded PostgreSQL cluster"),
        "the adoption is not logged"
    );
    terminate(server);
    assert_eq!(
        postgres_processes_under(dir.path()),
        Vec::<String>::new(),
        "the adopted cluster outlived the server"
    );
}

/// PostgreSQL killed under a running server: the server starts it again by itself, logs it,
/// reports it in `/api/health`, and serves again; its shutdown then stops the new cluster.
#[test]
fn postgres_dying_under_the_server_is_restarted_and_reported() {
    let dir = data_dir();
    let addr = free_addr();
    let server = start(dir.path(), addr, None);
    create_admin(dir.path(), addr, "root@huntzen.example");
    let before = health(addr).expect("health");
    assert_eq!(before["embeddedDatabase"]["state"], "running");
    assert_eq!(before["embeddedDatabase"]["restarts"], 0);

    let cluster = dir.path().join("postgres");
    let pid = postmaster_pid(&cluster);
    kill_9(&pid);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let report = health(addr).expect("/api/health answers while PostgreSQL is down");
        if report["embeddedDatabase"]["restarts"] == 1
            && report["embeddedDatabase"]["state"] == "running"
            && matches!(http(addr, "GET", "/api/ready", None), Some((200, _)))
        {
            assert!(report["embeddedDatabase"]["lastRestartAt"].is_string());
            assert!(report["embeddedDatabase"]["lastFailureAt"].is_string());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "PostgreSQL was not restarted within 90 s: {report}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_ne!(postmaster_pid(&cluster), pid, "a new postmaster runs");
    // The pool's broken connections are replaced: logins work again (a few may see 503 first).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !can_login(addr, "root@huntzen.example") {
        assert!(Instant::now() < deadline, "logins did not come back");
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = logged(dir.path());
    assert!(
        log.contains("died under the server"),
        "the death is not logged"
    );
    assert!(log.contains("was restarted"), "the restart is not logged");
    terminate(server);
    assert_eq!(
        postgres_processes_under(dir.path()),
        Vec::<String>::new(),
        "the restarted cluster outlived the server"
    );
}

#[test]
fn embedded_default_serves_stops_cleanly_and_keeps_data() {
    let dir = data_dir();
    let addr = free_addr();
    let server = start(dir.path(), addr, None);
    assert!(
        !postgres_processes_under(dir.path()).is_empty(),
        "no embedded PostgreSQL is running"
    );
    // Created while the server runs: the command line uses the running cluster and leaves it up.
    create_admin(dir.path(), addr, "root@huntzen.example");
    assert!(can_login(addr, "root@huntzen.example"));
    let took = terminate(server);
    assert!(took < Duration::from_secs(20));
    assert_eq!(
        postgres_processes_under(dir.path()),
        Vec::<String>::new(),
        "PostgreSQL outlived huntzen"
    );

    let server = start(dir.path(), addr, None);
    assert!(
        can_login(addr, "root@huntzen.example"),
        "the admin did not survive a restart"
    );
    terminate(server);
    assert!(postgres_processes_under(dir.path()).is_empty());
    assert!(dir.path().join("secrets/JWT_SECRET").exists());
    assert!(
        std::fs::read_dir(dir.path().join("logs"))
            .map(|d| d.count() > 0)
            .unwrap_or(false),
        "no log file"
    );
}

#[tokio::test]
async fn database_url_is_migrated_and_served_without_an_embedded_cluster() {
    let options = fresh_database().await;
    // An empty database next to the migrated one.
    let empty = format!("empty_{}", uuid::Uuid::new_v4().simple());
    let mut conn = options.connect().await.expect("connect");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {empty}")))
        .execute(&mut conn)
        .await
        .expect("create");
    conn.close().await.ok();
    let socket = options
        .get_socket()
        .expect("socket")
        .to_string_lossy()
        .into_owned();
    let url = format!(
        "postgres://postgres@localhost/{empty}?host={socket}&port={}",
        options.get_port()
    );

    let dir = data_dir();
    let addr = free_addr();
    let url_for_thread = url.clone();
    let dir_path = dir.path().to_path_buf();
    let server = tokio::task::spawn_blocking(move || start(&dir_path, addr, Some(&url_for_thread)))
        .await
        .expect("start");
    assert!(
        !dir.path().join("postgres").exists(),
        "an embedded cluster was started despite DATABASE_URL"
    );
    let migrated: i64 = {
        let mut conn = url
            .parse::<sqlx::postgres::PgConnectOptions>()
            .expect("url")
            .connect()
            .await
            .expect("connect");
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut conn)
            .await
            .expect("count")
    };
    assert_eq!(
        migrated as usize,
        huntzen::infra::db::MIGRATOR.iter().count()
    );
    tokio::task::spawn_blocking(move || terminate(server))
        .await
        .expect("stop");
}

/// A database that appears a few seconds after the server starts (a PostgreSQL container still
/// starting beside it) is waited for, not a reason to exit.
#[tokio::test]
async fn a_database_not_reachable_yet_is_waited_for() {
    let options = fresh_database().await;
    let real_socket_dir = options.get_socket().expect("socket").to_path_buf();
    let port = options.get_port();
    let socket_name = format!(".s.PGSQL.{port}");
    // The server looks for the socket in a directory where it appears only later.
    let later = data_dir();
    let url = format!(
        "postgres://postgres@localhost/{}?host={}&port={port}",
        options.get_database().expect("database name"),
        later.path().display()
    );
    let link = later.path().join(&socket_name);
    let appear = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        std::os::unix::fs::symlink(real_socket_dir.join(socket_name), link).expect("symlink");
    });

    let dir = data_dir();
    let addr = free_addr();
    let dir_path = dir.path().to_path_buf();
    let started = Instant::now();
    let server = tokio::task::spawn_blocking(move || start(&dir_path, addr, Some(&url)))
        .await
        .expect("start");
    appear.await.expect("symlink task");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "ready before its database existed"
    );
    tokio::task::spawn_blocking(move || terminate(server))
        .await
        .expect("stop");
}

#[test]
fn production_refuses_missing_or_weak_secrets() {
    let dir = data_dir();
    let run = |extra: &[(&str, &str)]| {
        let mut command = huntzen(dir.path(), free_addr(), None);
        command.env("APP_ENV", "production").arg("serve");
        for (key, value) in extra {
            command.env(key, value);
        }
        let output = command.output().expect("run");
        assert!(
            !output.status.success(),
            "production started with bad secrets"
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    assert!(run(&[]).contains("JWT_SECRET must be set when APP_ENV=production"));
    assert!(run(&[("JWT_SECRET", "short")]).contains("JWT_SECRET is too weak"));
    let strong = "Zq8p3LkT0vN4xWb7sR2yHc6mJf9dGa1e";
    assert!(run(&[("JWT_SECRET", strong)]).contains("JITSI_APP_SECRET must be set"));
    let stderr = run(&[
        ("JWT_SECRET", strong),
        ("JITSI_APP_SECRET", strong),
        ("ENCRYPTION_KEY", "abcd"),
    ]);
    assert!(
        stderr.contains("ENCRYPTION_KEY entry 1 is not 64 hex digits"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("postgres").exists(),
        "something started before the secrets were checked"
    );
    assert!(
        !dir.path().join("secrets").exists(),
        "production generated secrets"
    );
}

/// As root in a home that others cannot enter (`/root` is 0700 on Debian), the embedded default
/// still works: the cluster moves where `postgres` can reach it, and says so.
#[test]
fn the_embedded_default_works_under_a_directory_postgres_cannot_enter() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::Builder::new()
        .prefix("huntzen-home-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let data = home.path().join("huntzen/data");
    let addr = free_addr();
    let server = start(&data, addr, None);
    create_admin(&data, addr, "root@huntzen.example");
    assert!(can_login(addr, "root@huntzen.example"));
    terminate(server);
    let mode = std::fs::metadata(home.path())
        .expect("home")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "the home's permissions were changed");
    let cluster = huntzen::infra::db::embedded::EmbeddedPostgres::new(&data)
        .expect("cluster")
        .cluster_dir()
        .to_path_buf();
    assert!(
        cluster.join("PG_VERSION").exists(),
        "no cluster at {}",
        cluster.display()
    );
    let running_as_root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if running_as_root {
        assert!(
            cluster.starts_with("/var/lib/huntzen/embedded"),
            "as root the cluster leaves the 0700 home: {}",
            cluster.display()
        );
        assert!(
            postgres_processes_under(&cluster).is_empty(),
            "PostgreSQL outlived huntzen"
        );
        std::fs::remove_dir_all(cluster.parent().expect("base")).ok();
    } else {
        assert!(
            cluster.starts_with(&data),
            "a user's own cluster stays in DATA_DIR"
        );
    }
}

/// The URL of a fresh migrated test database (the shared test cluster, over its socket).
async fn fresh_database_url() -> String {
    let options = fresh_database().await;
    let socket = options
        .get_socket()
        .expect("socket")
        .to_string_lossy()
        .into_owned();
    format!(
        "postgres://postgres@localhost/{}?host={socket}&port={}",
        options.get_database().expect("database"),
        options.get_port()
    )
}

/// Mail files in the outbox whose text names `address`.
fn outbox_mails_to(data_dir: &Path, address: &str) -> usize {
    std::fs::read_dir(data_dir.join("outbox"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter(|text| text.contains(&format!("To: {address}")))
        .count()
}

/// Two replicas on one database. Replica A claims a password-reset mail and hangs on a stalled SMTP
/// server; A is killed with SIGKILL. Replica B (its mailer under its own name on the same queue)
/// delivers a new reset at once, and A's claimed one after the lease, without a restart of anyone.
#[tokio::test(flavor = "multi_thread")]
async fn a_mail_claimed_by_a_killed_replica_is_delivered_by_the_other() {
    let url = fresh_database_url().await;
    let dir = data_dir();
    let (addr_a, addr_b) = (free_addr(), free_addr());
    // Accepts connections and never greets: a mail being sent through it hangs.
    let stalled = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let stalled_port = stalled.local_addr().expect("addr").port();
    let path = dir.path().to_path_buf();
    let for_a = url.clone();
    let replica_a = tokio::task::spawn_blocking(move || {
        let mut command = huntzen(&path, addr_a, Some(&for_a));
        command.env("SMTP_URL", format!("smtp://127.0.0.1:{stalled_port}"));
        serve(command, addr_a)
    })
    .await
    .expect("start A");
    for email in ["first@huntzen.example", "second@huntzen.example"] {
        let mut child = huntzen(dir.path(), addr_a, Some(&url))
            .args(["create-admin", "--email", email, "--role", "SUPER_ADMIN"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("create-admin");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .expect("password");
        assert!(child.wait().expect("wait").success());
    }
    let forgot = |addr, email: &str| {
        let body = format!(r#"{{"email":"{email}"}}"#);
        http(addr, "POST", "/api/auth/forgot-password", Some(&body)).map(|(status, _)| status)
    };
    assert_eq!(forgot(addr_a, "first@huntzen.example"), Some(202));
    // A's mailer claimed the job: it connected to the stalled server.
    stalled.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + Duration::from_secs(30);
    let _held = loop {
        match stalled.accept() {
            Ok((stream, _)) => break stream,
            Err(_) => {
                assert!(
                    Instant::now() < deadline,
                    "replica A never tried to send the mail"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    let mut replica_a = replica_a;
    kill_9(&replica_a.id().to_string());
    replica_a.wait().expect("wait");

    let path = dir.path().to_path_buf();
    let for_b = url.clone();
    let replica_b =
        tokio::task::spawn_blocking(move || serve(huntzen(&path, addr_b, Some(&for_b)), addr_b))
            .await
            .expect("start B");
    assert_eq!(forgot(addr_b, "second@huntzen.example"), Some(202));
    let deadline = Instant::now() + Duration::from_secs(20);
    while outbox_mails_to(dir.path(), "second@huntzen.example") == 0 {
        assert!(
            Instant::now() < deadline,
            "replica B did not deliver a new mail"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The lease is 30 s and B's heartbeat re-queues every 10 s: well within 90 s.
    let deadline = Instant::now() + Duration::from_secs(90);
    while outbox_mails_to(dir.path(), "first@huntzen.example") == 0 {
        assert!(
            Instant::now() < deadline,
            "the mail claimed by the killed replica was never delivered"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        outbox_mails_to(dir.path(), "first@huntzen.example"),
        1,
        "delivered once"
    );
    tokio::task::spawn_blocking(move || terminate(replica_b))
        .await
        .expect("stop B");
}
