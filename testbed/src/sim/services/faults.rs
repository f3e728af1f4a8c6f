//! What happens to a Services world during its fault phase, drawn from the seed before the run:
//! node faults (power-off, graceful stop, cut off from the API, slow watches) and churn of the
//! cluster's objects (Services created, deleted or re-addressed, endpoints moving).

use std::time::Duration;

use super::options::ServicesSimOptions;
use crate::sim::rng::{stream, Draw};

/// One thing that happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Happening {
    /// Power-off (addresses gone with the reboot); back after `duration`, or never when
    /// `permanent` (at most one node per run stays down, through the heal).
    Crash {
        /// Stays down for good.
        permanent: bool,
    },
    /// SIGTERM: withdraw, remove, release; restarted after `duration`.
    Stop,
    /// Cut off from the API: requests and answers lost, watches silent; re-lists after.
    Cut,
    /// The node's watch events take up to `extra` longer (beyond the handover delay, too).
    SlowWatch {
        /// Largest extra delay.
        extra: Duration,
    },
    /// The node's second interface goes away (its addresses with it) and comes back at the end.
    LinkGone,
    /// A Service is created.
    CreateService,
    /// A Service is deleted.
    DeleteService,
    /// A Service's address changes.
    Readdress,
    /// A Service's `kube-vip.io/serviceInterface` changes (none, `eth1`, or one no node has).
    Reinterface,
    /// A Service's ready endpoints move.
    MoveEndpoints,
}

impl Happening {
    /// Whether it targets a node (and lasts `duration`).
    pub fn is_node_fault(self) -> bool {
        matches!(
            self,
            Happening::Crash { .. }
                | Happening::Stop
                | Happening::Cut
                | Happening::SlowWatch { .. }
                | Happening::LinkGone
        )
    }
}

/// One planned happening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    /// True start time, ns.
    pub at: u64,
    /// How long a node fault lasts, ns.
    pub duration: u64,
    /// What.
    pub what: Happening,
    /// A draw that picks the node / Service / addresses when it happens.
    pub roll: u64,
}

/// Draws the schedule of `opts`.
pub fn schedule(opts: &ServicesSimOptions) -> Vec<Planned> {
    let mut r = stream(opts.seed, 12);
    let lease = ns(opts.timing.lease_duration);
    let gap = ns(opts.fault_gap);
    let end = ns(opts.fault_phase);
    let mut at = lease * 2;
    let mut out = Vec::new();
    while at < end {
        let (what, duration) = match r.below(100) {
            0..=11 => {
                let permanent = r.chance(120);
                (
                    Happening::Crash { permanent },
                    r.range(lease / 2, lease * 3),
                )
            }
            12..=19 => (Happening::Stop, r.range(lease / 2, lease * 2)),
            20..=33 => (Happening::Cut, r.range(lease / 10, lease * 2)),
            34..=39 => {
                let extra = Duration::from_millis(r.range(100, 4000));
                (
                    Happening::SlowWatch { extra },
                    r.range(lease / 2, lease * 2),
                )
            }
            40..=43 => (Happening::LinkGone, r.range(lease / 10, lease * 2)),
            44..=59 => (Happening::CreateService, 0),
            60..=69 => (Happening::DeleteService, 0),
            70..=75 => (Happening::Readdress, 0),
            76..=79 => (Happening::Reinterface, 0),
            _ => (Happening::MoveEndpoints, 0),
        };
        out.push(Planned {
            at,
            duration,
            what,
            roll: r.next_u64(),
        });
        at += r.range(gap / 4, gap * 7 / 4);
    }
    out
}

pub(crate) fn ns(d: Duration) -> u64 {
    d.as_nanos() as u64
}
