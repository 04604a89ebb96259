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
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Option<(u16, String)> {
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

fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

fn data_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("huntzen-life-")
        .tempdir_in("/tmp")
        .expect("tempdir");
    // As root the cluster runs as `postgres`, which must be able to enter DATA_DIR.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn huntzen(data_dir: &Path, addr: SocketAddr, database_url: Option<&str>) -> Command {
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
    let mut child = huntzen(data_dir, addr, database_url)
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

fn terminate(mut child: Child) -> Duration {
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

fn create_admin(data_dir: &Path, addr: SocketAddr, email: &str) {
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
/// server instead of being stopped under it.
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
    // Neither stopped it: the server had not started it. Stop it by hand (immediate shutdown).
    let pid_file = std::fs::read_to_string(dir.path().join("postgres/postmaster.pid"))
        .expect("postmaster.pid");
    let pid = pid_file.lines().next().expect("pid").trim().to_owned();
    assert!(
        Command::new("kill")
            .args(["-QUIT", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !postgres_processes_under(dir.path()).is_empty() {
        assert!(Instant::now() < deadline, "PostgreSQL did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
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
