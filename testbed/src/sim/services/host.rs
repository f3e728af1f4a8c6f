//! One node of the Services world: its clock, its `ServicesNode` (absent while down), its
//! kernel's addresses, the state of its watches, and what the invariants need to know about it
//! (the objects it has received, the change events it is behind on, when it began announcing
//! each address and whether that ended a handover wait).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use kvip_core::service::{EndpointsView, ServiceEvent, ServiceKey, ServiceView, ServicesNode};

use crate::sim::clock::NodeClock;

/// One simulated node.
#[derive(Debug, Clone)]
pub struct SimHost {
    /// Node name.
    pub name: String,
    /// Its clocks.
    pub clock: NodeClock,
    /// The daemon, while it runs.
    pub core: Option<ServicesNode>,
    /// Bumped at every (re)start: answers to an older incarnation are dropped.
    pub incarnation: u64,
    /// Generation of the scheduled wake-up.
    pub wake_gen: u64,
    /// When it is scheduled to wake (true ns).
    pub wake_at: Option<u64>,
    /// Bumped whenever the watches break: events of an older generation are lost.
    pub watch_gen: u64,
    /// Whether the watches are connected (listed and delivering).
    pub watch_connected: bool,
    /// When its last watch event is due (events arrive in order).
    pub watch_last: u64,
    /// Cut off from the API.
    pub cut: bool,
    /// Extra watch delay while a slow-watch fault lasts, ns.
    pub slow_extra: u64,
    /// Down for good (a permanent power-off).
    pub permanent: bool,
    /// Whether its second interface is there.
    pub other_link_up: bool,
    /// Addresses its kernel has, with the interface each is on.
    pub kernel: BTreeSet<(String, IpAddr)>,
    /// Change events not yet received: id → emission time.
    pub behind: BTreeMap<u64, u64>,
    /// Per member, from the last renewal of it this node received: when that renewal runs out
    /// in true time (emitted + its duration) and in this node's view (received + duration). A
    /// renewal received late makes the node see the expiry late: it is behind on the expiry
    /// between the two.
    pub expiry_lag: BTreeMap<String, (u64, u64)>,
    /// Services as it last received them.
    pub seen_services: BTreeMap<ServiceKey, ServiceView>,
    /// Endpoints as it last received them.
    pub seen_endpoints: BTreeMap<ServiceKey, EndpointsView>,
    /// Addresses it announces: since when, and whether that ended a handover wait.
    pub announced: BTreeMap<IpAddr, (u64, bool)>,
    /// Groups waiting out the handover delay.
    pub waiting: BTreeSet<ServiceKey>,
    /// Addresses of groups that became announced at the end of a handover wait, by group:
    /// their announcement (once the add completes) ends a wait.
    pub after_wait: BTreeMap<IpAddr, ServiceKey>,
}

impl SimHost {
    /// A node that has not booted yet.
    pub fn new(name: String, clock: NodeClock) -> Self {
        SimHost {
            name,
            clock,
            core: None,
            incarnation: 0,
            wake_gen: 0,
            wake_at: None,
            watch_gen: 0,
            watch_connected: false,
            watch_last: 0,
            cut: false,
            slow_extra: 0,
            permanent: false,
            other_link_up: true,
            kernel: BTreeSet::new(),
            behind: BTreeMap::new(),
            expiry_lag: BTreeMap::new(),
            seen_services: BTreeMap::new(),
            seen_endpoints: BTreeMap::new(),
            announced: BTreeMap::new(),
            waiting: BTreeSet::new(),
            after_wait: BTreeMap::new(),
        }
    }

    /// The emission times of what it is behind on at `now`: change events not received, and
    /// member expiries it sees late, by its watch and by up to `timer_lateness` ns more (the
    /// timer that makes it see an expiry may be served that late).
    pub fn behind_at(&self, now: u64, timer_lateness: u64) -> Vec<u64> {
        let late = self
            .expiry_lag
            .values()
            .filter(|&&(truly, seen)| truly <= now && now < seen + timer_lateness)
            .map(|&(truly, _)| truly);
        self.behind.values().copied().chain(late).collect()
    }

    /// The daemon is gone (power-off, or a finished stop): forget its process state; with
    /// `reboot` the kernel's addresses go too.
    pub fn down(&mut self, reboot: bool) {
        self.core = None;
        self.incarnation += 1;
        self.wake_gen += 1;
        self.wake_at = None;
        self.watch_gen += 1;
        self.watch_connected = false;
        self.behind.clear();
        self.expiry_lag.clear();
        self.seen_services.clear();
        self.seen_endpoints.clear();
        self.announced.clear();
        self.waiting.clear();
        self.after_wait.clear();
        if reboot {
            self.kernel.clear();
        }
    }

    /// Notes a Services event of its daemon.
    pub fn note(&mut self, event: &ServiceEvent) {
        match event {
            ServiceEvent::HandoverWait(g) => {
                self.waiting.insert(g.clone());
            }
            ServiceEvent::Announcing(g) => {
                let waited = self.waiting.remove(g);
                let group = self
                    .core
                    .as_ref()
                    .and_then(|c| c.plan().groups.iter().find(|group| &group.id == g).cloned());
                if let Some(group) = group.filter(|_| waited) {
                    for a in group.addresses {
                        self.after_wait.insert(a, g.clone());
                    }
                }
            }
            ServiceEvent::Withdrawn(g) => {
                self.waiting.remove(g);
                self.after_wait.retain(|_, owner| owner != g);
            }
            ServiceEvent::Members(_) | ServiceEvent::ViewStale(_) => {}
        }
    }

    /// Addresses it announces now: its daemon announces them and its kernel has them.
    pub fn announcing_now(&self) -> BTreeSet<IpAddr> {
        let Some(core) = &self.core else {
            return BTreeSet::new();
        };
        core.announcing()
            .into_iter()
            .filter(|a| self.kernel.iter().any(|(_, k)| k == a))
            .collect()
    }

    /// The interfaces its kernel has `address` on.
    pub fn interfaces_with(&self, address: IpAddr) -> Vec<String> {
        self.kernel
            .iter()
            .filter(|(_, a)| *a == address)
            .map(|(link, _)| link.clone())
            .collect()
    }

    /// Whether its announcement of `address` ended a handover wait (an address that joins a
    /// group already announced, by a merge or a re-address, did not wait).
    pub fn waited_for(&self, address: IpAddr) -> bool {
        self.after_wait.contains_key(&address)
    }
}
