//! The options of one turmoil run, all derived from its seed (and the profile the caller picks),
//! printed first so a reader knows what world a seed names.

use std::fmt;
use std::time::Duration;

use crate::sim::rng::{stream, Draw};
use crate::sim::Profile;

/// kube-client's default read timeout: a watch that receives nothing for this long is dropped
/// and re-established. A watch that silently died (a partition ate its segments) lives this long.
pub const KUBE_READ_TIMEOUT: Duration = Duration::from_secs(295);

/// Everything that shapes one turmoil run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurmoilOptions {
    /// The seed every choice derives from (also turmoil's RNG seed).
    pub seed: u64,
    /// How many node hosts (3–5).
    pub nodes: usize,
    /// Election timing.
    pub profile: Profile,
    /// Announce an IPv6 VIP instead of IPv4.
    pub ipv6: bool,
    /// turmoil's one-way message latency range on every link.
    pub net_latency: (Duration, Duration),
    /// Latency of a simulated kernel address operation.
    pub address_latency: (Duration, Duration),
    /// Delay of kernel address events (netlink multicast) after the change.
    pub kernel_event_delay: (Duration, Duration),
    /// Refresh period of announcements.
    pub arp_rate: Duration,
    /// The server closes each watch after a duration in this range (kube-apiserver's
    /// `timeoutSeconds`, shortened so reconnects happen within a run).
    pub watch_timeout: (Duration, Duration),
    /// The client drops a watch that received nothing for this long.
    pub watch_idle_timeout: Duration,
    /// Length of the fault phase.
    pub fault_phase: Duration,
    /// Mean gap between faults; `None` runs without faults.
    pub fault_gap: Option<Duration>,
}

impl TurmoilOptions {
    /// The options seed `seed` names at `profile`, with a fault phase of `fault_phase`.
    pub fn from_seed(seed: u64, profile: Profile, fault_phase: Duration) -> Self {
        let mut r = stream(seed, 11);
        let lease = profile.timing.lease_duration;
        TurmoilOptions {
            seed,
            nodes: r.range(3, 5) as usize,
            profile,
            ipv6: r.chance(250),
            net_latency: (Duration::from_micros(200), ms(r.range(1, 5))),
            address_latency: (
                Duration::from_micros(100),
                Duration::from_micros(r.range(300, 3000)),
            ),
            kernel_event_delay: (Duration::ZERO, Duration::from_micros(r.range(0, 2000))),
            arp_rate: ms(r.range(500, 3000)),
            watch_timeout: (Duration::from_secs(20), Duration::from_secs(60)),
            watch_idle_timeout: KUBE_READ_TIMEOUT,
            fault_phase,
            fault_gap: Some(lease / 2 + ms(r.range(0, 2000))),
        }
    }

    /// A quiet world: no faults, fixed small latencies.
    pub fn quiet(seed: u64, nodes: usize, profile: Profile, run: Duration) -> Self {
        TurmoilOptions {
            nodes,
            ipv6: false,
            net_latency: (Duration::from_micros(500), ms(2)),
            fault_gap: None,
            ..TurmoilOptions::from_seed(seed, profile, run)
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl fmt::Display for TurmoilOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gap = self
            .fault_gap
            .map_or("none".to_string(), |g| format!("{g:?}"));
        write!(
            f,
            "seed={} nodes={} profile={} family={} net-latency={:?}..{:?} \
             address-latency={:?}..{:?} kernel-event-delay={:?}..{:?} arp-rate={:?} \
             watch-timeout={:?}..{:?} watch-idle-timeout={:?} fault-phase={:?} fault-gap={}",
            self.seed,
            self.nodes,
            self.profile.name,
            if self.ipv6 { "ipv6" } else { "ipv4" },
            self.net_latency.0,
            self.net_latency.1,
            self.address_latency.0,
            self.address_latency.1,
            self.kernel_event_delay.0,
            self.kernel_event_delay.1,
            self.arp_rate,
            self.watch_timeout.0,
            self.watch_timeout.1,
            self.watch_idle_timeout,
            self.fault_phase,
            gap
        )
    }
}
