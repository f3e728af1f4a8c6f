//! The turmoil run's fault schedule: what goes wrong, to whom, when and for how long, drawn from
//! the seed before the run starts. The harness carries each one out with turmoil's own levers
//! (`partition` / `repair`, `hold` / `release`, `crash` / `bounce`) or through the driver's
//! shutdown future and the simulated kernel.

use super::options::TurmoilOptions;
use crate::sim::rng::{stream, Draw};

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// Power-off: the host crashes (every task gone, the kernel loses the VIP); bounced at the end.
    Crash,
    /// The driver's shutdown future fires (SIGTERM); the daemon is started again at the end.
    Graceful,
    /// The daemon process dies and is started again at once; the kernel keeps its addresses.
    Restart,
    /// Node ↔ API partition: every segment between them is dropped (connections die silently).
    ApiPartition,
    /// Node ↔ API hold: segments are held and delivered all at once when released (TCP
    /// retransmission across a short outage), so requests arrive late.
    ApiHold,
    /// Node ↔ API latency spike: each segment takes up to 90 % of renewDeadline, so some
    /// answers arrive long after the server applied the request.
    ApiSlow,
    /// One direction of node ↔ API drops every segment (the duration's parity picks which): either
    /// requests are applied and every answer is lost, or requests vanish while the watch still
    /// delivers.
    ApiOneWay,
    /// The API server answers some requests with 500, a spurious 409, or not at all (a write
    /// applied or not, its answer lost).
    FlakyApi,
    /// The API server host crashes and comes back (its store, like etcd, survives).
    ApiCrash,
    /// Node ↔ LAN partition: announcements are lost, the carrier stays up.
    LanPartition,
    /// The node's link goes down (carrier signalled to the daemon) and comes back.
    LinkFlap,
    /// Something removes the VIP from the node's interface behind the daemon's back.
    AddressTheft,
}

impl FaultKind {
    /// Whether this fault can slow a graceful handover down (a follower or the API server hit):
    /// everything but a graceful stop and the LAN faults (a holder counts once it has sent its
    /// announcement, wherever the frame goes).
    pub fn disturbs_handover(self) -> bool {
        !matches!(
            self,
            FaultKind::Graceful | FaultKind::LanPartition | FaultKind::LinkFlap
        )
    }
}

/// One planned fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFault {
    /// Start time, ns of simulated time.
    pub at: u64,
    /// How long it lasts, ns.
    pub duration: u64,
    /// What it is.
    pub kind: FaultKind,
    /// Aim at whoever holds the VIP when it starts (else node `pick` modulo the node count).
    pub at_holder: bool,
    /// Node index used when not aimed at the holder.
    pub pick: usize,
}

/// Draws the schedule for `opts` (empty without a fault gap).
pub fn schedule(opts: &TurmoilOptions) -> Vec<PlannedFault> {
    let Some(gap) = opts.fault_gap else {
        return Vec::new();
    };
    let mut r = stream(opts.seed, 12);
    let lease = opts.profile.timing.lease_duration.as_nanos() as u64;
    let end = opts.fault_phase.as_nanos() as u64;
    let gap = gap.as_nanos() as u64;
    let ms = 1_000_000;
    let mut at = lease * 2;
    let mut out = Vec::new();
    while at < end {
        let (kind, duration) = match r.below(100) {
            0..=11 => (FaultKind::Crash, r.range(lease / 2, lease * 3)),
            12..=23 => (FaultKind::Graceful, r.range(lease / 2, lease * 3)),
            24..=28 => (FaultKind::Restart, 0),
            29..=38 => (FaultKind::ApiPartition, r.range(lease / 5, lease * 2)),
            39..=48 => (FaultKind::ApiHold, r.range(lease / 10, lease * 2)),
            49..=56 => (FaultKind::ApiSlow, r.range(lease / 2, lease * 2)),
            57..=62 => (FaultKind::ApiOneWay, r.range(lease / 5, lease * 2)),
            63..=68 => (FaultKind::FlakyApi, r.range(lease / 2, lease * 2)),
            69..=74 => (FaultKind::ApiCrash, r.range(lease / 5, lease * 3 / 2)),
            75..=82 => (FaultKind::LanPartition, r.range(lease / 5, lease * 2)),
            83..=91 => (FaultKind::LinkFlap, r.range(50 * ms, 2000 * ms)),
            _ => (FaultKind::AddressTheft, 0),
        };
        out.push(PlannedFault {
            at,
            duration,
            kind,
            at_holder: r.chance(500),
            pick: r.pick(opts.nodes),
        });
        at += r.range(gap / 4, gap * 7 / 4);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::PROFILES;
    use std::time::Duration;

    #[test]
    fn schedule_is_deterministic_and_inside_the_fault_phase() {
        let opts = TurmoilOptions::from_seed(9, PROFILES[2], Duration::from_secs(60));
        let a = schedule(&opts);
        assert_eq!(a, schedule(&opts));
        assert!(!a.is_empty());
        assert!(a.iter().all(|f| f.at < 60_000_000_000));
    }
}
