//! Value parsers. Each returns the accepted form as its error, for [`super::ConfigError::Invalid`].

use std::net::IpAddr;

use super::{DhcpMode, DnsMode, ForwardMethod, LeaseRef, VipTarget};

/// A parser's verdict: the value, or the accepted form.
pub(crate) type Parsed<T> = Result<T, String>;

pub(crate) const BOOL: &str = "true or false (also 1/0, yes/no)";
pub(crate) const PORT: &str = "a port number 1-65535";
pub(crate) const ADDRESS: &str = "IP addresses or DNS names, comma-separated \
    (e.g. 192.168.0.40, or 192.168.0.40,fd00::40, or vip.example.com)";
const PREFIX: &str = "a prefix length per address family: 32, or 32,128 \
    (IPv4 1-32, IPv6 1-128), or one per address in address";
const INTERFACE: &str = "an interface name of 1-15 characters without '/', ':' or whitespace \
    (e.g. eth0)";
const NAMESPACE: &str =
    "a namespace name: 1-63 lowercase letters, digits or '-' (e.g. kube-system)";
const LEASE: &str = "a lease name, or namespace/name (lowercase letters, digits, '-' and '.')";

fn opt<T>(value: Option<T>, expected: &str) -> Parsed<T> {
    value.ok_or_else(|| expected.to_string())
}

/// A non-empty run of ASCII digits (surrounding whitespace ignored).
pub(crate) fn digits(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

pub(crate) fn boolean(text: &str) -> Parsed<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(BOOL.to_string()),
    }
}

pub(crate) fn port(text: &str) -> Parsed<u16> {
    opt(
        digits(text)
            .and_then(|n| u16::try_from(n).ok())
            .filter(|&p| p > 0),
        PORT,
    )
}

/// A count or number in `lo..=hi`.
pub(crate) fn number(text: &str, lo: u64, hi: u64, expected: &str) -> Parsed<u64> {
    opt(digits(text).filter(|n| (lo..=hi).contains(n)), expected)
}

pub(crate) fn log_level(text: &str) -> Parsed<i32> {
    let text = text.trim();
    let (neg, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let n = digits(magnitude).and_then(|n| i64::try_from(n).ok());
    let n = n
        .map(|n| if neg { -n } else { n })
        .and_then(|n| i32::try_from(n).ok());
    opt(n, "an integer (e.g. 0, 4 or -4)")
}

/// A Linux interface name (`dev_valid_name`: 1-15 bytes, not `.`/`..`, no `/`, `:`, space).
pub(crate) fn interface(text: &str) -> Parsed<String> {
    let text = text.trim();
    let ok = (1..=15).contains(&text.len())
        && text != "."
        && text != ".."
        && !text
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    opt(ok.then(|| text.to_string()), INTERFACE)
}

/// A DNS-1123 label: lowercase alphanumerics and '-', not at either end, at most 63.
fn dns_label(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

pub(crate) fn namespace(text: &str) -> Parsed<String> {
    let text = text.trim();
    opt(dns_label(text).then(|| text.to_string()), NAMESPACE)
}

/// `name` (in `default_namespace`) or `namespace/name`; names are DNS-1123 subdomains.
pub(crate) fn lease(text: &str, default_namespace: &str) -> Parsed<LeaseRef> {
    let text = text.trim();
    let (namespace, name) = match text.split_once('/') {
        Some((ns, name)) => (ns, name),
        None => (default_namespace, text),
    };
    let subdomain = name.len() <= 253 && name.split('.').all(dns_label);
    opt(
        (dns_label(namespace) && subdomain).then(|| LeaseRef {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }),
        LEASE,
    )
}

/// A DNS name: labels of letters, digits and '-', 1-63 each, 253 in all; the last label is not
/// all digits (so `192.168.1.300` is a bad address, not a name). One trailing dot allowed.
pub(crate) fn is_dns_name(text: &str) -> bool {
    let text = text.strip_suffix('.').unwrap_or(text);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let last_numeric = text
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    text.len() <= 253 && text.split('.').all(label_ok) && !last_numeric
}

/// `address`: a comma list of IP literals and DNS names, no empty entries, no duplicates.
pub(crate) fn addresses(text: &str) -> Parsed<Vec<VipTarget>> {
    let mut out = Vec::new();
    for entry in text.split(',').map(str::trim) {
        let target = if let Ok(ip) = entry.parse::<IpAddr>() {
            if ip.is_unspecified() || ip.is_multicast() {
                return Err(format!("{ADDRESS}; {entry} cannot be a virtual IP"));
            }
            VipTarget::Ip(ip)
        } else if is_dns_name(entry) {
            VipTarget::Dns(entry.to_ascii_lowercase())
        } else {
            return Err(format!("{ADDRESS}; {entry:?} is neither"));
        };
        if out.contains(&target) {
            return Err(format!("{ADDRESS}; {entry:?} is listed twice"));
        }
        out.push(target);
    }
    Ok(out)
}

/// `vip_subnet`: comma list of prefix lengths, each optionally written `/24`.
pub(crate) fn prefix_list(text: &str) -> Parsed<Vec<u8>> {
    text.split(',')
        .map(|p| {
            let p = p.trim();
            let p = p.strip_prefix('/').unwrap_or(p);
            digits(p)
                .and_then(|n| u8::try_from(n).ok())
                .filter(|n| (1..=128).contains(n))
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| PREFIX.to_string())
}

/// Per-family prefix lengths (v4, v6) from `vip_subnet` values and the addresses.
///
/// One value per IP address: kube-vip's positional form (`fd00::40,10.0.0.40` with `128,32`).
/// Otherwise one value (for the family of the addresses, else IPv4 if ≤ 32) or `v4,v6`.
pub(crate) fn resolve_prefixes(values: &[u8], addresses: &[VipTarget]) -> Parsed<(u8, u8)> {
    let ips: Option<Vec<IpAddr>> = addresses.iter().map(VipTarget::ip).collect();
    let (mut v4, mut v6) = (None, None);
    match (ips, values) {
        (Some(ips), _) if !ips.is_empty() && ips.len() == values.len() => {
            for (ip, &p) in ips.iter().zip(values) {
                let slot = if ip.is_ipv4() { &mut v4 } else { &mut v6 };
                if slot.is_some_and(|q| q != p) {
                    return Err(format!("{PREFIX}; kvip needs one prefix length per family"));
                }
                *slot = Some(p);
            }
        }
        (ips, &[p]) => {
            let all_v6 = ips.is_some_and(|ips| !ips.is_empty() && ips.iter().all(IpAddr::is_ipv6));
            if all_v6 || p > 32 {
                v6 = Some(p);
            } else {
                v4 = Some(p);
            }
        }
        (_, &[p4, p6]) => (v4, v6) = (Some(p4), Some(p6)),
        _ => return Err(PREFIX.to_string()),
    }
    if v4.is_some_and(|p| p > 32) {
        return Err(format!("{PREFIX}; an IPv4 prefix is at most 32"));
    }
    Ok((v4.unwrap_or(32), v6.unwrap_or(128)))
}

/// `prometheus_server`: `[host]:port`, or empty to disable.
pub(crate) fn prometheus(text: &str) -> Parsed<Option<String>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let ok = text
        .rsplit_once(':')
        .is_some_and(|(host, p)| port(p).is_ok() && !host.chars().any(char::is_whitespace));
    opt(
        ok.then(|| Some(text.to_string())),
        "[host]:port (e.g. :2112), or empty to disable",
    )
}

/// A free-form, non-empty string.
pub(crate) fn non_empty(text: &str) -> Parsed<String> {
    let text = text.trim();
    opt(
        (!text.is_empty()).then(|| text.to_string()),
        "a non-empty value",
    )
}

pub(crate) fn dns_mode(text: &str) -> Parsed<DnsMode> {
    let mode = match text.trim().to_ascii_lowercase().as_str() {
        "first" => DnsMode::First,
        "ipv4" => DnsMode::Ipv4,
        "ipv6" => DnsMode::Ipv6,
        "dual" => DnsMode::Dual,
        _ => return Err("one of first, ipv4, ipv6, dual".to_string()),
    };
    Ok(mode)
}

pub(crate) fn dhcp_mode(text: &str) -> Parsed<DhcpMode> {
    let mode = match text.trim().to_ascii_lowercase().as_str() {
        "ipv4" => DhcpMode::Ipv4,
        "ipv6" => DhcpMode::Ipv6,
        "dual" => DhcpMode::Dual,
        _ => return Err("one of ipv4, ipv6, dual".to_string()),
    };
    Ok(mode)
}

pub(crate) fn forward_method(text: &str) -> Parsed<ForwardMethod> {
    let method = match text.trim().to_ascii_lowercase().as_str() {
        "local" => ForwardMethod::Local,
        "masquerade" => ForwardMethod::Masquerade,
        "tunnel" => ForwardMethod::Tunnel,
        "direct" => ForwardMethod::Direct,
        "bypass" => ForwardMethod::Bypass,
        _ => return Err("one of local, masquerade, tunnel, direct, bypass".to_string()),
    };
    Ok(method)
}
