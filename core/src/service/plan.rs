//! The plan: from the watched Services and endpoints, which Services are ours, the addresses each
//! keeps, the problems to report, and the *groups* — Services tied together by a shared address
//! (transitively), which must be announced from one node. A group is the unit of assignment:
//! every node computes the same groups from the same view.
//!
//! A group may be announced from any node when one of its Services has `externalTrafficPolicy:
//! Cluster`; otherwise only from nodes with a ready local endpoint of one of its Services.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use super::addresses::{parse_addresses, DhcpFamily, WantedAddress};
use super::catalog::Store;
use super::io::{ProblemKind, ServiceProblem};
use super::matching::{is_ours, ClassRules};
use super::model::{
    EndpointsView, ServiceKey, ServicePort, ServiceView, TrafficPolicy, ANNOTATION_HWADDR,
    ANNOTATION_REQUESTED_IP, ANNOTATION_SERVICE_INTERFACE, ANNOTATION_VIP_HOST,
};
use super::sharing::{share, Claimant};
use crate::wire::MacAddr;

/// One Service of ours, as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedService {
    /// The Service as last seen.
    pub view: Arc<ServiceView>,
    /// The static addresses it keeps (after sharing), in its order.
    pub statics: Vec<IpAddr>,
    /// The DHCP families it asks for.
    pub dhcp: Vec<DhcpFamily>,
    /// `externalTrafficPolicy: Local`.
    pub local: bool,
    /// Nodes with a ready endpoint (read for Local policy only).
    pub ready_nodes: BTreeSet<String>,
    /// The interface its static addresses go on (`kube-vip.io/serviceInterface`, when this
    /// node has it); `None`: the Services interface.
    pub link: Option<String>,
}

impl PlannedService {
    /// Whether it wants any address at all.
    pub fn wants_address(&self) -> bool {
        !self.statics.is_empty() || !self.dhcp.is_empty()
    }

    /// Whether it may be announced from `node`.
    pub fn servable_from(&self, node: &str) -> bool {
        !self.local || self.ready_nodes.contains(node)
    }

    /// Its ports.
    pub fn ports(&self) -> &[ServicePort] {
        &self.view.ports
    }
}

/// Which nodes may announce a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eligibility {
    /// Any node (a Service of the group has Cluster policy).
    Any,
    /// Only these (nodes with a ready local endpoint).
    Nodes(BTreeSet<String>),
}

impl Eligibility {
    /// Whether `node` may announce the group.
    pub fn allows(&self, node: &str) -> bool {
        match self {
            Eligibility::Any => true,
            Eligibility::Nodes(nodes) => nodes.contains(node),
        }
    }
}

/// Services that must be announced together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The smallest key among its Services: its name in the assignment.
    pub id: ServiceKey,
    /// Its Services, by key.
    pub services: Vec<ServiceKey>,
    /// Its static addresses.
    pub addresses: BTreeSet<IpAddr>,
    /// Who may announce it.
    pub eligible: Eligibility,
}

/// Everything derived from the watched objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Our Services, by key.
    pub services: BTreeMap<ServiceKey, PlannedService>,
    /// Groups of Services that want an address, by id.
    pub groups: Vec<Group>,
    /// Problems, by Service.
    pub problems: BTreeMap<ServiceKey, Vec<ServiceProblem>>,
    /// The Services keeping each static address.
    pub users: BTreeMap<IpAddr, Vec<ServiceKey>>,
}

impl Plan {
    /// Derives the plan; `interfaces` says which interfaces this node has.
    pub fn build(
        services: &Store<Arc<ServiceView>>,
        endpoints: &Store<EndpointsView>,
        rules: &ClassRules,
        interfaces: &Interfaces<'_>,
    ) -> Plan {
        let mut plan = Plan::default();
        for view in services.iter().filter(|v| is_ours(v, rules)) {
            let view = Arc::clone(view);
            let link = match interfaces.link_of(&view) {
                Ok(link) => link,
                Err(message) => {
                    plan.report(&view, ProblemKind::UnknownInterface, message);
                    None
                }
            };
            let parsed = parse_addresses(&view);
            for p in parsed.problems {
                plan.report(&view, ProblemKind::InvalidAddress, p.to_string());
            }
            let mut statics = vec![];
            let mut dhcp = vec![];
            for w in parsed.wanted {
                match w {
                    WantedAddress::Static(ip) => statics.push(ip),
                    WantedAddress::Dhcp(family) => dhcp.push(family),
                }
            }
            let local = view.traffic_policy == TrafficPolicy::Local;
            let ready_nodes = endpoints
                .get(&view.key)
                .filter(|_| local)
                .map(|e| e.ready_nodes.clone())
                .unwrap_or_default();
            let key = view.key.clone();
            let planned = PlannedService {
                view,
                statics,
                dhcp,
                local,
                ready_nodes,
                link,
            };
            plan.services.insert(key, planned);
        }
        plan.share_addresses();
        plan.groups = group(&plan.services);
        for s in plan.services.values() {
            for &ip in &s.statics {
                plan.users.entry(ip).or_default().push(s.view.key.clone());
            }
        }
        plan
    }

    /// Takes a new version of a planned Service in place when it differs only in what kvip
    /// itself writes (status, `vipHost`, DHCP annotations) and no port clash is being decided
    /// (the stored status breaks clash ties); `false` when the plan must be rebuilt instead.
    pub fn refresh_view(&mut self, view: &Arc<ServiceView>) -> bool {
        let clashing = self
            .problems
            .values()
            .flatten()
            .any(|p| p.kind == ProblemKind::PortClash);
        match self.services.get_mut(&view.key) {
            Some(s) if !clashing && same_plan_inputs(&s.view, view) => {
                s.view = Arc::clone(view);
                true
            }
            _ => false,
        }
    }

    fn report(&mut self, view: &ServiceView, kind: ProblemKind, message: String) {
        self.problems
            .entry(view.key.clone())
            .or_default()
            .push(ServiceProblem {
                key: view.key.clone(),
                uid: view.uid.clone(),
                kind,
                message,
            });
    }

    fn share_addresses(&mut self) {
        let claimants: Vec<Claimant<'_>> = self
            .services
            .values()
            .map(|s| Claimant {
                key: &s.view.key,
                addresses: &s.statics,
                ports: &s.view.ports,
                status: &s.view.status_ingress,
            })
            .collect();
        let sharing = share(&claimants);
        for clash in sharing.clashes {
            if let Some(view) = self
                .services
                .get(&clash.service)
                .map(|s| Arc::clone(&s.view))
            {
                self.report(&view, ProblemKind::PortClash, clash.to_string());
            }
        }
        for (key, kept) in sharing.kept {
            if let Some(s) = self.services.get_mut(&key) {
                s.statics = kept;
            }
        }
    }
}

/// Whether two versions of a Service differ at most in what kvip writes.
fn same_plan_inputs(a: &ServiceView, b: &ServiceView) -> bool {
    fn read(v: &ServiceView) -> impl Iterator<Item = (&String, &String)> {
        let written = [
            ANNOTATION_VIP_HOST,
            ANNOTATION_HWADDR,
            ANNOTATION_REQUESTED_IP,
        ];
        v.annotations
            .iter()
            .filter(move |(k, _)| !written.contains(&k.as_str()))
    }
    a.key == b.key
        && a.uid == b.uid
        && a.is_load_balancer == b.is_load_balancer
        && a.load_balancer_class == b.load_balancer_class
        && a.load_balancer_ip == b.load_balancer_ip
        && a.ports == b.ports
        && a.traffic_policy == b.traffic_policy
        && a.labels == b.labels
        && read(a).eq(read(b))
}

/// Joins Services that share an address (union-find over address users).
fn group(services: &BTreeMap<ServiceKey, PlannedService>) -> Vec<Group> {
    let wanting: Vec<&PlannedService> = services.values().filter(|s| s.wants_address()).collect();
    let mut parent: Vec<usize> = (0..wanting.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut first_user: BTreeMap<IpAddr, usize> = BTreeMap::new();
    for (i, s) in wanting.iter().enumerate() {
        for &address in &s.statics {
            let j = *first_user.entry(address).or_insert(i);
            let (a, b) = (root(&mut parent, i), root(&mut parent, j));
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut groups: BTreeMap<usize, Group> = BTreeMap::new();
    for (i, s) in wanting.iter().enumerate() {
        let r = root(&mut parent, i);
        let g = groups.entry(r).or_insert_with(|| Group {
            id: s.view.key.clone(),
            services: vec![],
            addresses: BTreeSet::new(),
            eligible: Eligibility::Nodes(BTreeSet::new()),
        });
        g.services.push(s.view.key.clone());
        g.addresses.extend(s.statics.iter().copied());
        g.eligible = match std::mem::replace(&mut g.eligible, Eligibility::Any) {
            Eligibility::Nodes(mut nodes) if s.local => {
                nodes.extend(s.ready_nodes.iter().cloned());
                Eligibility::Nodes(nodes)
            }
            _ => Eligibility::Any,
        };
    }
    groups.into_values().collect()
}

/// The interfaces of this node a Service may be announced on.
#[derive(Debug, Clone, Copy)]
pub struct Interfaces<'a> {
    /// The Services interface (empty when unknown: then nothing is reported).
    pub services: &'a str,
    /// This node's other interfaces (by name, with their MACs).
    pub others: &'a BTreeMap<String, MacAddr>,
}

impl Interfaces<'_> {
    /// The interface `view`'s static addresses go on: `None` for the Services interface (no
    /// `kube-vip.io/serviceInterface`, or it names the Services interface), else the one named;
    /// the message to report when this node has no such interface.
    pub fn link_of(&self, view: &ServiceView) -> Result<Option<String>, String> {
        let Some(wanted) = view.annotation(ANNOTATION_SERVICE_INTERFACE).map(str::trim) else {
            return Ok(None);
        };
        if wanted.is_empty() || self.services.is_empty() || wanted == self.services {
            return Ok(None);
        }
        if self.others.contains_key(wanted) {
            return Ok(Some(wanted.to_owned()));
        }
        let services = self.services;
        Err(format!(
            "{ANNOTATION_SERVICE_INTERFACE}={wanted}: this node has no interface {wanted}; \
             announced on the Services interface {services}"
        ))
    }
}
