//! The properties the simulator checks after every step, one file each, and the typed
//! [`Violation`] each reports. A "holder" is a node whose kernel has the VIP configured *and*
//! which has announced it since the address was added.

pub mod announce_after_add;
pub mod handover;
pub mod liveness;
pub mod neighbour_convergence;
pub mod single_holder;
pub mod withdraw_before_release;

use std::fmt;

use kvip_core::wire::MacAddr;

/// A broken invariant, with the true time (ns) it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// Two nodes had the VIP configured and announced at the same instant.
    TwoHolders {
        /// When.
        at: u64,
        /// The holders.
        nodes: Vec<usize>,
    },
    /// A node released the lease while its VIP was still configured.
    ReleasedWhileHolding {
        /// When the API server applied the release.
        at: u64,
        /// The releasing node.
        node: usize,
    },
    /// A node announced an address its kernel did not have.
    AnnouncedWithoutAddress {
        /// When.
        at: u64,
        /// The node.
        node: usize,
    },
    /// The client's neighbour entry did not follow the holder.
    NeighbourStale {
        /// When.
        at: u64,
        /// The holder.
        holder: usize,
        /// The client's entry.
        entry: Option<MacAddr>,
    },
    /// After the faults healed, no node held and announced the VIP in time.
    NoHolderAfterHeal {
        /// When it was checked.
        at: u64,
        /// Holders seen then.
        holders: Vec<usize>,
    },
    /// The world took more steps than a bounded run may: something spins without time passing.
    Livelock {
        /// When the step cap was hit.
        at: u64,
        /// Steps taken.
        steps: u64,
    },
    /// A released lease was not taken over quickly in a quiet world.
    SlowHandover {
        /// When it was checked.
        at: u64,
        /// When the release was applied.
        released_at: u64,
    },
}

impl Violation {
    /// The invariant's name.
    pub fn name(&self) -> &'static str {
        match self {
            Violation::TwoHolders { .. } => "single-holder",
            Violation::ReleasedWhileHolding { .. } => "withdraw-before-release",
            Violation::AnnouncedWithoutAddress { .. } => "announce-after-add",
            Violation::NeighbourStale { .. } => "neighbour-convergence",
            Violation::NoHolderAfterHeal { .. } => "liveness",
            Violation::SlowHandover { .. } => "handover",
            Violation::Livelock { .. } => "bounded-steps",
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |ns: &u64| *ns as f64 / 1e6;
        match self {
            Violation::TwoHolders { at, nodes } => {
                write!(f, "single-holder: nodes {nodes:?} both hold and announce the VIP at {:.3}ms", ms(at))
            }
            Violation::ReleasedWhileHolding { at, node } => {
                write!(f, "withdraw-before-release: node {node} released the lease at {:.3}ms with the VIP still configured", ms(at))
            }
            Violation::AnnouncedWithoutAddress { at, node } => {
                write!(f, "announce-after-add: node {node} announced at {:.3}ms without the address configured", ms(at))
            }
            Violation::NeighbourStale { at, holder, entry } => write!(
                f,
                "neighbour-convergence: at {:.3}ms the client's entry is {} but node {holder} holds the VIP",
                ms(at),
                entry.map_or("empty".to_string(), |m| m.to_string())
            ),
            Violation::NoHolderAfterHeal { at, holders } => {
                write!(f, "liveness: at {:.3}ms, leaseDuration + 2×retryPeriod after the faults healed, holders are {holders:?}", ms(at))
            }
            Violation::Livelock { at, steps } => {
                write!(f, "bounded-steps: {steps} steps by {:.3}ms: livelock", ms(at))
            }
            Violation::SlowHandover { at, released_at } => write!(
                f,
                "handover: lease released at {:.3}ms in a quiet world, nobody holds the VIP at {:.3}ms",
                ms(released_at),
                ms(at)
            ),
        }
    }
}
