//! What a [`super::Dhcp6Client`] is started with ([`Dhcp6ClientConfig`], with RFC 8415 §7.6's
//! retransmission parameters as [`Retransmission`]s) and what it hands out when bound
//! ([`Lease6`]). The MAC and macvlan name of a Service come from [`crate::dhcp::stable_mac`] and
//! [`crate::dhcp::macvlan_name`], as for DHCPv4.

use std::net::Ipv6Addr;
use std::time::Duration;

use super::options::{IaNa, DUID_LL, HW_TYPE_ETHERNET};
use crate::time::Instant;
use crate::wire::MacAddr;

/// Option codes asked for in ORO: the client FQDN, so the server echoes the name it recorded.
pub const OPTION_REQUEST: [u16; 1] = [super::options::OPT_CLIENT_FQDN];

/// One message's retransmission parameters (RFC 8415 §15): initial timeout (IRT), largest
/// timeout (MRT) and largest count (MRC, 0 = unbounded). The duration bound (MRD) comes from the
/// lease where RFC 8415 says so (until T2 for Renew, until the valid lifetime ends for Rebind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retransmission {
    /// IRT.
    pub initial: Duration,
    /// MRT.
    pub max: Duration,
    /// MRC; 0 means "until the duration bound", or forever for Solicit.
    pub max_count: u32,
}

impl Retransmission {
    /// Every timeout scaled by `num / den` (counts unchanged), for tests that cannot wait seconds.
    pub fn scaled(self, num: u32, den: u32) -> Retransmission {
        Retransmission {
            initial: self.initial * num / den,
            max: self.max * num / den,
            max_count: self.max_count,
        }
    }
}

/// How one client behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcp6ClientConfig {
    /// The MAC the client's DUID-LL names (and the macvlan carries).
    pub mac: MacAddr,
    /// Host name sent in the Client FQDN option (`kube-vip.io/loadbalancerHostname`).
    pub host_name: Option<String>,
    /// Address hinted in SOLICIT (`kube-vip.io/requestedIP`); after a lease the client keeps
    /// hinting the last address it held.
    pub requested_address: Option<Ipv6Addr>,
    /// The IAID of the one IA_NA; [`Dhcp6ClientConfig::new`] takes the MAC's last four bytes.
    pub iaid: u32,
    /// SOLICIT: RFC 8415 SOL_TIMEOUT 1 s; MRT 120 s (RFC: 3600 s, shortened so a Service gets
    /// its address soon after the server comes back); unbounded count.
    pub solicit: Retransmission,
    /// REQUEST: REQ_TIMEOUT 1 s, REQ_MAX_RT 30 s, REQ_MAX_RC 10.
    pub request: Retransmission,
    /// RENEW: REN_TIMEOUT 10 s, REN_MAX_RT 600 s, until T2.
    pub renew: Retransmission,
    /// REBIND: REB_TIMEOUT 10 s, REB_MAX_RT 600 s, until the valid lifetime ends.
    pub rebind: Retransmission,
    /// RELEASE: REL_TIMEOUT 1 s, REL_MAX_RC 4.
    pub release: Retransmission,
    /// Pause before soliciting again after a REPLY refusing addresses (NoAddrsAvail, NotOnLink,
    /// UnspecFail) or after a REQUEST went unanswered REQ_MAX_RC times.
    pub refused_backoff: Duration,
    /// Unanswered SOLICITs after which [`super::Dhcp6Output::NoOffer`] is reported, once per
    /// round (kube-vip's `dhcp_backoff_attempts`, default 3). Soliciting goes on regardless.
    pub report_after_attempts: u32,
    /// Seed of transaction ids and retransmission jitter.
    pub seed: u64,
}

impl Dhcp6ClientConfig {
    /// RFC 8415's timings for a client with `mac`, no host name and no requested address.
    pub fn new(mac: MacAddr) -> Dhcp6ClientConfig {
        let secs = Duration::from_secs;
        Dhcp6ClientConfig {
            mac,
            host_name: None,
            requested_address: None,
            iaid: u32::from_be_bytes([mac.0[2], mac.0[3], mac.0[4], mac.0[5]]),
            solicit: Retransmission {
                initial: secs(1),
                max: secs(120),
                max_count: 0,
            },
            request: Retransmission {
                initial: secs(1),
                max: secs(30),
                max_count: 10,
            },
            renew: Retransmission {
                initial: secs(10),
                max: secs(600),
                max_count: 0,
            },
            rebind: Retransmission {
                initial: secs(10),
                max: secs(600),
                max_count: 0,
            },
            release: Retransmission {
                initial: secs(1),
                max: secs(1),
                max_count: 4,
            },
            refused_backoff: secs(10),
            report_after_attempts: 3,
            seed: 0,
        }
    }

    /// The client's DUID: DUID-LL, Ethernet, the MAC (`00:03:00:01:<mac>`).
    pub fn duid(&self) -> Vec<u8> {
        let mut duid = Vec::with_capacity(10);
        duid.extend_from_slice(&DUID_LL.to_be_bytes());
        duid.extend_from_slice(&HW_TYPE_ETHERNET.to_be_bytes());
        duid.extend_from_slice(&self.mac.0);
        duid
    }
}

/// An address held from a DHCPv6 server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease6 {
    /// The leased address (put on as /128: the prefix comes from router advertisements).
    pub address: Ipv6Addr,
    /// The IAID it is bound to.
    pub iaid: u32,
    /// The server's DUID (SERVERID): where Renew and Release go.
    pub server_id: Vec<u8>,
    /// Preferred lifetime.
    pub preferred: Duration,
    /// Valid lifetime: the address is lost this long after `start` unless extended.
    pub valid: Duration,
    /// Time from `start` to renewing (T1).
    pub t1: Duration,
    /// Time from `start` to rebinding (T2).
    pub t2: Duration,
    /// When the exchange that earned this lease began (RFC 8415 §18.2.10.1: times count from
    /// when the message was sent).
    pub start: Instant,
}

impl Lease6 {
    /// The lease for `address` (an IAADDR of `ia` with a valid lifetime > 0) from the server
    /// `server_id`, counted from `start`. T1 / T2 of 0 mean the client chooses: 0.5 / 0.8 of
    /// the preferred lifetime (of the valid one when the preferred is 0), as RFC 8415 §21.4
    /// recommends; they are clamped so that T1 ≤ T2 ≤ valid.
    pub fn from_ia(
        ia: &IaNa,
        address: Ipv6Addr,
        server_id: Vec<u8>,
        start: Instant,
    ) -> Option<Lease6> {
        let a = ia
            .addresses
            .iter()
            .find(|a| a.address == address && a.valid > 0)?;
        let secs = |s: u32| Duration::from_secs(u64::from(s));
        let valid = secs(a.valid);
        let preferred = secs(a.preferred.min(a.valid));
        let basis = if preferred.is_zero() {
            valid
        } else {
            preferred
        };
        let t2 = if ia.t2 == 0 {
            basis * 4 / 5
        } else {
            secs(ia.t2)
        }
        .min(valid);
        let t1 = if ia.t1 == 0 { basis / 2 } else { secs(ia.t1) }.min(t2);
        Some(Lease6 {
            address,
            iaid: ia.iaid,
            server_id,
            preferred,
            valid,
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
        self.start + self.valid
    }
}

#[cfg(test)]
mod tests {
    use super::super::options::IaAddr;
    use super::*;

    fn ia(t1: u32, t2: u32, preferred: u32, valid: u32) -> IaNa {
        IaNa {
            iaid: 7,
            t1,
            t2,
            addresses: vec![IaAddr {
                address: "fd00::5".parse().unwrap(),
                preferred,
                valid,
                status: None,
            }],
            status: None,
        }
    }

    fn lease(ia: &IaNa) -> Option<Lease6> {
        Lease6::from_ia(ia, "fd00::5".parse().unwrap(), vec![0, 1], Instant::ZERO)
    }

    #[test]
    fn duid_is_duid_ll_of_the_mac_and_iaid_its_tail() {
        let c = Dhcp6ClientConfig::new(MacAddr([2, 0x42, 0x0a, 0xfa, 0, 0xaa]));
        assert_eq!(c.duid(), vec![0, 3, 0, 1, 2, 0x42, 0x0a, 0xfa, 0, 0xaa]);
        assert_eq!(c.iaid, 0x0afa_00aa);
    }

    #[test]
    fn zero_t1_t2_are_half_and_four_fifths_of_preferred() {
        let l = lease(&ia(0, 0, 100, 200)).unwrap();
        assert_eq!(
            (l.t1, l.t2),
            (Duration::from_secs(50), Duration::from_secs(80))
        );
        let l = lease(&ia(0, 0, 0, 200)).unwrap();
        assert_eq!(
            (l.t1, l.t2),
            (Duration::from_secs(100), Duration::from_secs(160))
        );
    }

    #[test]
    fn server_times_are_kept_and_clamped() {
        let l = lease(&ia(10, 20, 100, 200)).unwrap();
        assert_eq!(
            (l.t1, l.t2, l.valid),
            (
                Duration::from_secs(10),
                Duration::from_secs(20),
                Duration::from_secs(200)
            )
        );
        let l = lease(&ia(500, 400, 100, 200)).unwrap();
        assert_eq!(
            (l.t1, l.t2),
            (Duration::from_secs(200), Duration::from_secs(200))
        );
        assert_eq!(
            lease(&ia(10, 20, 0, 0)),
            None,
            "valid lifetime 0 is no lease"
        );
    }
}
