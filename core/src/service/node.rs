//! The [`ServicesNode`]: LoadBalancer Services on one node, driven by a single loop exactly like
//! the control-plane [`crate::Node`]. It owns the Service/endpoint stores, the plan, one elector
//! (global Lease or own membership Lease), the handover state, a VIP manager over a changing set
//! of addresses, the DHCP clients' bookkeeping and the status writer; [`super::reconcile`] ties
//! them together after every fact.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use super::announcer::{Announcer, LeaseWatchSpec, Standing};
use super::catalog::{shared, Store};
use super::config::{ServicesConfig, ServicesConfigError};
use super::dhcp::DhcpClients;
use super::handover::Handover;
use super::io::{ServiceProblem, ServicesInput, ServicesOutput};
use super::links::Links;
use super::model::{EndpointsView, ServiceKey, ServiceView};
use super::plan::Plan;
use super::queue::Queue;
use super::status::StatusWriter;
use crate::config::LeaseRef;
use crate::defects::Defect;
use crate::election::ElectorConfig;
use crate::io::{Event, WatchEvent};
use crate::time::Instant;

/// The last per-service assignment and what it was computed from.
#[derive(Debug, Clone)]
pub(super) struct Assigned {
    pub(super) plan_version: u64,
    pub(super) live: BTreeSet<String>,
    pub(super) map: BTreeMap<ServiceKey, String>,
}

/// The LoadBalancer Services state machine of one node.
///
/// Methods come in four kinds, in this order:
/// 1. `handle_*` take a fact ([`ServicesNode::handle_input`], [`ServicesNode::handle_timeout`]);
/// 2. `poll_*` hand out work ([`ServicesNode::poll_output`], [`ServicesNode::poll_timeout`]);
/// 3. getters only read ([`ServicesNode::lease_watch`], [`ServicesNode::announcing`], …);
/// 4. verbs are commands ([`ServicesNode::shutdown`]).
///
/// After any `handle_*` or verb, drain `poll_output` until `None`, then sleep until
/// `poll_timeout()` and call `handle_timeout` with the time then.
#[derive(Debug, Clone)]
pub struct ServicesNode {
    pub(super) cfg: ServicesConfig,
    pub(super) announcer: Announcer,
    pub(super) links: Links,
    pub(super) services: Store<Arc<ServiceView>>,
    pub(super) endpoints: Store<EndpointsView>,
    pub(super) plan: Plan,
    pub(super) plan_stale: bool,
    pub(super) plan_version: u64,
    /// Everything must be re-derived (ownership, addresses, DHCP, status, problems).
    pub(super) dirty: bool,
    /// Services whose status must be re-derived (an address op completed, a write answered…).
    pub(super) status_keys: BTreeSet<ServiceKey>,
    /// What the announcer allowed when ownership was last derived.
    pub(super) last_standing: Standing,
    pub(super) assigned: Option<Assigned>,
    pub(super) view_fresh: bool,
    /// The membership view held an unconfirmed member when ownership was last derived.
    pub(super) unconfirmed: bool,
    pub(super) handover: Handover,
    pub(super) active: BTreeSet<ServiceKey>,
    pub(super) serving: BTreeSet<ServiceKey>,
    pub(super) dhcp: DhcpClients,
    pub(super) status: StatusWriter,
    pub(super) reported: BTreeSet<ServiceProblem>,
    pub(super) queue: Queue,
    pub(super) wake_at: Option<Instant>,
    pub(super) stopping: bool,
    pub(super) stopped: bool,
}

impl ServicesNode {
    /// A node that makes its first Lease attempt at `now`.
    pub fn new(cfg: ServicesConfig, now: Instant) -> Result<ServicesNode, ServicesConfigError> {
        let timing = cfg.timing.validate()?;
        if cfg.node_name.is_empty() {
            return Err(ServicesConfigError::NoIdentity);
        }
        let elector = ElectorConfig {
            identity: cfg.node_name.clone(),
            timing,
            seed: cfg.seed,
            wall: cfg.wall,
            defects: cfg.defects.clone(),
        };
        let announcer = Announcer::new(&cfg.mode, elector, now);
        let links = Links::new(
            cfg.mac,
            cfg.links.clone(),
            cfg.arp_rate,
            cfg.defects.clone(),
        );
        let queue = Queue::new(announcer.lease().clone());
        let view_fresh = announcer.view_fresh(now);
        let mut node = ServicesNode {
            cfg,
            announcer,
            links,
            services: Store::default(),
            endpoints: Store::default(),
            plan: Plan::default(),
            plan_stale: false,
            plan_version: 0,
            dirty: true,
            status_keys: BTreeSet::new(),
            last_standing: Standing::Nothing,
            assigned: None,
            view_fresh,
            unconfirmed: false,
            handover: Handover::default(),
            active: BTreeSet::new(),
            serving: BTreeSet::new(),
            dhcp: DhcpClients::default(),
            status: StatusWriter::default(),
            reported: BTreeSet::new(),
            queue,
            wake_at: None,
            stopping: false,
            stopped: false,
        };
        node.handle_timeout(now);
        Ok(node)
    }

    /// Takes one fact.
    pub fn handle_input(&mut self, now: Instant, input: ServicesInput) {
        self.fence(now);
        let out = &mut self.queue.core;
        self.announcer.elector().expire(now, out);
        match input {
            ServicesInput::ServiceWatch(event) => {
                let event = shared(event);
                let refreshed = match &event {
                    WatchEvent::Apply(view) => {
                        self.plan.refresh_view(view).then(|| view.key.clone())
                    }
                    _ => None,
                };
                let changed = self.services.handle(event);
                match refreshed {
                    Some(key) => {
                        self.status_keys.insert(key);
                    }
                    None => self.plan_stale |= changed,
                }
            }
            ServicesInput::EndpointsWatch(WatchEvent::Apply(_) | WatchEvent::Delete(_))
                if self.cfg.defects.has(Defect::ServicesIgnoreEndpointChanges) => {}
            ServicesInput::EndpointsWatch(event) => self.plan_stale |= self.endpoints.handle(event),
            ServicesInput::LeaseWatch(event) => self.announcer.handle_watch(now, event, out),
            ServicesInput::LeaseResponse { op, result } => {
                self.announcer.handle_response(now, op, result, out)
            }
            ServicesInput::AddressDone { op, result } => {
                match self.links.handle_done_at(now, op, result, out) {
                    Some(address) => self.address_changed(address),
                    None => out.event(Event::Ignored("unknown address operation")),
                }
            }
            ServicesInput::AddressObserved {
                address,
                present,
                link,
            } => {
                self.links
                    .handle_observed(link.as_deref(), address, present, out);
                self.address_changed(address);
            }
            ServicesInput::LinksChanged { links } => {
                if links != self.cfg.links {
                    for address in self.links.set_macs(links.clone(), out) {
                        self.address_changed(address);
                    }
                    self.cfg.links = links;
                    self.plan_stale = true;
                }
            }
            ServicesInput::LinkChanged { up, link } => {
                if up {
                    self.links.reannounce(link.as_deref(), now);
                }
            }
            ServicesInput::StatusWritten { op, result } => {
                match self.status.handle_result(now, op, &result) {
                    Some(key) => {
                        self.status_keys.insert(key);
                    }
                    None => out.event(Event::Ignored("unknown status write")),
                }
            }
            ServicesInput::DhcpLease {
                key,
                family,
                binding,
            } => {
                if !self.dhcp.handle_lease(&(key, family), binding) {
                    out.event(Event::Ignored("DHCP lease of a client not running"));
                }
                self.dirty = true;
            }
        }
        self.announcer.elector().drive(now, &mut self.queue.core);
        if self.cfg.defects.has(Defect::ServicesForwardOnlyWake)
            && self.wake_at.is_some_and(|t| t <= now)
        {
            self.dirty = true;
        }
        self.notice_standing(now);
        self.settle(now);
    }

    /// Runs whatever is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.fence(now);
        self.announcer
            .elector()
            .handle_timeout(now, &mut self.queue.core);
        self.notice_standing(now);
        self.settle(now);
    }

    /// The next piece of work, if any.
    pub fn poll_output(&mut self) -> Option<ServicesOutput> {
        self.queue.pop()
    }

    /// When [`ServicesNode::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.announcer.poll_timeout(),
            self.links.poll_timeout(),
            self.wake_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The Leases the runtime must watch (and hand in as [`ServicesInput::LeaseWatch`]).
    pub fn lease_watch(&self) -> LeaseWatchSpec {
        self.announcer.watch_spec()
    }

    /// The Lease this node writes (global Lease, or its own membership Lease).
    pub fn lease(&self) -> &LeaseRef {
        self.announcer.lease()
    }

    /// Whether the elector holds its Lease: global leader, or membership renewed (not fenced).
    pub fn is_holding(&self) -> bool {
        self.announcer.holds()
    }

    /// The current plan (our Services, their addresses, groups and problems).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The last per-service assignment (group → node), if one is in force.
    pub fn assignment(&self) -> Option<&BTreeMap<ServiceKey, String>> {
        self.assigned.as_ref().map(|a| &a.map)
    }

    /// The live members the assignment was computed over (self included), per-service mode.
    pub fn members(&self) -> Option<&BTreeSet<String>> {
        self.assigned.as_ref().map(|a| &a.live)
    }

    /// Whether this node owns `group` (announced, or waiting out the handover delay).
    pub fn owns(&self, group: &ServiceKey) -> bool {
        self.handover.owns(group)
    }

    /// Groups (by id) announced from here.
    pub fn active_groups(&self) -> &BTreeSet<ServiceKey> {
        &self.active
    }

    /// Services announced from here.
    pub fn serving(&self) -> &BTreeSet<ServiceKey> {
        &self.serving
    }

    /// Addresses being announced from here (leased ones by their DHCP clients' macvlans).
    pub fn announcing(&self) -> BTreeSet<IpAddr> {
        let leased = self
            .dhcp
            .leased()
            .filter(|((key, _), _)| self.serving.contains(key))
            .map(|(_, address)| address);
        self.links.announcing().chain(leased).collect()
    }

    /// Addresses configured here (add completed, still wanted).
    pub fn configured(&self) -> BTreeSet<IpAddr> {
        self.links.configured().collect()
    }

    /// Whether shutdown has finished ([`ServicesOutput::Stopped`] was emitted).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Starts a graceful shutdown: stop announcing, remove every address, stop the DHCP clients,
    /// then release the Lease. [`ServicesOutput::Stopped`] follows.
    pub fn shutdown(&mut self, now: Instant) {
        self.stopping = true;
        self.announcer.elector().stop();
        self.dirty = true;
        self.settle(now);
    }
}
