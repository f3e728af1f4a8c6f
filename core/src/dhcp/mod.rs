//! DHCPv4 client for Service addresses leased from the LAN (RFC 2131): wire codec and state machine.
//!
//! A LoadBalancer Service with `loadBalancerIP: 0.0.0.0` gets its address from the LAN's DHCP
//! server, as kube-vip does: the leader of the Service runs one [`DhcpClient`] on a macvlan with a
//! MAC of its own, so the server sees one client per Service.
//!
//! | module | owns |
//! |---|---|
//! | [`options`] | the options kvip sends and reads (1, 3, 12, 50, 51, 53, 54, 55, 58, 59, 61, 255) |
//! | [`message`] | the BOOTP header + magic cookie + options |
//! | [`frame`] | Ethernet/IPv4/UDP around a message, checksums, for a raw socket |
//! | [`config`] | the client's configuration, its [`Lease`], and the MAC / interface name of a Service |
//! | [`client`] | the RFC 2131 state machine: Selecting → Requesting → Bound → Renewing → Rebinding |
//! | `outgoing` | the messages the client sends, their addressing, retransmission backoff |
//!
//! Same MAC, same address: the MAC is derived from the Service's UID ([`stable_mac`]) unless
//! `kube-vip.io/hwaddr` names one, and the last address is asked for again (option 50, from
//! `kube-vip.io/requestedIP`), so a restart or a failover to another node keeps the address.

pub mod client;
pub mod config;
pub mod frame;
pub mod message;
pub mod options;
mod outgoing;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod lease_tests;
#[cfg(test)]
mod proptests;

pub use client::{DhcpClient, DhcpOutput, DhcpState};
pub use config::{macvlan_name, stable_mac, DhcpClientConfig, Lease};
pub use frame::UdpChecksum;
pub use message::DhcpMessage;
pub use options::{DhcpOptions, MessageType};

/// Why bytes could not be decoded as a DHCP message or as a frame carrying one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DhcpDecodeError {
    /// The input ends before the `needed` bytes the message or frame requires.
    #[error("too short: need {needed} bytes, got {got}")]
    TooShort {
        /// Bytes required.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The BOOTP `op` is neither request (1) nor reply (2).
    #[error("BOOTP op {0} is neither request nor reply")]
    BadOp(u8),
    /// The hardware type / length are not Ethernet's (1 / 6).
    #[error("hardware type {htype} length {hlen}, expected Ethernet (1/6)")]
    NotEthernet {
        /// `htype` field.
        htype: u8,
        /// `hlen` field.
        hlen: u8,
    },
    /// The options area does not start with the magic cookie 99.130.83.99 (plain BOOTP).
    #[error("no DHCP magic cookie")]
    NoMagicCookie,
    /// Option `code` runs past the end of the message.
    #[error("option {code} runs past the end of the message")]
    OptionOverrun {
        /// The option's code.
        code: u8,
    },
    /// Option `code` has a length its type does not allow.
    #[error("option {code} has invalid length {len}")]
    OptionLength {
        /// The option's code.
        code: u8,
        /// Its length byte.
        len: usize,
    },
    /// Option 53 carries a value RFC 2132 does not define.
    #[error("unknown DHCP message type {0}")]
    UnknownMessageType(u8),
    /// The Ethernet frame is not IPv4.
    #[error("ethertype {0:#06x} is not IPv4")]
    NotIpv4(u16),
    /// The IPv4 header's version, header length or total length is invalid.
    #[error("invalid IPv4 header")]
    BadIpHeader,
    /// The IPv4 header checksum does not match.
    #[error("bad IPv4 header checksum")]
    BadIpChecksum,
    /// The packet is an IPv4 fragment (DHCP replies never are).
    #[error("IPv4 fragment")]
    Fragmented,
    /// The IPv4 payload is not UDP.
    #[error("IP protocol {0} is not UDP")]
    NotUdp(u8),
    /// The UDP destination port is not the one expected (68 for the client).
    #[error("UDP destination port {0} is not the expected one")]
    WrongPort(u16),
    /// The UDP length field does not fit the IPv4 payload.
    #[error("UDP length {0} does not fit the packet")]
    BadUdpLength(usize),
    /// The UDP checksum does not match.
    #[error("bad UDP checksum")]
    BadUdpChecksum,
}
