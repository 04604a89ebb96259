//! The client's address behind trusted reverse proxies: when the TCP peer is one of
//! `TRUSTED_PROXIES`, the address is the right-most `X-Forwarded-For` entry that is not itself a
//! trusted proxy, and the request's `ConnectInfo` is rewritten to it — so the per-address sign-in
//! throttle, audit rows and the loopback check of `/metrics` all see the real client.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Addresses and CIDR blocks of trusted proxies.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Parses `10.0.0.5, 172.28.0.0/16, ::1`.
    pub fn parse(list: &str) -> anyhow::Result<Self> {
        let mut blocks = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (address, bits) = match item.split_once('/') {
                Some((address, bits)) => (address, Some(bits)),
                None => (item, None),
            };
            let ip: IpAddr = address.parse().with_context(|| {
                format!("TRUSTED_PROXIES: `{item}` is not an address or CIDR block")
            })?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(bits) => bits
                    .parse::<u8>()
                    .with_context(|| format!("TRUSTED_PROXIES: bad prefix length in `{item}`"))?,
                None => max,
            };
            if bits > max {
                bail!("TRUSTED_PROXIES: prefix /{bits} is too long in `{item}`");
            }
            blocks.push((ip, bits));
        }
        Ok(Self(blocks))
    }

    /// Whether `ip` belongs to a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|(block, bits)| match (block, ip) {
            (IpAddr::V4(block), IpAddr::V4(ip)) => {
                same_prefix(&block.octets(), &ip.octets(), *bits)
            }
            (IpAddr::V6(block), IpAddr::V6(ip)) => {
                same_prefix(&block.octets(), &ip.octets(), *bits)
            }
            _ => false,
        })
    }

    /// The client behind the proxies, given the TCP peer and the `X-Forwarded-For` values.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = forwarded_for
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim);
        for hop in hops.collect::<Vec<_>>().into_iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else { break };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

fn same_prefix(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = (usize::from(bits / 8), bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0
}

/// Middleware: rewrites `ConnectInfo` to the client's address when the peer is a trusted proxy.
pub async fn resolve(
    State(proxies): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
        && proxies.contains(peer.ip())
    {
        let forwarded: Vec<&str> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let client = proxies.client(peer.ip(), &forwarded);
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(client, peer.port())));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trusted_peer_is_believed() {
        let proxies = TrustedProxies::parse("172.28.0.0/16, 10.0.0.5").expect("parse");
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        // Not a proxy: its header is ignored.
        assert_eq!(
            proxies.client(ip("203.0.113.9"), &["198.51.100.1"]),
            ip("203.0.113.9")
        );
        // nginx appends the peer it saw: the right-most untrusted entry is the client, whatever
        // the client wrote before it.
        assert_eq!(
            proxies.client(ip("172.28.0.10"), &["1.2.3.4, 198.51.100.7"]),
            ip("198.51.100.7")
        );
        assert_eq!(
            proxies.client(ip("172.28.3.1"), &["198.51.100.7, 10.0.0.5"]),
            ip("198.51.100.7")
        );
        assert_eq!(proxies.client(ip("10.0.0.5"), &[]), ip("10.0.0.5"));
        assert!(!proxies.contains(ip("172.29.0.1")));
        assert!(TrustedProxies::parse("300.1.1.1").is_err());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        let v6 = TrustedProxies::parse("fd00::/8").expect("v6");
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
    }
}
