//! DHCPv6 addresses for LoadBalancer Services (`kube-vip.io/loadbalancerIPs: "::"`), as
//! kube-vip does it: one macvlan per Service on the service interface, with the Service's own
//! MAC (the same [`kvip_core::dhcp::stable_mac`] and [`kvip_core::dhcp::macvlan_name`] as
//! DHCPv4), leasing an address from the LAN's DHCPv6 server with
//! [`kvip_core::dhcp6::Dhcp6Client`].
//!
//! | module | owns |
//! |---|---|
//! | [`task`] | [`Dhcp6LeaseTask`]: the task that owns one Service's address, and its [`Dhcp6Event`]s |
//! | [`ipv6_link`] | the macvlan's IPv6 side: DAD off, its usable link-local address, the leased /128 |
//!
//! The macvlan itself is [`crate::dhcp::link::Macvlan`]; the unsolicited neighbour
//! advertisement goes out through [`crate::dhcp::packet::PacketSocket`].

pub mod ipv6_link;
pub mod task;

pub use task::{Dhcp6Event, Dhcp6LeaseTask};
