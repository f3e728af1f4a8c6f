//! The options of one Services run, derived from its seed and election mode, printed first so a
//! reader knows what world a seed names.

use std::fmt;
use std::time::Duration;

use kvip_core::ElectionTiming;

use crate::sim::rng::{stream, Draw};

/// Global Lease or per-service membership (`svc_election`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// One Lease for all Services.
    Global,
    /// Membership Leases, groups spread over the live members.
    PerService,
}

/// Everything that shapes one Services run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicesSimOptions {
    /// The seed every other choice derives from.
    pub seed: u64,
    /// The election mode.
    pub mode: Mode,
    /// How many nodes.
    pub nodes: usize,
    /// Election timing (the handover delay is 2 × retryPeriod).
    pub timing: ElectionTiming,
    /// One-way API latency.
    pub api_latency: (Duration, Duration),
    /// Delay of a watch event after the write that caused it (a slow-watch fault adds more).
    pub watch_delay: (Duration, Duration),
    /// Latency of an address add or remove.
    pub address_latency: (Duration, Duration),
    /// Largest clock rate error, ppm.
    pub max_drift_ppm: i64,
    /// Length of the phase with faults and churn.
    pub fault_phase: Duration,
    /// Mean gap between faults / churn steps.
    pub fault_gap: Duration,
    /// How late a node's timer may be served (a busy runtime: inputs that arrive meanwhile are
    /// handled first); each wake-up is late by a uniform draw up to this. Zero in half the seeds.
    pub timer_lateness: Duration,
}

impl ServicesSimOptions {
    /// The options seed `seed` names in `mode`.
    pub fn from_seed(seed: u64, mode: Mode) -> Self {
        let mut r = stream(seed, 11);
        let api = r.range(1, 10);
        ServicesSimOptions {
            seed,
            mode,
            nodes: 3,
            timing: ElectionTiming::from_millis(5_000, 3_000, 1_000),
            api_latency: (ms(api) / 2, ms(api)),
            watch_delay: (ms(1), ms(r.range(2, 20))),
            address_latency: (Duration::from_micros(100), Duration::from_micros(3000)),
            max_drift_ppm: 1_000,
            fault_phase: Duration::from_secs(40),
            fault_gap: ms(r.range(500, 2500)),
            timer_lateness: Duration::ZERO,
        }
        .with_lateness(&mut r)
    }

    fn with_lateness(mut self, r: &mut impl Draw) -> Self {
        if r.chance(500) {
            self.timer_lateness = ms(r.range(1, 300));
        }
        self
    }

    /// The handover delay the nodes run with.
    pub fn handover_delay(&self) -> Duration {
        self.timing.retry_period * 2
    }
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl fmt::Display for ServicesSimOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed={} mode={:?} nodes={} timing={:?}/{:?}/{:?} api-latency={:?}..{:?} \
             watch-delay={:?}..{:?} fault-phase={:?} fault-gap={:?} timer-lateness={:?}",
            self.seed,
            self.mode,
            self.nodes,
            self.timing.lease_duration,
            self.timing.renew_deadline,
            self.timing.retry_period,
            self.api_latency.0,
            self.api_latency.1,
            self.watch_delay.0,
            self.watch_delay.1,
            self.fault_phase,
            self.fault_gap,
            self.timer_lateness
        )
    }
}
