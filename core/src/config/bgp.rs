//! The `bgp_*` settings, including `bgp_peers` (`address:AS[:password[:multihop[:port]]]`,
//! comma-separated, IPv6 addresses in `[ ]`), kube-vip's format without its MP-BGP and BFD
//! extensions, which kvip refuses rather than ignores.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use super::builder::{show_opt, Builder};
use super::parse::{self, Parsed};
use super::ConfigError;

const PEERS: &str =
    "address:AS[:password[:multihop[:port]]] entries, comma-separated, IPv6 in [ ] \
    (e.g. 192.168.0.1:65000::false,[fd00::1]:65001)";
const ASN: &str = "an AS number 1-4294967295 (e.g. 65000)";

/// BGP mode's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpConfig {
    /// `bgp_routerid`; `None` leaves it to `router_interface` or the node's address.
    pub router_id: Option<Ipv4Addr>,
    /// `bgp_routerinterface`: take the router ID from this interface's address.
    pub router_interface: Option<String>,
    /// `bgp_as`: local AS (default 65000).
    pub asn: u32,
    /// `bgp_peers`, then the single peer of `bgp_peeraddress` / `bgp_peeras` / `bgp_peerpass` /
    /// `bgp_multihop`, as kube-vip appends it.
    pub peers: Vec<BgpPeer>,
    /// `bgp_hold_time` in seconds (default 30; 0 or 3-65535).
    pub hold_time_secs: u16,
    /// `bgp_keepalive_interval` in seconds (default 10).
    pub keepalive_interval_secs: u16,
    /// `bgp_sourceip`: source address for the sessions.
    pub source_ip: Option<IpAddr>,
    /// `bgp_sourceif`: source interface for the sessions.
    pub source_if: Option<String>,
}

/// One BGP neighbour.
#[derive(Clone, PartialEq, Eq)]
pub struct BgpPeer {
    /// The neighbour's address.
    pub address: IpAddr,
    /// The neighbour's AS.
    pub asn: u32,
    /// TCP MD5 password, if any.
    pub password: Option<String>,
    /// eBGP multihop.
    pub multihop: bool,
    /// TCP port (default 179).
    pub port: u16,
}

impl fmt::Debug for BgpPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BgpPeer({self})")
    }
}

/// `address:AS:password:multihop:port`, the password redacted.
impl fmt::Display for BgpPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.address {
            IpAddr::V4(a) => write!(f, "{a}")?,
            IpAddr::V6(a) => write!(f, "[{a}]")?,
        }
        let password = if self.password.is_some() {
            "<redacted>"
        } else {
            ""
        };
        write!(
            f,
            ":{}:{password}:{}:{}",
            self.asn, self.multihop, self.port
        )
    }
}

/// Splits an entry into its address part (brackets kept) and what follows the next `:`.
fn split_entry(entry: &str) -> Option<(&str, &str)> {
    if entry.starts_with('[') {
        let end = entry.find(']')?;
        Some((&entry[..=end], entry[end + 1..].strip_prefix(':')?))
    } else {
        entry.split_once(':')
    }
}

/// Parses `bgp_peers`. Errors say which entry and field is wrong, never echoing a password.
pub(crate) fn parse_bgp_peers(text: &str) -> Parsed<Vec<BgpPeer>> {
    let mut peers = Vec::new();
    for (n, entry) in text.split(',').map(str::trim).enumerate() {
        let fail = |what: String| Err(format!("{PEERS}; entry {}: {what}", n + 1));
        if entry.is_empty() {
            return fail("empty".into());
        }
        if entry.starts_with("unnumbered:") {
            return fail("unnumbered peers are not supported by kvip".into());
        }
        let Some((addr, rest)) = split_entry(entry) else {
            return fail("expected address:AS (IPv6 as [address]:AS)".into());
        };
        let address = match addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6),
            None => addr.parse::<IpAddr>().ok(),
        };
        let Some(address) = address else {
            return fail(format!("{addr:?} is not an IP address (IPv6 goes in [ ])"));
        };
        let fields: Vec<&str> = rest.split(':').collect();
        if fields.len() > 4 {
            return fail("MP-BGP and BFD options are not supported by kvip".into());
        }
        let Ok(asn) = asn(fields[0]) else {
            return fail(format!("AS {:?} is not a number 1-4294967295", fields[0]));
        };
        let password = fields
            .get(1)
            .filter(|p| !p.is_empty())
            .map(|p| (*p).to_string());
        let multihop = match fields.get(2).filter(|m| !m.is_empty()) {
            None => false,
            Some(m) => match parse::boolean(m) {
                Ok(m) => m,
                Err(_) => return fail(format!("multihop {m:?} is not true or false")),
            },
        };
        let port = match fields.get(3).filter(|p| !p.is_empty()) {
            None => 179,
            Some(p) => match parse::port(p) {
                Ok(p) => p,
                Err(_) => return fail(format!("port {p:?} is not a number 1-65535")),
            },
        };
        peers.push(BgpPeer {
            address,
            asn,
            password,
            multihop,
            port,
        });
    }
    Ok(peers)
}

/// `bgp_peers` with every password field replaced, for error messages.
pub(crate) fn redact_peers(text: &str) -> String {
    let redact = |entry: &str| match split_entry(entry) {
        Some((addr, rest)) => {
            let mut fields: Vec<&str> = rest.split(':').collect();
            if fields.get(1).is_some_and(|p| !p.is_empty()) {
                fields[1] = "<redacted>";
            }
            format!("{addr}:{}", fields.join(":"))
        }
        None => entry.to_string(),
    };
    text.split(',').map(redact).collect::<Vec<_>>().join(",")
}

fn asn(text: &str) -> Parsed<u32> {
    let n = parse::digits(text)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n > 0);
    n.ok_or_else(|| ASN.to_string())
}

fn ip(text: &str) -> Parsed<Option<IpAddr>> {
    text.trim()
        .parse()
        .map(Some)
        .map_err(|_| "an IP address (e.g. 192.168.0.1)".into())
}

fn seconds(text: &str, hold: bool) -> Parsed<u16> {
    let n = parse::digits(text).and_then(|n| u16::try_from(n).ok());
    match n {
        Some(n) if !hold || n == 0 || n >= 3 => Ok(n),
        _ if hold => Err("seconds: 0 (no keepalives) or 3-65535 (e.g. 30)".into()),
        _ => Err("seconds 0-65535 (e.g. 10)".into()),
    }
}

/// Reads the `bgp_*` settings.
pub(crate) fn build(b: &mut Builder<'_>) -> Result<BgpConfig, ConfigError> {
    let router_id = b.take(
        "bgp_routerid",
        None,
        |t| {
            t.trim()
                .parse()
                .map(Some)
                .map_err(|_| "an IPv4 address (e.g. 192.168.0.10)".into())
        },
        show_opt,
    )?;
    let router_interface = b.interface("bgp_routerinterface")?;
    let local_as = b.take("bgp_as", 65000, asn, u32::to_string)?;
    let peer_address = b.take("bgp_peeraddress", None, ip, show_opt)?;
    let peer_as = b.take("bgp_peeras", 65000, asn, u32::to_string)?;
    let redacted = |p: &String| {
        if p.is_empty() {
            String::new()
        } else {
            "<redacted>".into()
        }
    };
    let peer_pass = b.take(
        "bgp_peerpass",
        String::new(),
        |t| Ok(t.to_string()),
        redacted,
    )?;
    let multihop = b.flag("bgp_multihop", false)?;
    let mut peers = b.take("bgp_peers", Vec::new(), parse_bgp_peers, |peers| {
        peers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    })?;
    let hold_time_secs = b.take("bgp_hold_time", 30, |t| seconds(t, true), u16::to_string)?;
    let keepalive_interval_secs = b.take(
        "bgp_keepalive_interval",
        10,
        |t| seconds(t, false),
        u16::to_string,
    )?;
    let source_ip = b.take("bgp_sourceip", None, ip, show_opt)?;
    let source_if = b.interface("bgp_sourceif")?;
    if let Some(address) = peer_address {
        let password = (!peer_pass.is_empty()).then_some(peer_pass);
        peers.push(BgpPeer {
            address,
            asn: peer_as,
            password,
            multihop,
            port: 179,
        });
    }
    Ok(BgpConfig {
        router_id,
        router_interface,
        asn: local_as,
        peers,
        hold_time_secs,
        keepalive_interval_secs,
        source_ip,
        source_if,
    })
}
