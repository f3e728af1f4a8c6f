//! A small deterministic world for several [`ServicesNode`]s: a Lease API with compare-and-swap,
//! watches delivered instantly (in order) to every live node, address operations that succeed,
//! status writes stored on the Service and echoed by its watch, and virtual time that jumps to
//! the next deadline. After every step it records any address announced by two live nodes.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

use kvip_core::service::model::ServiceKey;
use kvip_core::service::{
    ElectionMode, EndpointsView, NamedLease, ServiceEvent, ServiceProblem, ServiceView,
    ServicesInput, ServicesNode, ServicesOutput,
};
use kvip_core::{Instant, WatchEvent};

use super::config;
use super::lease_api::LeaseApi;

/// One node of the world.
pub struct Host {
    pub node: ServicesNode,
    pub alive: bool,
    /// Its Lease watch delivers nothing (a watch that died unnoticed).
    pub deaf: bool,
    /// Its API server is gone: Lease requests fail, watches are silent.
    pub cut: bool,
    pub(crate) pending: VecDeque<ServicesInput>,
}

/// The world.
pub struct Cluster {
    pub now: Instant,
    pub mode: ElectionMode,
    pub hosts: BTreeMap<String, Host>,
    pub(crate) leases: LeaseApi,
    pub services: BTreeMap<ServiceKey, ServiceView>,
    endpoints: BTreeMap<ServiceKey, EndpointsView>,
    /// Lease requests sent, by node.
    pub lease_requests: BTreeMap<String, usize>,
    pub status_writes: usize,
    /// Nodes that started a DHCP client, in order.
    pub dhcp_starts: Vec<String>,
    pub problems: Vec<(String, ServiceProblem)>,
    pub events: Vec<(Instant, String, ServiceEvent)>,
    /// (time, address, nodes) whenever two live nodes announced one address.
    pub overlaps: Vec<(Instant, IpAddr, Vec<String>)>,
}

impl Cluster {
    pub fn new(mode: ElectionMode) -> Self {
        Cluster {
            now: Instant::ZERO,
            mode,
            hosts: BTreeMap::new(),
            leases: LeaseApi::default(),
            services: BTreeMap::new(),
            endpoints: BTreeMap::new(),
            lease_requests: BTreeMap::new(),
            status_writes: 0,
            dhcp_starts: vec![],
            problems: vec![],
            events: vec![],
            overlaps: vec![],
        }
    }

    /// Starts (or restarts) `name`, with complete lists of everything.
    pub fn start(&mut self, name: &str) {
        let node = ServicesNode::new(config(name, self.mode.clone()), self.now).expect("config");
        let mut pending = VecDeque::new();
        pending.extend(self.lease_list(&node));
        let services = super::relist(self.services.values().cloned().collect());
        pending.extend(services.into_iter().map(ServicesInput::ServiceWatch));
        let endpoints = super::relist(self.endpoints.values().cloned().collect());
        pending.extend(endpoints.into_iter().map(ServicesInput::EndpointsWatch));
        let host = Host {
            node,
            alive: true,
            deaf: false,
            cut: false,
            pending,
        };
        self.hosts.insert(name.to_owned(), host);
        self.settle();
    }

    /// The Lease watch's (re)list for `node`.
    fn lease_list(&self, node: &ServicesNode) -> Vec<ServicesInput> {
        let seen: Vec<NamedLease> = self
            .leases
            .list()
            .into_iter()
            .filter(|l| watches(node, &l.name))
            .collect();
        let events = super::relist(seen);
        events.into_iter().map(ServicesInput::LeaseWatch).collect()
    }

    /// Makes `name`'s Lease watch silent (`true`) or reconnects it with a relist (`false`).
    pub fn set_deaf(&mut self, name: &str, deaf: bool) {
        let relist = match self.hosts.get(name) {
            Some(h) if !deaf => self.lease_list(&h.node),
            _ => vec![],
        };
        if let Some(h) = self.hosts.get_mut(name) {
            h.deaf = deaf;
            h.pending.extend(relist);
        }
        self.settle();
    }

    /// Cuts `name` off its API server (Lease requests fail, its Lease watch is silent).
    pub fn cut(&mut self, name: &str) {
        if let Some(h) = self.hosts.get_mut(name) {
            h.cut = true;
            h.deaf = true;
        }
    }

    /// Powers `name` off: no more inputs, outputs or timers.
    pub fn kill(&mut self, name: &str) {
        if let Some(h) = self.hosts.get_mut(name) {
            h.alive = false;
        }
    }

    /// Graceful stop of `name`; returns once it emitted `Stopped` (then it is dead).
    pub fn stop(&mut self, name: &str) {
        let now = self.now;
        if let Some(h) = self.hosts.get_mut(name) {
            h.node.shutdown(now);
        }
        self.settle();
        assert!(self.hosts[name].node.is_stopped(), "{name} did not stop");
        self.kill(name);
    }

    pub fn apply_service(&mut self, view: ServiceView) {
        self.services.insert(view.key.clone(), view.clone());
        self.broadcast(|_| Some(ServicesInput::ServiceWatch(WatchEvent::Apply(view.clone()))));
        self.settle();
    }

    pub fn delete_service(&mut self, key: &ServiceKey) {
        if let Some(view) = self.services.remove(key) {
            self.broadcast(|_| {
                Some(ServicesInput::ServiceWatch(WatchEvent::Delete(
                    view.clone(),
                )))
            });
        }
        self.settle();
    }

    pub fn apply_endpoints(&mut self, e: EndpointsView) {
        self.endpoints.insert(e.key.clone(), e.clone());
        self.broadcast(|_| Some(ServicesInput::EndpointsWatch(WatchEvent::Apply(e.clone()))));
        self.settle();
    }

    /// Live nodes announcing `address`.
    pub fn announcers(&self, address: IpAddr) -> Vec<String> {
        self.hosts
            .iter()
            .filter(|(_, h)| h.alive && h.node.announcing().contains(&address))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Runs every timer due up to `until`, then sets the clock to `until`.
    pub fn run_until(&mut self, until: Instant) {
        for _ in 0..1_000_000 {
            let next = self
                .hosts
                .values()
                .filter(|h| h.alive)
                .filter_map(|h| h.node.poll_timeout())
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    for h in self.hosts.values_mut().filter(|h| h.alive) {
                        if h.node.poll_timeout().is_some_and(|t| t <= now) {
                            h.node.handle_timeout(now);
                        }
                    }
                    self.settle();
                }
                _ => {
                    self.now = self.now.max(until);
                    return;
                }
            }
        }
        panic!("timers did not settle before {until}");
    }

    pub(crate) fn broadcast(
        &mut self,
        mut make: impl FnMut(&ServicesNode) -> Option<ServicesInput>,
    ) {
        for h in self.hosts.values_mut().filter(|h| h.alive) {
            if let Some(i) = make(&h.node) {
                h.pending.push_back(i);
            }
        }
    }

    /// Delivers outputs and inputs until nothing moves.
    pub fn settle(&mut self) {
        for _ in 0..10_000_000 {
            let mut moved = false;
            let names: Vec<String> = self.hosts.keys().cloned().collect();
            for name in &names {
                let outputs: Vec<ServicesOutput> = match self.hosts.get_mut(name) {
                    Some(h) if h.alive => std::iter::from_fn(|| h.node.poll_output()).collect(),
                    _ => continue,
                };
                for o in outputs {
                    moved = true;
                    self.act(name, o);
                }
            }
            let now = self.now;
            for h in self.hosts.values_mut().filter(|h| h.alive) {
                if let Some(i) = h.pending.pop_front() {
                    moved = true;
                    h.node.handle_input(now, i);
                }
            }
            if !moved {
                self.check_overlaps();
                return;
            }
        }
        panic!("the world did not settle");
    }

    fn check_overlaps(&mut self) {
        let mut by_address: BTreeMap<IpAddr, Vec<String>> = BTreeMap::new();
        for (n, h) in self.hosts.iter().filter(|(_, h)| h.alive) {
            for a in h.node.announcing() {
                by_address.entry(a).or_default().push(n.clone());
            }
        }
        for (a, nodes) in by_address.into_iter().filter(|(_, n)| n.len() > 1) {
            self.overlaps.push((self.now, a, nodes));
        }
    }

    /// Sum of lease requests over all nodes.
    pub fn total_lease_requests(&self) -> usize {
        self.lease_requests.values().sum()
    }
}

/// Whether `node`'s Lease watch covers the Lease called `name`.
pub(crate) fn watches(node: &ServicesNode, name: &str) -> bool {
    let w = node.lease_watch();
    w.name.as_deref() == Some(name) || w.prefix.as_deref().is_some_and(|p| name.starts_with(p))
}
