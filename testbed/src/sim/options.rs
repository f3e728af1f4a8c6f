//! The options of one simulated run, all derived from its seed unless overridden, and printed
//! first so a reader knows what world a seed names.

use std::fmt;
use std::time::Duration;

use kvip_core::ElectionTiming;

use super::rng::{stream, Draw};

/// A named election timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// Short name used on command lines.
    pub name: &'static str,
    /// The timing.
    pub timing: ElectionTiming,
}

/// The three profiles the simulator exercises: kube-vip's defaults, the articles' 5/3/1, and a
/// fast sub-second one.
pub const PROFILES: [Profile; 3] = [
    Profile {
        name: "15/10/2",
        timing: ElectionTiming::from_millis(15_000, 10_000, 2_000),
    },
    Profile {
        name: "5/3/1",
        timing: ElectionTiming::from_millis(5_000, 3_000, 1_000),
    },
    Profile {
        name: "1/0.6/0.2",
        timing: ElectionTiming::from_millis(1_000, 600, 200),
    },
];

/// Looks a profile up by name.
pub fn profile(name: &str) -> Option<Profile> {
    PROFILES.into_iter().find(|p| p.name == name)
}

/// Everything that shapes one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimOptions {
    /// The seed every other choice derives from.
    pub seed: u64,
    /// How many nodes (3–7).
    pub nodes: usize,
    /// Election timing.
    pub profile: Profile,
    /// Announce an IPv6 VIP (unsolicited NA) instead of IPv4 (gratuitous ARP).
    pub ipv6: bool,
    /// One-way API latency range, request and response drawn independently.
    pub api_latency: (Duration, Duration),
    /// Delay of watch events after a write.
    pub watch_delay: (Duration, Duration),
    /// Latency of an address add or remove.
    pub address_latency: (Duration, Duration),
    /// LAN frame latency.
    pub lan_latency: (Duration, Duration),
    /// Largest clock rate error, ppm.
    pub max_drift_ppm: i64,
    /// Refresh period of announcements.
    pub arp_rate: Duration,
    /// Length of the safety phase, with faults.
    pub fault_phase: Duration,
    /// Mean gap between faults; `None` runs without faults.
    pub fault_gap: Option<Duration>,
}

impl SimOptions {
    /// The options seed `seed` names, for a fault phase of `fault_phase`.
    pub fn from_seed(seed: u64, fault_phase: Duration) -> Self {
        let mut r = stream(seed, 1);
        let nodes = r.range(3, 7) as usize;
        let profile = PROFILES[r.pick(PROFILES.len())];
        let ipv6 = r.chance(250);
        let api_base = r.range(1, 10);
        let lease = profile.timing.lease_duration;
        SimOptions {
            seed,
            nodes,
            profile,
            ipv6,
            api_latency: (ms(api_base) / 2, ms(api_base)),
            watch_delay: (ms(1), ms(r.range(2, 5))),
            address_latency: (
                Duration::from_micros(100),
                Duration::from_micros(r.range(300, 3000)),
            ),
            lan_latency: (Duration::from_micros(50), Duration::from_micros(1000)),
            max_drift_ppm: 10_000,
            arp_rate: ms(r.range(500, 3000)),
            fault_phase,
            fault_gap: Some(lease / 2 + ms(r.range(0, 2000))),
        }
    }

    /// A quiet world for measurements: fixed API latency, no faults.
    pub fn quiet(seed: u64, nodes: usize, profile: Profile, api_latency: Duration) -> Self {
        SimOptions {
            nodes,
            profile,
            ipv6: false,
            api_latency: (api_latency, api_latency),
            watch_delay: (ms(1), ms(3)),
            fault_gap: None,
            ..SimOptions::from_seed(
                seed,
                profile.timing.lease_duration * 4 + Duration::from_secs(2),
            )
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl fmt::Display for SimOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gap = self
            .fault_gap
            .map_or("none".to_string(), |g| format!("{g:?}"));
        write!(
            f,
            "seed={} nodes={} profile={} family={} api-latency={:?}..{:?} watch-delay={:?}..{:?} \
             address-latency={:?}..{:?} max-drift={}ppm arp-rate={:?} fault-phase={:?} fault-gap={}",
            self.seed,
            self.nodes,
            self.profile.name,
            if self.ipv6 { "ipv6" } else { "ipv4" },
            self.api_latency.0,
            self.api_latency.1,
            self.watch_delay.0,
            self.watch_delay.1,
            self.address_latency.0,
            self.address_latency.1,
            self.max_drift_ppm,
            self.arp_rate,
            self.fault_phase,
            gap
        )
    }
}
