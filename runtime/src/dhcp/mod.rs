//! DHCP addresses for LoadBalancer Services (`loadBalancerIP: 0.0.0.0`), as kube-vip does it:
//! one macvlan per Service on the service interface, with the Service's own MAC, leasing its
//! address from the LAN's DHCP server with [`kvip_core::dhcp::DhcpClient`].
//!
//! | module | owns |
//! |---|---|
//! | [`task`] | [`DhcpLeaseTask`]: the task that owns one Service's address, and its [`DhcpEvent`]s |
//! | [`link`] | the macvlan and its address, through rtnetlink |
//! | [`packet`] | the AF_PACKET socket the client's frames go out and come in on |
//! | [`cli`] | `kvip dhcp-lease`: one lease from the command line, held until SIGTERM |
//!
//! **ARP sysctls.** A node holding an address on a macvlan must set, in its network namespace,
//! `net.ipv4.conf.all.arp_ignore=1` (answer ARP only on the interface that has the address, so
//! the parent does not answer for the macvlan's address with its own MAC) and
//! `net.ipv4.conf.all.arp_announce=2` (use the best local source address in ARP requests).
//! Without them the LAN learns the parent's MAC for the Service address ("ARP flux"): the
//! server then unicasts its renewal answers to a MAC the client does not listen on, and the
//! lease runs out. [`DhcpLeaseTask::start`] logs a warning when they are not set.

pub mod cli;
pub mod link;
pub mod packet;
pub mod task;

pub use task::{DhcpEvent, DhcpLeaseTask};

/// The effective value of `net.ipv4.conf.{all,<interface>}.<key>` in this network namespace:
/// the kernel uses the larger of the two for `arp_ignore` and `arp_announce`.
fn arp_sysctl(interface: &str, key: &str) -> Option<u32> {
    let read = |scope: &str| {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{scope}/{key}"))
            .ok()?
            .trim()
            .parse::<u32>()
            .ok()
    };
    match (read("all"), read(interface)) {
        (Some(a), Some(i)) => Some(a.max(i)),
        (a, i) => a.or(i),
    }
}

/// Logs a warning unless `arp_ignore` ≥ 1 and `arp_announce` ≥ 2 hold for `parent`.
pub fn warn_on_arp_sysctls(parent: &str) {
    let ignore = arp_sysctl(parent, "arp_ignore");
    let announce = arp_sysctl(parent, "arp_announce");
    if ignore.is_none_or(|v| v < 1) || announce.is_none_or(|v| v < 2) {
        tracing::warn!(
            parent,
            arp_ignore = ?ignore,
            arp_announce = ?announce,
            "DHCP addresses on a macvlan need net.ipv4.conf.all.arp_ignore=1 and \
             net.ipv4.conf.all.arp_announce=2, or the parent answers ARP for them with its own MAC"
        );
    }
}
