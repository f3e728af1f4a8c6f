//! Address arithmetic for the pools: IPv4 and IPv6 addresses as numbers, closed spans of them,
//! and the two pool syntaxes of ConfigMap `kubevip` (`a.b.c.d/len` and `start-end`).
//!
//! Nothing here enumerates a span: an IPv6 /64 is two numbers, not 2^64 addresses.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of `ip`.
    pub fn of(ip: IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// Number of bits in an address of this family.
    pub fn bits(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

/// `ip` as an unsigned number.
pub fn to_number(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The address numbered `n` in `family` (`n` is truncated to 32 bits for IPv4).
pub fn from_number(family: Family, n: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(n as u32)),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

/// IPv4 addresses ending in `.0` or `.255`, which kube-vip-cloud-provider never hands out
/// (taken for a network or broadcast address on the common /24).
pub fn is_dot_zero_or_255(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => matches!(v4.octets()[3], 0 | 255),
        IpAddr::V6(_) => false,
    }
}

/// A closed span `first..=last` of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// The family of both ends.
    pub family: Family,
    /// The first address, as a number.
    pub first: u128,
    /// The last address, as a number (`first <= last`).
    pub last: u128,
}

impl Span {
    /// The span between two addresses of one family, `None` when the families differ or
    /// `first > last`.
    pub fn between(first: IpAddr, last: IpAddr) -> Option<Span> {
        let family = Family::of(first);
        let (a, b) = (to_number(first), to_number(last));
        (family == Family::of(last) && a <= b).then_some(Span {
            family,
            first: a,
            last: b,
        })
    }

    /// Whether `ip` lies in the span.
    pub fn contains(&self, ip: IpAddr) -> bool {
        Family::of(ip) == self.family && (self.first..=self.last).contains(&to_number(ip))
    }

    /// The first address.
    pub fn first_addr(&self) -> IpAddr {
        from_number(self.family, self.first)
    }

    /// The last address.
    pub fn last_addr(&self) -> IpAddr {
        from_number(self.family, self.last)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first_addr(), self.last_addr())
    }
}

/// Sorts `spans` and merges the ones that overlap or touch, per family.
pub fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match out.last_mut() {
            Some(prev)
                if prev.family == span.family && span.first <= prev.last.saturating_add(1) =>
            {
                prev.last = prev.last.max(span.last);
            }
            _ => out.push(span),
        }
    }
    out
}

/// A parsed `address/prefix-length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The address as written (host bits may be set; they are ignored).
    pub address: IpAddr,
    /// The prefix length.
    pub prefix_len: u8,
}

impl Cidr {
    /// Parses `192.168.0.200/29` or `fd00::/120`; `None` if it is not one.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (address, len) = text.trim().split_once('/')?;
        let address: IpAddr = address.trim().parse().ok()?;
        let len = len.trim();
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) || len.len() > 3 {
            return None;
        }
        let prefix_len: u8 = len.parse().ok()?;
        (prefix_len <= Family::of(address).bits()).then_some(Cidr {
            address,
            prefix_len,
        })
    }

    /// Every address of the block, network and broadcast included.
    pub fn span(&self) -> Span {
        let family = Family::of(self.address);
        let host_bits = u32::from(family.bits() - self.prefix_len);
        let host_mask = if host_bits == 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let first = to_number(self.address) & !host_mask;
        Span {
            family,
            first,
            last: first | host_mask,
        }
    }

    /// The block without its network and broadcast addresses (`skip-end-ips-in-cidr`): IPv4
    /// blocks of 4 addresses or more only, as kube-vip-cloud-provider does (a /31 is a
    /// point-to-point pair, RFC 3021; a /32 a single address; IPv6 has no broadcast).
    pub fn span_without_ends(&self) -> Span {
        let span = self.span();
        if span.family == Family::V4 && self.prefix_len <= 30 {
            Span {
                first: span.first + 1,
                last: span.last - 1,
                ..span
            }
        } else {
            span
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// Parses `start-end` (both addresses of one family, start not after end). IPv6 addresses
/// contain no `-`, so the one dash splits the two.
pub fn parse_range(text: &str) -> Result<Span, &'static str> {
    let (a, b) = text
        .trim()
        .split_once('-')
        .ok_or("is not a range start-end")?;
    let a: IpAddr = a
        .trim()
        .parse()
        .map_err(|_| "has an invalid start address")?;
    let b: IpAddr = b.trim().parse().map_err(|_| "has an invalid end address")?;
    if Family::of(a) != Family::of(b) {
        return Err("mixes IPv4 and IPv6");
    }
    Span::between(a, b).ok_or("starts after it ends")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_cidr_spans_its_block_whatever_host_bits_are_written() {
        let c = Cidr::parse("192.168.205.217/29").unwrap();
        let span = c.span();
        assert_eq!(
            (span.first_addr(), span.last_addr()),
            (ip("192.168.205.216"), ip("192.168.205.223"))
        );
        let inner = c.span_without_ends();
        assert_eq!(
            (inner.first_addr(), inner.last_addr()),
            (ip("192.168.205.217"), ip("192.168.205.222"))
        );
    }

    #[test]
    fn small_and_v6_blocks_keep_their_ends() {
        for text in ["10.0.0.4/31", "10.0.0.4/32", "fd00::/127"] {
            let c = Cidr::parse(text).unwrap();
            assert_eq!(c.span_without_ends(), c.span(), "{text}");
        }
        let all = Cidr::parse("::/0").unwrap().span();
        assert_eq!((all.first, all.last), (0, u128::MAX));
        let all4 = Cidr::parse("0.0.0.0/0").unwrap().span();
        assert_eq!((all4.first, all4.last), (0, u128::from(u32::MAX)));
    }

    #[test]
    fn malformed_cidrs_are_refused() {
        for text in [
            "192.168.0.0",
            "192.168.0.0/33",
            "fd00::/129",
            "192.168.0.0/",
            "x/24",
            "10.0.0.0/+8",
        ] {
            assert_eq!(Cidr::parse(text), None, "{text}");
        }
    }

    #[test]
    fn ranges_parse_and_refuse_with_a_reason() {
        let span = parse_range("192.168.66.210-192.168.66.219").unwrap();
        assert_eq!(span.last - span.first, 9);
        let v6 = parse_range("fd00::10-fd00::1:0").unwrap();
        assert_eq!(v6.last - v6.first, 0x1_0000 - 0x10);
        assert_eq!(parse_range("10.0.0.1"), Err("is not a range start-end"));
        assert_eq!(
            parse_range("10.0.0.9-10.0.0.1"),
            Err("starts after it ends")
        );
        assert_eq!(parse_range("10.0.0.1-fd00::1"), Err("mixes IPv4 and IPv6"));
        assert_eq!(
            parse_range("10.0.0.1-10.0.0"),
            Err("has an invalid end address")
        );
    }

    #[test]
    fn merge_joins_overlapping_and_touching_spans_per_family() {
        let spans = vec![
            parse_range("10.0.0.5-10.0.0.9").unwrap(),
            parse_range("10.0.0.1-10.0.0.4").unwrap(),
            parse_range("10.0.0.20-10.0.0.30").unwrap(),
            parse_range("10.0.0.25-10.0.0.26").unwrap(),
            parse_range("::1-::4").unwrap(),
        ];
        let merged: Vec<String> = merge(spans).iter().map(ToString::to_string).collect();
        assert_eq!(
            merged,
            ["10.0.0.1-10.0.0.9", "10.0.0.20-10.0.0.30", "::1-::4"]
        );
    }

    #[test]
    fn dot_zero_and_dot_255_are_v4_only() {
        assert!(is_dot_zero_or_255(ip("10.0.1.0")));
        assert!(is_dot_zero_or_255(ip("10.0.1.255")));
        assert!(!is_dot_zero_or_255(ip("10.0.1.1")));
        assert!(!is_dot_zero_or_255(ip("fd00::ff")));
    }
}
