//! The deployment files stay consistent with the binary: every variable the compose file reads is
//! documented in `.env.example`, every setting the huntzen service is given is one the binary
//! knows, and the image's health check is a command the binary has.

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
    let missing: Vec<_> = references(&compose).difference(&documented).cloned().collect();
    assert!(
        missing.is_empty(),
        "used in docker-compose.yml, missing from .env.example: {missing:?}"
    );

    // The huntzen service's environment names are settings the binary reads.
    let config = read("src/config.rs");
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
    assert!(dockerfile.contains("USER huntzen"), "the image must not run as root");
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_huntzen"))
        .args(["healthcheck", "--help"])
        .output()
        .expect("huntzen healthcheck --help");
    assert!(help.status.success());
}
