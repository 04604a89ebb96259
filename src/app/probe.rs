//! `huntzen healthcheck`: a minimal HTTP/1.1 `GET /api/ready` over a TCP stream, so the container
//! image needs no curl and the binary no HTTP client.

use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The status code of `GET {base}/api/ready` (`base` is `http://host:port`).
pub async fn ready_status(base: &str) -> anyhow::Result<u16> {
    let Some(authority) = base.strip_prefix("http://") else {
        bail!("healthcheck URL must start with http:// (got {base})");
    };
    let authority = authority.trim_end_matches('/');
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(authority)
            .await
            .with_context(|| format!("connecting to {authority}"))?;
        let request =
            format!("GET /api/ready HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut head = vec![0_u8; 64];
        let read = stream.read(&mut head).await?;
        let line = String::from_utf8_lossy(&head[..read]);
        line.split_whitespace()
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .with_context(|| format!("not an HTTP response: {line:?}"))
    };
    tokio::time::timeout(Duration::from_secs(3), exchange)
        .await
        .context("no answer within 3 s")?
}
