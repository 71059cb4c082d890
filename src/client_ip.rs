//! The client's address behind trusted reverse proxies (`MAMA_TRUSTED_PROXIES`).
//!
//! A proxy appends the address it saw to `X-Forwarded-For`, so the only entries a
//! client cannot forge are the ones written by proxies we trust: reading from the
//! right, the first entry that is not a trusted proxy is the client. Headers are
//! ignored altogether when the TCP peer is not a trusted proxy. `Forwarded` is read
//! only when no `X-Forwarded-For` is present (a proxy that sets
//! `X-Forwarded-For` makes any client-sent `Forwarded` irrelevant).
use std::net::IpAddr;

use actix_web::HttpRequest;
pub use ipnet::IpNet;

/// The networks whose forwarding headers mama believes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<IpNet>);

/// What `MAMA_TRUST_PROXY_HEADERS=true` (deprecated) now means: loopback and
/// private networks, where a reverse proxy next to mama lives.
pub const LEGACY_TRUSTED: &str =
    "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7";

impl TrustedProxies {
    /// Parses a comma-separated list of CIDRs or single addresses.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut nets = vec![];
        for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = match raw.parse::<IpNet>() {
                Ok(n) => n,
                Err(_) => match raw.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => {
                        return Err(format!(
                            "MAMA_TRUSTED_PROXIES: {raw:?} is not a CIDR (e.g. 10.0.0.0/8) or an address"
                        ));
                    }
                },
            };
            nets.push(net);
        }
        Ok(Self(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        let ip = canonical(*ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client address of `req` (see the module documentation).
    pub fn client_ip(&self, req: &HttpRequest) -> Option<String> {
        let peer = req.peer_addr().map(|a| canonical(a.ip()))?;
        let headers = req.headers();
        let xff: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect();
        let hops: Vec<String> = if !xff.is_empty() {
            xff.iter()
                .flat_map(|v| v.split(','))
                .map(|s| s.trim().to_string())
                .collect()
        } else {
            headers
                .get_all("forwarded")
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(forwarded_for)
                .collect()
        };
        Some(self.resolve(peer, &hops).to_string())
    }

    /// The right-most hop that is not a trusted proxy; the peer when the peer is
    /// not trusted or a hop cannot be read; the left-most hop when all are trusted.
    pub fn resolve(&self, peer: IpAddr, hops: &[String]) -> IpAddr {
        if !self.contains(&peer) {
            return peer;
        }
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                return client;
            };
            client = ip;
            if !self.contains(&ip) {
                return ip;
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// `for=...` of one `Forwarded` element.
fn forwarded_for(element: &str) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("for")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// An address with an optional port (`1.2.3.4:5678`, `[::1]:80`, `::1`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok().map(canonical);
    }
    let (host, _port) = hop.rsplit_once(':')?;
    host.parse().ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
    fn hops(s: &[&str]) -> Vec<String> {
        s.iter().map(|h| h.to_string()).collect()
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let t = TrustedProxies::parse("10.0.0.0/8, 192.168.1.5").unwrap();
        // The client forged the left-most entry; the proxy appended the real one.
        assert_eq!(
            t.resolve(ip("10.0.0.2"), &hops(&["6.6.6.6", "203.0.113.7"])),
            ip("203.0.113.7")
        );
        // Two trusted proxies in a row are skipped.
        assert_eq!(
            t.resolve(
                ip("10.0.0.2"),
                &hops(&["1.1.1.1", "203.0.113.7", "192.168.1.5"])
            ),
            ip("203.0.113.7")
        );
        assert_eq!(
            t.resolve(ip("10.0.0.2"), &hops(&["10.1.1.1", "10.2.2.2"])),
            ip("10.1.1.1"),
            "all trusted: the left-most"
        );
        assert_eq!(t.resolve(ip("10.0.0.2"), &[]), ip("10.0.0.2"));
        assert_eq!(
            t.resolve(ip("10.0.0.2"), &hops(&["garbage", "10.0.0.9"])),
            ip("10.0.0.9"),
            "an unreadable hop stops the walk at the last trusted one"
        );
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert_eq!(
            t.resolve(ip("198.51.100.1"), &hops(&["1.2.3.4"])),
            ip("198.51.100.1")
        );
        assert_eq!(
            TrustedProxies::default().resolve(ip("10.0.0.1"), &hops(&["1.2.3.4"])),
            ip("10.0.0.1"),
            "no trusted proxies: never read the headers"
        );
    }

    #[test]
    fn hops_may_carry_ports_brackets_and_mapped_addresses() {
        assert_eq!(parse_hop("1.2.3.4:5678"), Some(ip("1.2.3.4")));
        assert_eq!(parse_hop("[2001:db8::1]:443"), Some(ip("2001:db8::1")));
        assert_eq!(parse_hop("2001:db8::1"), Some(ip("2001:db8::1")));
        assert_eq!(parse_hop("::ffff:10.0.0.1"), Some(ip("10.0.0.1")));
        assert_eq!(parse_hop("unknown"), None);
        assert_eq!(
            forwarded_for("for=\"[2001:db8::1]:80\";proto=https"),
            Some("[2001:db8::1]:80".into())
        );
        assert_eq!(forwarded_for("proto=https"), None);
    }

    #[test]
    fn a_bad_cidr_is_named() {
        let e = TrustedProxies::parse("10.0.0.0/8,not-a-net").unwrap_err();
        assert!(
            e.contains("not-a-net") && e.contains("MAMA_TRUSTED_PROXIES"),
            "{e}"
        );
        assert!(
            TrustedProxies::parse(LEGACY_TRUSTED)
                .unwrap()
                .contains(&ip("::1"))
        );
    }
}
