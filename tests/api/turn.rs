//! The TURN credentials our calls hand out, checked by coturn itself: Debian's `turnserver`, run
//! with the compose file's own flags (`use-auth-secret`, `static-auth-secret=${TURN_SECRET}`),
//! grants an allocation to the `iceServers` entry of `call:accepted` and relays data through it;
//! a tampered password and an expired username are refused.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use huntzen::care::calls::{ice_servers, turn_credentials};
use huntzen::infra::db::PoolSizes;
use uuid::Uuid;

use crate::helpers::{TestApp, free_port};

const TURN_SECRET: &str = "a-turn-secret-shared-by-the-api-and-coturn";

/// A process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// The coturn service's `command:` list in deploy/docker-compose.yml, variables filled in.
fn compose_coturn_flags(public_ip: &str) -> Vec<String> {
    let compose = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/docker-compose.yml"),
    )
    .expect("compose file");
    let service = compose
        .split("\n  coturn:\n")
        .nth(1)
        .expect("a coturn service")
        .split("\n\n")
        .next()
        .expect("its block");
    let flags: Vec<String> = service
        .lines()
        .skip_while(|line| line.trim() != "command:")
        .skip(1)
        .map_while(|line| line.trim().strip_prefix("- "))
        .map(|flag| {
            flag.replace("${TURN_SECRET}", TURN_SECRET)
                .replace("${TURN_HOST}", "turn.test")
                .replace("${PUBLIC_IP}", public_ip)
        })
        .collect();
    assert!(
        flags.iter().any(|f| f == "--use-auth-secret"),
        "coturn flags: {flags:?}"
    );
    flags
}

fn uclient(port: u16, peer_port: u16, username: &str, password: &str) -> Output {
    Command::new("turnutils_uclient")
        .args(["-p", &port.to_string(), "-u", username, "-w", password])
        // 5 messages of one kind, over UDP, to the peer through the relay.
        .args([
            "-n",
            "5",
            "-m",
            "1",
            "-e",
            "127.0.0.1",
            "-r",
            &peer_port.to_string(),
            "-X",
            "-g",
        ])
        .arg("127.0.0.1")
        .output()
        .expect("turnutils_uclient (scripts/test installs Debian's coturn)")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn coturn_grants_and_relays_for_the_credentials_calls_hand_out() {
    let (port, peer_port) = (free_port(), free_port());
    let app = TestApp::spawn_configured(PoolSizes { app: 2, system: 2 }, |settings| {
        settings.turn_secret = Some(TURN_SECRET.to_owned());
        settings.turn_urls = Some(format!("turn:127.0.0.1:{port}?transport=udp"));
    })
    .await;
    let user = Uuid::new_v4();
    let servers = ice_servers(&app.state, user);
    let turn = servers
        .iter()
        .find(|s| s.urls.iter().any(|u| u.starts_with("turn:")))
        .expect("a TURN entry");
    let (username, credential) = (
        turn.username.clone().expect("username"),
        turn.credential.clone().expect("credential"),
    );

    // The compose file's flags, on loopback; loopback peers allowed for the relay test only.
    let _server = Running(
        Command::new("turnserver")
            .args(compose_coturn_flags("127.0.0.1"))
            .args([
                format!("--listening-port={port}"),
                "--listening-ip=127.0.0.1".to_owned(),
                "--relay-ip=127.0.0.1".to_owned(),
                "--allow-loopback-peers".to_owned(),
                "--simple-log".to_owned(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnserver (scripts/test installs Debian's coturn)"),
    );
    let _peer = Running(
        Command::new("turnutils_peer")
            .args(["-L", "127.0.0.1", "-p", &peer_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnutils_peer"),
    );
    let mut listening = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            listening = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(listening, "turnserver did not start");

    let granted = uclient(port, peer_port, &username, &credential);
    let log = text(&granted);
    assert!(granted.status.success(), "allocation refused:\n{log}");
    assert!(
        log.contains("Total lost packets 0 "),
        "data did not cross the relay:\n{log}"
    );

    let mut tampered = credential.clone();
    tampered.replace_range(0..1, if tampered.starts_with('A') { "B" } else { "A" });
    let refused = uclient(port, peer_port, &username, &tampered);
    assert!(
        !refused.status.success(),
        "a tampered password was accepted:\n{}",
        text(&refused)
    );
    assert!(
        text(&refused).contains("Cannot complete Allocation"),
        "{}",
        text(&refused)
    );

    let (expired_name, expired_password) =
        turn_credentials(TURN_SECRET, user, chrono::Utc::now().timestamp() - 60);
    let expired = uclient(port, peer_port, &expired_name, &expired_password);
    assert!(
        !expired.status.success(),
        "an expired username was accepted:\n{}",
        text(&expired)
    );
}
