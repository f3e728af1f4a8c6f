//! The properties the Services simulator checks, and the typed [`ServicesViolation`] each
//! reports. A node *announces* an address when its core reports it announcing **and** its
//! (simulated) kernel has it configured.
//!
//! - `one_announcer` (after every step). **Global mode: strict**, an address is never announced
//!   by two nodes: only the leader announces; a cut-off leader fences itself `renewDeadline`
//!   after it *sent* its last successful renew, and nobody can take the Lease before
//!   `leaseDuration` has passed since observing that renew (client-go's rule; clock drift is far
//!   below the gap); a graceful leader removes its addresses before releasing.
//!   **Per-service mode**: each node acts on its own view of the members, Services and endpoints,
//!   and views lag (watch latency). Two nodes may announce one address at once only while one of
//!   them is *behind*: it has not yet received a change event (a Service or endpoints change, or
//!   any Lease write: even a plain renew revives a member that a lagging view had expired; not a
//!   status write) that the API emitted at or before
//!   `s - d` for one of the two, where `s` is when that node began announcing it and `d` is the
//!   handover delay if that node waited one out (its gain came from a live member) and zero if
//!   it took the group at once (new, unassigned, from an expired member, or from one it saw lose
//!   its eligibility). Either order matters: a node may take a Local group at once when it sees
//!   the owner lose its endpoints, while the owner, which has not seen that change, finishes a
//!   handover wait it began earlier and announces too (per-service seed 933). A cut-off node is
//!   behind on every change it missed until its re-list arrives. A node that received a member's
//!   last renewal late sees that member expire late by as much: it is behind on the expiry from
//!   (renewal emitted + leaseDuration) until (renewal received + leaseDuration), and its
//!   timers may be served late by up to the seed's timer lateness, so until that much later
//!   (per-service seed 1324). So a handover from a live member only overlaps when a view
//!   lagged by more than the handover delay, which is exactly the design's claim.
//! - `local_policy` (after every step, so after every input each node processes): a node never
//!   announces an address all of whose users, in the view it has *received*, are Local-policy
//!   Services without a ready endpoint on it. It must withdraw while processing the endpoints
//!   event that removes its last one.
//! - `eventually_announced` (once, a bound after the faults healed and churn stopped): every
//!   address some Service wants is announced by exactly one live node, an eligible one (any node
//!   for Cluster policy, one with a ready endpoint for Local), when one is eligible; in global
//!   mode "eligible" also means "the Lease's holder", which must be a live node. Nothing else
//!   is announced. And the announcer holds it on the interface its Services name in
//!   `kube-vip.io/serviceInterface` (the Services interface when they name none, or one the
//!   node lacks), and on no other (`on_named_interface`, where its Services agree on one).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use super::objects::Wanted;
use super::options::Mode;

/// A broken invariant, with the true time (ns) it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServicesViolation {
    /// Two nodes announced one address outside a handover window.
    TwoAnnouncers {
        /// When.
        at: u64,
        /// The address.
        address: IpAddr,
        /// The announcers.
        nodes: Vec<String>,
    },
    /// A node announced a Local-policy address without a ready local endpoint.
    LocalWithoutEndpoint {
        /// When.
        at: u64,
        /// The address.
        address: IpAddr,
        /// The node.
        node: String,
    },
    /// After the heal, an address was not announced by exactly one eligible node.
    NotAnnounced {
        /// When.
        at: u64,
        /// The address.
        address: IpAddr,
        /// Who announces it.
        announcers: Vec<String>,
        /// Who may (empty: nobody should).
        eligible: Vec<String>,
    },
    /// After the heal, an address was held on other interfaces than the one its Services name.
    WrongInterface {
        /// When.
        at: u64,
        /// The address.
        address: IpAddr,
        /// The announcer.
        node: String,
        /// The interfaces it holds the address on.
        on: Vec<String>,
        /// The interface its Services name.
        want: String,
    },
    /// Too many steps: something spins without time passing.
    Livelock {
        /// When.
        at: u64,
        /// Steps taken.
        steps: u64,
    },
}

impl ServicesViolation {
    /// The invariant's name.
    pub fn name(&self) -> &'static str {
        match self {
            ServicesViolation::TwoAnnouncers { .. } => "one_announcer",
            ServicesViolation::LocalWithoutEndpoint { .. } => "local_policy",
            ServicesViolation::NotAnnounced { .. } => "eventually_announced",
            ServicesViolation::WrongInterface { .. } => "on_named_interface",
            ServicesViolation::Livelock { .. } => "bounded_steps",
        }
    }
}

impl fmt::Display for ServicesViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |ns: &u64| *ns as f64 / 1e6;
        match self {
            ServicesViolation::TwoAnnouncers { at, address, nodes } => write!(
                f,
                "one_announcer: {nodes:?} announce {address} at {:.3}ms",
                ms(at)
            ),
            ServicesViolation::LocalWithoutEndpoint { at, address, node } => write!(
                f,
                "local_policy: {node} announces {address} at {:.3}ms without a ready endpoint",
                ms(at)
            ),
            ServicesViolation::NotAnnounced {
                at,
                address,
                announcers,
                eligible,
            } => write!(
                f,
                "eventually_announced: at {:.3}ms {address} is announced by {announcers:?}, \
                 eligible {eligible:?}",
                ms(at)
            ),
            ServicesViolation::WrongInterface {
                at,
                address,
                node,
                on,
                want,
            } => write!(
                f,
                "on_named_interface: at {:.3}ms {node} holds {address} on {on:?}, its Services \
                 name {want}",
                ms(at)
            ),
            ServicesViolation::Livelock { at, steps } => {
                write!(f, "bounded_steps: {steps} steps by {:.3}ms", ms(at))
            }
        }
    }
}

/// One node announcing one address, as `one_announcer` needs to judge it.
#[derive(Debug, Clone)]
pub struct Announcer {
    /// The node.
    pub node: String,
    /// When it began announcing the address (true ns).
    pub since: u64,
    /// Whether its gain of the address's group waited out the handover delay.
    pub waited: bool,
    /// Emission times of the change events it has not received yet.
    pub behind: Vec<u64>,
}

/// `one_announcer` for one address.
pub fn one_announcer(
    now: u64,
    mode: Mode,
    handover_ns: u64,
    address: IpAddr,
    announcers: &[Announcer],
) -> Result<(), ServicesViolation> {
    let violation = || ServicesViolation::TwoAnnouncers {
        at: now,
        address,
        nodes: announcers.iter().map(|a| a.node.clone()).collect(),
    };
    if announcers.len() < 2 {
        return Ok(());
    }
    if mode == Mode::Global {
        return Err(violation());
    }
    // When `n` decided to announce, as far as the changes it acted on go: its start, less the
    // handover delay if it waited one out.
    let decided = |n: &Announcer| n.since.checked_sub(if n.waited { handover_ns } else { 0 });
    for (i, a) in announcers.iter().enumerate() {
        for b in &announcers[i + 1..] {
            let lagging_at =
                |cutoff: u64| [a, b].iter().any(|n| n.behind.iter().any(|&e| e <= cutoff));
            let excused = [a, b].iter().filter_map(|n| decided(n)).any(lagging_at);
            if !excused {
                return Err(violation());
            }
        }
    }
    Ok(())
}

/// One Service as a node last received it: its address, whether it is Local, whether the node
/// had a ready endpoint of it.
#[derive(Debug, Clone, Copy)]
pub struct SeenUser {
    /// `externalTrafficPolicy: Local`.
    pub local: bool,
    /// A ready endpoint on this node.
    pub ready_here: bool,
}

/// `local_policy` for one node announcing `address`, used by `users` in its received view.
pub fn local_policy(
    now: u64,
    node: &str,
    address: IpAddr,
    users: &[SeenUser],
) -> Result<(), ServicesViolation> {
    let local_only = !users.is_empty() && users.iter().all(|u| u.local);
    if local_only && !users.iter().any(|u| u.ready_here) {
        return Err(ServicesViolation::LocalWithoutEndpoint {
            at: now,
            address,
            node: node.to_owned(),
        });
    }
    Ok(())
}

/// `eventually_announced` over the whole world: `wanted` from the stored objects, who announces
/// what, the live nodes, and in global mode the Lease's holder.
pub fn eventually_announced(
    now: u64,
    wanted: &BTreeMap<IpAddr, Wanted>,
    announcers: &BTreeMap<IpAddr, Vec<String>>,
    live: &BTreeSet<String>,
    global_holder: Option<Option<&str>>,
) -> Vec<ServicesViolation> {
    let mut out = vec![];
    let addresses: BTreeSet<IpAddr> = wanted.keys().chain(announcers.keys()).copied().collect();
    for address in addresses {
        let mut eligible: BTreeSet<String> = match wanted.get(&address) {
            None => BTreeSet::new(),
            Some(Wanted::Anywhere) => live.clone(),
            Some(Wanted::OnlyOn(nodes)) => nodes.intersection(live).cloned().collect(),
        };
        if let Some(Some(holder)) = global_holder.filter(|h| h.is_some_and(|h| live.contains(h))) {
            eligible.retain(|n| n == holder);
        }
        let by: Vec<String> = announcers.get(&address).cloned().unwrap_or_default();
        let ok = match eligible.is_empty() {
            true => by.is_empty(),
            false => by.len() == 1 && eligible.contains(&by[0]),
        };
        if !ok {
            out.push(ServicesViolation::NotAnnounced {
                at: now,
                address,
                announcers: by,
                eligible: eligible.into_iter().collect(),
            });
        }
    }
    out
}

/// `on_named_interface` for one announced address: `on` the interfaces `node` holds it on,
/// `want` the one its Services name.
pub fn on_named_interface(
    now: u64,
    node: &str,
    address: IpAddr,
    on: &[String],
    want: &str,
) -> Result<(), ServicesViolation> {
    if on.len() == 1 && on[0] == want {
        return Ok(());
    }
    Err(ServicesViolation::WrongInterface {
        at: now,
        address,
        node: node.to_owned(),
        on: on.to_vec(),
        want: want.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcer(node: &str, since_ms: u64, waited: bool, behind_ms: &[u64]) -> Announcer {
        Announcer {
            node: node.to_owned(),
            since: since_ms * 1_000_000,
            waited,
            behind: behind_ms.iter().map(|ms| ms * 1_000_000).collect(),
        }
    }

    const HANDOVER: u64 = 2_000_000_000;
    const ADDRESS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 1, 5));

    /// Seed 933: node-2 takes the group at once at 20183 ms on an endpoints change emitted at
    /// 19630 ms; node-0, which has not received it, announces at 21512 ms after a wait begun at
    /// 19512 ms. Excused by node-0's lag on a change emitted before node-2 decided.
    #[test]
    fn a_lagging_view_excuses_the_overlap_from_either_nodes_decision() {
        let at_once = announcer("node-2", 20_183, false, &[]);
        let waited = announcer("node-0", 21_512, true, &[19_630]);
        let both = [at_once.clone(), waited];
        assert!(one_announcer(0, Mode::PerService, HANDOVER, ADDRESS, &both).is_ok());
        // Nobody behind: a violation, and in global mode always.
        let up_to_date = announcer("node-0", 21_512, true, &[]);
        let both = [at_once.clone(), up_to_date];
        assert!(one_announcer(0, Mode::PerService, HANDOVER, ADDRESS, &both).is_err());
        // Behind only on changes emitted after both decided: a violation.
        let late_lag = announcer("node-0", 21_512, true, &[21_000]);
        let both = [at_once, late_lag];
        assert!(one_announcer(0, Mode::PerService, HANDOVER, ADDRESS, &both).is_err());
    }
}
