//! The fault schedule of a run: what goes wrong, to whom, when and for how long, drawn from the
//! seed before the run starts.

use std::time::Duration;

use super::options::SimOptions;
use super::rng::{stream, Draw};

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// Power-off: every process killed, addresses gone with the reboot; restarted at the end.
    Crash,
    /// SIGTERM to the daemon; restarted at the end.
    Graceful,
    /// The node cannot reach the API server (requests, responses and its watch are lost).
    ApiPartition,
    /// The node's LAN port drops frames without the carrier going down.
    LanPartition,
    /// The API server answers nobody.
    ApiOutage,
    /// API requests and responses take up to 90 % of renewDeadline each way.
    LatencySpike,
    /// The node's link goes down and comes back (carrier signalled to the daemon).
    LinkFlap,
    /// The node's watch breaks and re-lists.
    WatchDrop,
    /// The API server answers some requests with 500, spurious 409, or not at all.
    FlakyApi,
    /// The LAN drops some frames.
    LossyLan,
    /// Something removes the VIP from the node's interface behind the daemon's back.
    AddressTheft,
}

impl FaultKind {
    /// Whether this fault disturbs a graceful handover (everything but a graceful stop).
    pub fn disturbs_handover(self) -> bool {
        self != FaultKind::Graceful
    }

    /// Whether the fault hits one node (chosen when it starts).
    pub fn targets_node(self) -> bool {
        !matches!(
            self,
            FaultKind::ApiOutage
                | FaultKind::LatencySpike
                | FaultKind::FlakyApi
                | FaultKind::LossyLan
        )
    }
}

/// One planned fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFault {
    /// True start time, ns.
    pub at: u64,
    /// How long it lasts, ns.
    pub duration: u64,
    /// What it is.
    pub kind: FaultKind,
    /// Aim at whoever holds the VIP when it starts (else the node `pick` modulo the node count).
    pub at_holder: bool,
    /// Node index used when not aimed at the holder.
    pub pick: usize,
}

/// Draws the schedule for `opts` (empty when it has no fault gap).
pub fn schedule(opts: &SimOptions) -> Vec<PlannedFault> {
    let Some(gap) = opts.fault_gap else {
        return Vec::new();
    };
    let mut r = stream(opts.seed, 2);
    let lease = opts.profile.timing.lease_duration.as_nanos() as u64;
    let end = opts.fault_phase.as_nanos() as u64;
    let gap = gap.as_nanos() as u64;
    let mut at = lease * 2;
    let mut out = Vec::new();
    while at < end {
        let (kind, duration) = match r.below(100) {
            0..=14 => (FaultKind::Crash, r.range(lease / 2, lease * 3)),
            15..=29 => (FaultKind::Graceful, r.range(lease / 2, lease * 3)),
            30..=41 => (FaultKind::ApiPartition, r.range(lease / 5, lease * 2)),
            42..=49 => (FaultKind::LanPartition, r.range(lease / 5, lease * 2)),
            50..=56 => (FaultKind::ApiOutage, r.range(lease / 5, lease * 3 / 2)),
            57..=65 => (FaultKind::LatencySpike, r.range(lease / 2, lease * 2)),
            66..=73 => (FaultKind::LinkFlap, r.range(ms(50), ms(2000))),
            74..=81 => (FaultKind::WatchDrop, r.range(ms(10), ms(500))),
            82..=89 => (FaultKind::FlakyApi, r.range(lease / 2, lease * 2)),
            90..=95 => (FaultKind::LossyLan, r.range(lease / 2, lease * 2)),
            _ => (FaultKind::AddressTheft, 0),
        };
        let at_holder = r.chance(500);
        let pick = r.pick(opts.nodes);
        out.push(PlannedFault {
            at,
            duration,
            kind,
            at_holder,
            pick,
        });
        at += r.range(gap / 4, gap * 7 / 4);
    }
    out
}

fn ms(n: u64) -> u64 {
    Duration::from_millis(n).as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_deterministic_and_inside_the_fault_phase() {
        let opts = SimOptions::from_seed(42, Duration::from_secs(120));
        let a = schedule(&opts);
        assert_eq!(a, schedule(&opts));
        assert!(!a.is_empty());
        assert!(a.iter().all(|f| f.at < 120_000_000_000));
        assert!(a.windows(2).all(|w| w[0].at < w[1].at));
    }
}
