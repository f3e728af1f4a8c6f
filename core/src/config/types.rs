//! The small value types of [`super::Config`]: mode, VIP targets, lease references and the
//! enumerated settings, with the spelling kube-vip uses for each.

use std::fmt;
use std::net::IpAddr;

/// How the elected node makes an address reachable. Exactly one is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Layer 2: gratuitous ARP for IPv4, unsolicited neighbour advertisements for IPv6 (`vip_arp`).
    Arp,
    /// BGP announcements to the configured peers (`bgp_enable`).
    Bgp,
    /// Routes in a routing table for another daemon to redistribute (`vip_routingtable`).
    Table,
    /// Addresses on a WireGuard interface (`vip_wireguard`).
    Wireguard,
}

/// One entry of `address`: an IP literal, or a DNS name resolved at run time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VipTarget {
    /// A literal IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A DNS name (kube-vip resolves it; with `vip_ddns` it is the DHCP hostname).
    Dns(String),
}

impl VipTarget {
    /// The address, when this is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            VipTarget::Ip(ip) => Some(*ip),
            VipTarget::Dns(_) => None,
        }
    }
}

/// A Lease's namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseRef {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
}

/// Which addresses a DNS name in `address` resolves to (`dns_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DnsMode {
    /// The first address returned, whatever its family.
    First,
    /// IPv4 only.
    Ipv4,
    /// IPv6 only.
    Ipv6,
    /// One of each family.
    Dual,
}

/// Which address families DHCP requests (`dhcp_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DhcpMode {
    /// DHCPv4 only.
    Ipv4,
    /// DHCPv6 only.
    Ipv6,
    /// Both.
    Dual,
}

/// Forwarding method of the control-plane load balancer (`lb_fwdmethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForwardMethod {
    /// Deliver locally (IPVS "local").
    Local,
    /// NAT to the backend.
    Masquerade,
    /// IP-in-IP tunnel to the backend.
    Tunnel,
    /// Direct routing.
    Direct,
    /// Bypass.
    Bypass,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Arp => "arp",
            Mode::Bgp => "bgp",
            Mode::Table => "table",
            Mode::Wireguard => "wireguard",
        })
    }
}

impl fmt::Display for VipTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VipTarget::Ip(ip) => write!(f, "{ip}"),
            VipTarget::Dns(name) => f.write_str(name),
        }
    }
}

impl fmt::Display for LeaseRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl fmt::Display for DnsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DnsMode::First => "first",
            DnsMode::Ipv4 => "ipv4",
            DnsMode::Ipv6 => "ipv6",
            DnsMode::Dual => "dual",
        })
    }
}

impl fmt::Display for DhcpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DhcpMode::Ipv4 => "ipv4",
            DhcpMode::Ipv6 => "ipv6",
            DhcpMode::Dual => "dual",
        })
    }
}

impl fmt::Display for ForwardMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ForwardMethod::Local => "local",
            ForwardMethod::Masquerade => "masquerade",
            ForwardMethod::Tunnel => "tunnel",
            ForwardMethod::Direct => "direct",
            ForwardMethod::Bypass => "bypass",
        })
    }
}
