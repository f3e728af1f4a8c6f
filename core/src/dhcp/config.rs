//! What a [`super::DhcpClient`] is started with ([`DhcpClientConfig`]), what it hands out when
//! bound ([`Lease`]), and the per-Service names every node derives alike: the MAC
//! ([`stable_mac`]) and the macvlan's interface name ([`macvlan_name`]).

use std::net::Ipv4Addr;
use std::time::Duration;

use super::frame::ReceivedMessage;
use super::options::prefix_len;
use crate::time::Instant;
use crate::wire::MacAddr;

/// Options asked for in option 55: mask, router, lease time, server id, T1, T2.
pub const PARAMETER_REQUEST_LIST: [u8; 6] = [1, 3, 51, 54, 58, 59];

/// How one client behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpClientConfig {
    /// The MAC the client uses (chaddr and Ethernet source): [`stable_mac`] or `kube-vip.io/hwaddr`.
    pub mac: MacAddr,
    /// Host name sent as option 12 (`kube-vip.io/loadbalancerHostname`).
    pub host_name: Option<String>,
    /// Address asked for in DISCOVER (option 50) (`kube-vip.io/requestedIP`). After a lease the
    /// client keeps asking for the last address it held.
    pub requested_ip: Option<Ipv4Addr>,
    /// Client identifier (option 61); `None` sends type 1 + MAC, as dnsmasq's `01:<mac>` shows.
    pub client_id: Option<Vec<u8>>,
    /// First retransmission delay of DISCOVER / REQUEST (RFC 2131: 4 s); also the floor of the
    /// retry interval while renewing and rebinding, and the pause after a NAK.
    pub retransmit_initial: Duration,
    /// Largest retransmission delay before jitter (RFC 2131: 64 s).
    pub retransmit_max: Duration,
    /// Unanswered REQUESTs after an offer before starting over with a DISCOVER.
    pub request_attempts: u32,
    /// Unanswered DISCOVERs after which [`super::DhcpOutput::NoOffer`] is reported, once per
    /// round (kube-vip's `dhcp_backoff_attempts`, default 3). Discovery goes on regardless.
    pub report_after_attempts: u32,
    /// Seed of transaction ids and retransmission jitter.
    pub seed: u64,
}

impl DhcpClientConfig {
    /// RFC 2131's timings for a client with `mac`, no host name and no requested address.
    pub fn new(mac: MacAddr) -> DhcpClientConfig {
        DhcpClientConfig {
            mac,
            host_name: None,
            requested_ip: None,
            client_id: None,
            retransmit_initial: Duration::from_secs(4),
            retransmit_max: Duration::from_secs(64),
            request_attempts: 4,
            report_after_attempts: 3,
            seed: 0,
        }
    }

    /// The client identifier sent: the configured one, else hardware type 1 followed by the MAC.
    pub fn client_identifier(&self) -> Vec<u8> {
        self.client_id.clone().unwrap_or_else(|| {
            let mut id = vec![1];
            id.extend_from_slice(&self.mac.0);
            id
        })
    }
}

/// An address held from a DHCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The leased address.
    pub address: Ipv4Addr,
    /// The LAN's prefix length from the subnet mask (32 when the server sent none).
    pub prefix_len: u8,
    /// First router the server named, if any.
    pub router: Option<Ipv4Addr>,
    /// The server's identifier (option 54): where renewals and the release go.
    pub server: Ipv4Addr,
    /// Ethernet source of the server's ACK: the next hop of unicast renewals and the release.
    pub server_mac: MacAddr,
    /// Lease duration (`u32::MAX` seconds for an infinite lease).
    pub lease_time: Duration,
    /// Time from the lease start to renewing (T1).
    pub t1: Duration,
    /// Time from the lease start to rebinding (T2).
    pub t2: Duration,
    /// When the request that earned this lease was sent (RFC 2131 §4.4.1: times count from there).
    pub start: Instant,
}

impl Lease {
    /// The lease an ACK grants, counted from `start` (when its exchange began), or `None` when the
    /// ACK has no address or no lease time. T1 / T2 default to 1/2 and 7/8 of the lease (RFC
    /// 2131 §4.4.5) and are clamped so that T1 ≤ T2 ≤ lease. The server is option 54, else
    /// `previous_server`, else the IP source.
    pub fn from_ack(
        ack: &ReceivedMessage,
        start: Instant,
        previous_server: Option<Ipv4Addr>,
    ) -> Option<Lease> {
        let o = &ack.message.options;
        let lease_time = Duration::from_secs(u64::from(o.lease_time?));
        if ack.message.yiaddr.is_unspecified() {
            return None;
        }
        let secs = |s: u32| Duration::from_secs(u64::from(s));
        let t2 = o
            .rebinding_time
            .map(secs)
            .filter(|t2| *t2 <= lease_time)
            .unwrap_or(lease_time * 7 / 8);
        let t1 = o
            .renewal_time
            .map(secs)
            .filter(|t1| *t1 <= t2)
            .unwrap_or_else(|| (lease_time / 2).min(t2));
        Some(Lease {
            address: ack.message.yiaddr,
            prefix_len: o.subnet_mask.map_or(32, prefix_len),
            router: o.routers.first().copied(),
            server: o
                .server_id
                .or(previous_server)
                .unwrap_or(ack.addressing.src_ip),
            server_mac: ack.addressing.src_mac,
            lease_time,
            t1,
            t2,
            start,
        })
    }

    /// When renewing starts.
    pub fn renew_at(&self) -> Instant {
        self.start + self.t1
    }

    /// When rebinding starts.
    pub fn rebind_at(&self) -> Instant {
        self.start + self.t2
    }

    /// When the address is lost unless extended.
    pub fn expires_at(&self) -> Instant {
        self.start + self.lease_time
    }
}

/// FNV-1a, 64 bit: a fixed hash (std's hasher may change between Rust releases, and every node
/// must derive the same MAC from the same UID).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A locally administered unicast MAC derived from a Service's UID: the same on every node, so
/// the DHCP server keeps handing the Service the same address whoever leads it.
pub fn stable_mac(uid: &str) -> MacAddr {
    let h = fnv1a(uid.as_bytes()).to_be_bytes();
    MacAddr([(h[0] & 0xfc) | 0x02, h[1], h[2], h[3], h[4], h[5]])
}

/// The macvlan's interface name for a MAC: `kv` and the twelve hex digits (14 characters, within
/// Linux's 15), so every Service's interface is distinct and recognisable.
pub fn macvlan_name(mac: MacAddr) -> String {
    let hex: String = mac.0.iter().map(|b| format!("{b:02x}")).collect();
    format!("kv{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_mac_is_local_unicast_and_depends_only_on_the_uid() {
        let uid = "6f1c9a52-3b1e-4c7e-9a0d-2f6b8e1d4c11";
        let mac = stable_mac(uid);
        assert_eq!(mac, stable_mac(uid));
        assert_eq!(mac.0[0] & 0x01, 0, "unicast");
        assert_eq!(mac.0[0] & 0x02, 0x02, "locally administered");
        assert_ne!(mac, stable_mac("6f1c9a52-3b1e-4c7e-9a0d-2f6b8e1d4c12"));
        // FNV-1a-64("abc") = e71fa2190541574b (the published test vector); first byte made
        // local unicast. Pinned: a change would move every DHCP Service to a new address.
        assert_eq!(stable_mac("abc").to_string(), "e6:1f:a2:19:05:41");
    }

    #[test]
    fn macvlan_name_fits_linux_and_names_the_mac() {
        let name = macvlan_name(MacAddr([0x02, 0x42, 0x0a, 0xfa, 0x00, 0xaa]));
        assert_eq!(name, "kv02420afa00aa");
        assert!(name.len() <= 15);
    }

    #[test]
    fn default_client_id_is_type_one_and_mac() {
        let c = DhcpClientConfig::new(MacAddr([2, 1, 2, 3, 4, 5]));
        assert_eq!(c.client_identifier(), vec![1, 2, 1, 2, 3, 4, 5]);
    }
}
