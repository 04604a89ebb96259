//! The production edge (`deploy/nginx`): `nginx -t` accepts the configuration, and nginx in front
//! of two API replicas (sharing PostgreSQL and Redis) carries a chat between a client on one
//! replica and a client on the other, redirects HTTP to HTTPS, sends HSTS, caps body sizes and
//! rate-limits `/api/auth/`.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::helpers::{TestApp, free_port};
use crate::realtime::{RedisServer, scenario};
use crate::seed::Participants;

/// A rendered copy of `deploy/nginx` in a scratch directory, with a fresh self-signed certificate.
struct Edge {
    dir: tempfile::TempDir,
    http_port: u16,
    https_port: u16,
}

fn nginx_binary() -> PathBuf {
    let path = PathBuf::from("/usr/sbin/nginx");
    assert!(
        path.exists(),
        "nginx is not installed: scripts/test installs Debian's nginx"
    );
    path
}

impl Edge {
    /// Renders the configuration for upstream servers `upstreams` (`host:port`).
    fn render(upstreams: &[String]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let made = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
            ])
            .args(["-days", "1", "-subj", "/CN=localhost", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let (http_port, https_port) = (free_port(), free_port());
        let upstream = upstreams.join(" max_fails=3 fail_timeout=10s;\n    server ");
        let template = std::fs::read_to_string(root.join("templates/huntzen.conf.template"))
            .expect("template");
        let rendered = template
            .replace("${SERVER_NAME}", "localhost 127.0.0.1")
            .replace("${HUNTZEN_UPSTREAM}", &upstream)
            .replace("${TLS_CERT}", &cert.display().to_string())
            .replace("${TLS_KEY}", &key.display().to_string())
            .replace("${HTTP_PORT}", &http_port.to_string())
            .replace("${HTTPS_PORT}", &https_port.to_string());
        assert!(
            !rendered.contains("${"),
            "an unrendered variable is left:\n{rendered}"
        );
        let conf_d = dir.path().join("conf.d");
        std::fs::create_dir_all(&conf_d).expect("conf.d");
        std::fs::write(conf_d.join("huntzen.conf"), rendered).expect("write");
        // The main file as shipped, pointed at this directory (pid, temp paths, includes).
        let main = std::fs::read_to_string(root.join("nginx.conf")).expect("nginx.conf");
        let main = main
            .replace("/etc/nginx/conf.d/", &format!("{}/", conf_d.display()))
            .replace(
                "pid /tmp/nginx.pid;",
                &format!("pid {}/nginx.pid;", dir.path().display()),
            );
        std::fs::write(dir.path().join("nginx.conf"), main).expect("write");
        Self {
            dir,
            http_port,
            https_port,
        }
    }

    fn command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(nginx_binary());
        command
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(self.dir.path().join("nginx.conf"))
            .args(["-e", "stderr"]);
        command
    }
}

#[test]
fn nginx_accepts_the_shipped_configuration() {
    let edge = Edge::render(&["127.0.0.1:3001".to_owned(), "127.0.0.1:3002".to_owned()]);
    let output = edge.command().arg("-t").output().expect("nginx -t");
    assert!(
        output.status.success(),
        "nginx -t failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// nginx running in the foreground, stopped when dropped.
struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers too (SIGKILL would orphan them).
        let stopped = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            self.0.kill().ok();
        }
        self.0.wait().ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_crosses_two_replicas_through_nginx() {
    let redis = RedisServer::start().await;
    let node_a = TestApp::spawn_configured(
        huntzen::infra::db::PoolSizes { app: 5, system: 3 },
        |settings| {
            settings.redis_url = Some(redis.url.clone());
            settings.trusted_proxies = "127.0.0.1".to_owned();
        },
    )
    .await;
    let node_b = node_a.another_node().await;
    let company = node_a.seed_company("edge").await;
    let employee = node_a
        .seed_employee("emma@edge.test", company, "Emma")
        .await;
    let practitioner = node_a
        .seed_practitioner("paula@cabinet.test", "Paula")
        .await;
    let people = Participants {
        company,
        employee,
        practitioner,
    };
    let consultation = node_a
        .seed_consultation(people, "AUDIO", "CONFIRMED", 1)
        .await;
    let (url_a, url_b) = (node_a.listen().await, node_b.listen().await);
    let upstreams: Vec<String> = [&url_a, &url_b]
        .iter()
        .map(|url| url.trim_start_matches("http://").to_owned())
        .collect();
    let edge = Edge::render(&upstreams);
    let child = edge
        .command()
        .args(["-g", "daemon off;"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start nginx");
    let _nginx = Nginx(child);
    let mut ready = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", edge.https_port))
            .await
            .is_ok()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready, "nginx did not start");

    let config = json!({ "url": format!("https://127.0.0.1:{}", edge.https_port),
        "httpUrl": format!("http://127.0.0.1:{}", edge.http_port), "urlA": url_a, "urlB": url_b,
        "consultationId": consultation, "password": crate::helpers::PASSWORD,
        "employeeEmail": "emma@edge.test", "practitionerEmail": "paula@cabinet.test" });
    scenario("edge.mjs", config).await;

    // Sign-ins through nginx were recorded with the client's address, not nginx's.
    let addresses: Vec<Option<String>> =
        sqlx::query_scalar("SELECT DISTINCT ip_address FROM audit_logs WHERE action = 'LOGIN'")
            .fetch_all(&node_a.db().system)
            .await
            .expect("audit");
    assert!(
        addresses.iter().flatten().any(|a| a == "127.0.0.2"),
        "{addresses:?}"
    );
}
