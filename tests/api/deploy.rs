//! The deployment files stay consistent with the binary: every variable the compose file reads is
//! documented in `.env.example`, every setting the huntzen service is given is one the binary
//! knows, the image's health check is a command the binary has, and prosody reads the Jitsi
//! event_sync settings as the webhook needs them.

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect(path)
}

/// `${NAME}`, `${NAME:-default}`, `${NAME:?message}` references.
fn references(text: &str) -> BTreeSet<String> {
    text.split("${")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn compose_variables_are_documented_and_known_to_the_binary() {
    let compose = read("deploy/docker-compose.yml");
    let example = read("deploy/.env.example");
    let documented: BTreeSet<String> = example
        .lines()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim().to_owned()))
        .filter(|name| !name.starts_with('#'))
        .collect();
    let missing: Vec<_> = references(&compose)
        .difference(&documented)
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "used in docker-compose.yml, missing from .env.example: {missing:?}"
    );

    // The huntzen service's environment names are settings the binary reads.
    let config = read("src/infra/config.rs");
    let service = compose
        .split("\n  huntzen:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n  nginx:\n").next())
        .expect("huntzen service");
    let environment = service
        .split("    environment:\n")
        .nth(1)
        .and_then(|rest| rest.split("    volumes:").next())
        .expect("environment");
    for line in environment.lines().filter(|l| l.starts_with("      ")) {
        let name = line.trim().split(':').next().expect("name");
        assert!(
            config.contains(&format!("env = \"{name}\"")),
            "the huntzen service sets {name}, which the binary does not read"
        );
    }
}

#[test]
fn the_image_health_check_is_a_real_command() {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("CMD [\"huntzen\", \"healthcheck\"]"));
    assert!(
        dockerfile.contains("USER huntzen"),
        "the image must not run as root"
    );
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_huntzen"))
        .args(["healthcheck", "--help"])
        .output()
        .expect("huntzen healthcheck --help");
    assert!(help.status.success());
}

/// Prosody's own configuration loader (Debian's prosody 0.12) reads `deploy/jitsi`'s event_sync
/// settings into what the component needs: the webhook URL and our bearer secret, from the two
/// variables the compose file gives prosody.
#[test]
fn prosody_reads_the_event_sync_settings_from_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/jitsi/prosody-event-sync.cfg.lua");
    let main = dir.path().join("prosody.cfg.lua");
    std::fs::write(
        &main,
        format!(
            "VirtualHost \"meet.jitsi\"\nComponent \"muc.meet.jitsi\" \"muc\"\nInclude \"{}\"\n",
            settings.display()
        ),
    )
    .expect("write");
    let script = format!(
        r#"package.path = "/usr/lib/prosody/?.lua;" .. package.path
package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath
prosody = {{ events = {{ fire_event = function() end }} }}
local config = require "core.configmanager"
assert(config.load("{}"))
local get = function(name) return config.get("esync.meet.jitsi", name) end
print(get("component_module"), get("muc_component"), get("api_prefix"), get("api_headers").Authorization)"#,
        main.display()
    );
    let output = std::process::Command::new("lua5.4")
        .args(["-e", &script])
        .env(
            "HUNTZEN_EVENT_SYNC_URL",
            "http://huntzen:3000/api/webhooks/jitsi",
        )
        .env("HUNTZEN_WEBHOOK_SECRET", "the-webhook-secret")
        .output()
        .expect("lua5.4 (scripts/test installs Debian's prosody)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim_end(),
        "event_sync_component\tmuc.meet.jitsi\thttp://huntzen:3000/api/webhooks/jitsi\tBearer the-webhook-secret"
    );
    // The compose file gives prosody exactly those two variables.
    let compose = read("deploy/docker-compose.yml");
    assert!(compose.contains("HUNTZEN_EVENT_SYNC_URL: http://huntzen:3000/api/webhooks/jitsi"));
    assert!(compose.contains("HUNTZEN_WEBHOOK_SECRET: ${JITSI_WEBHOOK_SECRET}"));
}
