//! DHCPv6 client for Service addresses leased from the LAN (RFC 8415, IA_NA only): wire codec
//! and state machine.
//!
//! A LoadBalancer Service with `kube-vip.io/loadbalancerIPs: "::"` gets its address from the
//! LAN's DHCPv6 server, as kube-vip does: the leader of the Service runs one [`Dhcp6Client`] on a
//! macvlan with a MAC of its own ([`crate::dhcp::stable_mac`]), and the client's DUID is DUID-LL
//! of that MAC, so the server sees one client per Service and every node presents the same one.
//!
//! | module | owns |
//! |---|---|
//! | [`options`] | the options kvip sends and reads (1, 2, 3, 5, 6, 7, 8, 13, 39), DUID-LL |
//! | [`message`] | message type + 3-byte transaction id + options |
//! | [`config`] | the client's configuration and retransmission parameters, its [`Lease6`] |
//! | [`client`] | the state machine: Soliciting → Requesting → Bound → Renewing → Rebinding |
//! | `outgoing` | the messages the client sends and RFC 8415 §15's retransmission timing |
//!
//! Same DUID, same address: the last address is hinted again in SOLICIT (an IAADDR in the
//! IA_NA, from `kube-vip.io/requestedIP`), so a restart or a failover keeps the address when
//! the server allows it.

pub mod client;
pub mod config;
pub mod message;
pub mod options;
mod outgoing;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod proptests;

pub use client::{Dhcp6Client, Dhcp6Output, Dhcp6State};
pub use config::{Dhcp6ClientConfig, Lease6, Retransmission};
pub use message::{Dhcp6Message, MessageType};
pub use options::{ClientFqdn, Dhcp6Options, IaAddr, IaNa, StatusCode, StatusKind};

/// UDP port clients listen on.
pub const CLIENT_PORT: u16 = 546;
/// UDP port servers and relays listen on.
pub const SERVER_PORT: u16 = 547;
/// All_DHCP_Relay_Agents_and_Servers (ff02::1:2), where clients send.
pub const ALL_SERVERS: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);

/// Why bytes could not be decoded as a DHCPv6 client/server message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Dhcp6DecodeError {
    /// The input ends before the `needed` bytes the message requires.
    #[error("too short: need {needed} bytes, got {got}")]
    TooShort {
        /// Bytes required.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The message type is a relay message or undefined.
    #[error("message type {0} is not a client/server message")]
    UnknownMessageType(u8),
    /// Option `code` runs past the end of its container.
    #[error("option {code} runs past the end of its container")]
    OptionOverrun {
        /// The option's code.
        code: u16,
    },
    /// Option `code` has a length its type does not allow.
    #[error("option {code} has invalid length {len}")]
    OptionLength {
        /// The option's code.
        code: u16,
        /// Its length.
        len: usize,
    },
}
