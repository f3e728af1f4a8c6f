//! Which addresses a Service wants: the annotation `kube-vip.io/loadbalancerIPs` (comma list,
//! IPv4 and IPv6) when it is set and not blank, else `spec.loadBalancerIP` (one address). Never
//! `status.loadBalancer.ingress`: adopting what another controller wrote there is kube-vip's known
//! bug (COMPAT.md). `0.0.0.0` asks for a DHCPv4 lease and `::` for a DHCPv6 one.
//!
//! Entries are trimmed; empty entries (a trailing comma) are skipped; a repeated address counts
//! once. An entry that is not an address, or is loopback, multicast or the IPv4 broadcast address,
//! becomes an [`AddressProblem`] (logged and reported as a Kubernetes Event by the runtime) and the
//! Service's other entries still count.

use std::fmt;
use std::net::IpAddr;

use super::model::{ServiceView, ANNOTATION_LOADBALANCER_IPS};
use crate::io::VipAddress;

/// The address family of a DHCP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DhcpFamily {
    /// DHCPv4 (asked for with `0.0.0.0`).
    V4,
    /// DHCPv6 (asked for with `::`).
    V6,
}

/// One address a Service wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WantedAddress {
    /// This exact address.
    Static(IpAddr),
    /// Whatever address a DHCP lease of this family gives.
    Dhcp(DhcpFamily),
}

/// Where a Service's addresses were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressSource {
    /// `kube-vip.io/loadbalancerIPs`.
    Annotation,
    /// `spec.loadBalancerIP`.
    LoadBalancerIp,
    /// Neither is set: the Service waits for an address (from the cloud provider).
    Unset,
}

/// Why an entry is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidAddress {
    /// Not an IPv4 or IPv6 address.
    Unparsable,
    /// A loopback address.
    Loopback,
    /// A multicast address.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
}

/// One refused entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AddressProblem {
    /// Where it was read from.
    pub source: AddressSource,
    /// The entry as written (trimmed).
    pub value: String,
    /// Why it is refused.
    pub reason: InvalidAddress,
}

impl fmt::Display for AddressProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = match self.source {
            AddressSource::Annotation => ANNOTATION_LOADBALANCER_IPS,
            AddressSource::LoadBalancerIp | AddressSource::Unset => "spec.loadBalancerIP",
        };
        let why = match self.reason {
            InvalidAddress::Unparsable => "is not an IPv4 or IPv6 address",
            InvalidAddress::Loopback => "is a loopback address",
            InvalidAddress::Multicast => "is a multicast address",
            InvalidAddress::Broadcast => "is the broadcast address",
        };
        write!(f, "{field}: {:?} {why}; ignoring it", self.value)
    }
}

/// A Service's wanted addresses, in the order written, and the entries refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAddresses {
    /// Where they were read from.
    pub source: AddressSource,
    /// The usable entries.
    pub wanted: Vec<WantedAddress>,
    /// The refused entries.
    pub problems: Vec<AddressProblem>,
}

/// Reads the addresses `view` wants.
pub fn parse_addresses(view: &ServiceView) -> ParsedAddresses {
    let annotation = view
        .annotation(ANNOTATION_LOADBALANCER_IPS)
        .filter(|v| !v.trim().is_empty());
    let (source, entries): (_, Vec<&str>) = match (annotation, view.load_balancer_ip.as_deref()) {
        (Some(list), _) => (AddressSource::Annotation, list.split(',').collect()),
        (None, Some(ip)) if !ip.trim().is_empty() => (AddressSource::LoadBalancerIp, vec![ip]),
        _ => (AddressSource::Unset, vec![]),
    };
    let mut parsed = ParsedAddresses {
        source,
        wanted: vec![],
        problems: vec![],
    };
    for entry in entries.into_iter().map(str::trim).filter(|e| !e.is_empty()) {
        match parse_entry(entry) {
            Ok(wanted) if !parsed.wanted.contains(&wanted) => parsed.wanted.push(wanted),
            Ok(_) => {}
            Err(reason) => parsed.problems.push(AddressProblem {
                source,
                value: entry.to_owned(),
                reason,
            }),
        }
    }
    parsed
}

fn parse_entry(entry: &str) -> Result<WantedAddress, InvalidAddress> {
    let ip: IpAddr = entry.parse().map_err(|_| InvalidAddress::Unparsable)?;
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => Ok(WantedAddress::Dhcp(DhcpFamily::V4)),
        IpAddr::V6(v6) if v6.is_unspecified() => Ok(WantedAddress::Dhcp(DhcpFamily::V6)),
        IpAddr::V4(v4) if v4.is_broadcast() => Err(InvalidAddress::Broadcast),
        ip if ip.is_loopback() => Err(InvalidAddress::Loopback),
        ip if ip.is_multicast() => Err(InvalidAddress::Multicast),
        ip => Ok(WantedAddress::Static(ip)),
    }
}

/// Prefix lengths Service addresses are configured with (`vip_subnet`: 32 / 128 by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefixes {
    /// For IPv4 addresses.
    pub v4: u8,
    /// For IPv6 addresses.
    pub v6: u8,
}

impl Default for Prefixes {
    fn default() -> Self {
        Prefixes { v4: 32, v6: 128 }
    }
}

impl Prefixes {
    /// `address` with the prefix length of its family.
    pub fn vip(self, address: IpAddr) -> VipAddress {
        let prefix_len = match address {
            IpAddr::V4(_) => self.v4,
            IpAddr::V6(_) => self.v6,
        };
        VipAddress {
            address,
            prefix_len,
        }
    }
}
