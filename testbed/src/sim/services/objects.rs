//! The cluster's Services and endpoints as the API server stores them (the truth the watches
//! report), and the churn applied to them. Cluster-policy Services take addresses from
//! `10.0.0.0/24` and Local-policy ones from `10.0.1.0/24`, so an address is used by Services of
//! one policy only; each Service has its own port, so sharing an address never clashes.
//! Every node has the Services interface [`SERVICES_INTERFACE`] and [`OTHER_INTERFACE`]; a
//! Service names one of them in `kube-vip.io/serviceInterface`, or none, or one no node has
//! (announced on the Services interface).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use kvip_core::service::model::{ANNOTATION_LOADBALANCER_IPS, ANNOTATION_SERVICE_INTERFACE};
use kvip_core::service::{
    EndpointsView, Protocol, ServiceKey, ServicePort, ServiceView, TrafficPolicy,
};

/// How many addresses each pool has (small, so Services share some).
const POOL: u64 = 6;
/// Every node's Services interface.
pub const SERVICES_INTERFACE: &str = "eth0";
/// Every node's second interface.
pub const OTHER_INTERFACE: &str = "eth1";
/// An interface no node has.
const UNKNOWN_INTERFACE: &str = "eth9";

/// The stored objects.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    /// Services by key.
    pub services: BTreeMap<ServiceKey, ServiceView>,
    /// Endpoints by Service key.
    pub endpoints: BTreeMap<ServiceKey, EndpointsView>,
    created: u64,
}

/// Which nodes may announce one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// A Cluster-policy Service uses it: any node.
    Anywhere,
    /// Only Local-policy Services use it: nodes with a ready endpoint of one of them.
    OnlyOn(BTreeSet<String>),
}

impl Objects {
    /// Creates a Service (and its endpoints) from `roll`; returns what changed.
    pub fn create(&mut self, roll: u64, nodes: &[String]) -> (ServiceView, EndpointsView) {
        self.created += 1;
        let n = self.created;
        let local = roll.is_multiple_of(3);
        let key = ServiceKey::new("default", format!("svc-{n}"));
        let mut view = ServiceView {
            key: key.clone(),
            uid: format!("uid-{n}"),
            is_load_balancer: true,
            ports: vec![ServicePort {
                port: 1000 + n as u16,
                protocol: Protocol::Tcp,
            }],
            traffic_policy: if local {
                TrafficPolicy::Local
            } else {
                TrafficPolicy::Cluster
            },
            ..ServiceView::default()
        };
        set_address(&mut view, roll / 3);
        set_interface(&mut view, roll / 11);
        let ready = ready_nodes(roll / 17, nodes);
        let endpoints = EndpointsView {
            key: key.clone(),
            ready_nodes: ready,
        };
        self.services.insert(key.clone(), view.clone());
        self.endpoints.insert(key, endpoints.clone());
        (view, endpoints)
    }

    /// Deletes the Service `roll` picks (and its endpoints).
    pub fn delete(&mut self, roll: u64) -> Option<(ServiceView, EndpointsView)> {
        let key = self.pick(roll)?;
        let view = self.services.remove(&key)?;
        let endpoints = self.endpoints.remove(&key)?;
        Some((view, endpoints))
    }

    /// Gives the Service `roll` picks another address of its pool.
    pub fn readdress(&mut self, roll: u64) -> Option<ServiceView> {
        let key = self.pick(roll)?;
        let view = self.services.get_mut(&key)?;
        set_address(view, roll / 7);
        Some(view.clone())
    }

    /// Names another interface (or none) in the Service `roll` picks.
    pub fn reinterface(&mut self, roll: u64) -> Option<ServiceView> {
        let key = self.pick(roll)?;
        let view = self.services.get_mut(&key)?;
        set_interface(view, roll / 7);
        Some(view.clone())
    }

    /// Moves the ready endpoints of the Service `roll` picks.
    pub fn move_endpoints(&mut self, roll: u64, nodes: &[String]) -> Option<EndpointsView> {
        let key = self.pick(roll)?;
        let e = self.endpoints.get_mut(&key)?;
        e.ready_nodes = ready_nodes(roll / 7, nodes);
        Some(e.clone())
    }

    fn pick(&self, roll: u64) -> Option<ServiceKey> {
        let n = self.services.len() as u64;
        (n > 0).then(|| {
            let i = (roll % n) as usize;
            self.services.keys().nth(i).cloned().expect("in range")
        })
    }

    /// Every address some Service wants, and where it may be announced from.
    pub fn wanted(&self) -> BTreeMap<IpAddr, Wanted> {
        let mut out: BTreeMap<IpAddr, Wanted> = BTreeMap::new();
        for view in self.services.values() {
            let Some(address) = address_of(view) else {
                continue;
            };
            let here = match view.traffic_policy {
                TrafficPolicy::Cluster => Wanted::Anywhere,
                TrafficPolicy::Local => Wanted::OnlyOn(
                    self.endpoints
                        .get(&view.key)
                        .map(|e| e.ready_nodes.clone())
                        .unwrap_or_default(),
                ),
            };
            let merged = match (out.remove(&address), here) {
                (Some(Wanted::OnlyOn(mut a)), Wanted::OnlyOn(b)) => {
                    a.extend(b);
                    Wanted::OnlyOn(a)
                }
                (None, here) => here,
                _ => Wanted::Anywhere,
            };
            out.insert(address, merged);
        }
        out
    }
}

/// The interface every address wanted should end up on, where its Services agree on one
/// (none naming an interface the nodes have: the Services interface).
pub fn wanted_interfaces(
    services: &BTreeMap<ServiceKey, ServiceView>,
) -> BTreeMap<IpAddr, &'static str> {
    let mut by_address: BTreeMap<IpAddr, BTreeSet<&'static str>> = BTreeMap::new();
    for view in services.values() {
        if let Some(address) = address_of(view) {
            let link = match interface_of(view) {
                Some(OTHER_INTERFACE) => OTHER_INTERFACE,
                _ => SERVICES_INTERFACE,
            };
            by_address.entry(address).or_default().insert(link);
        }
    }
    by_address
        .into_iter()
        .filter(|(_, links)| links.len() == 1)
        .filter_map(|(address, links)| Some((address, *links.first()?)))
        .collect()
}

/// The interface a Service names, if any.
pub fn interface_of(view: &ServiceView) -> Option<&str> {
    view.annotation(ANNOTATION_SERVICE_INTERFACE)
}

/// The one address a Service of this world names.
pub fn address_of(view: &ServiceView) -> Option<IpAddr> {
    view.annotation(ANNOTATION_LOADBALANCER_IPS)?.parse().ok()
}

fn set_address(view: &mut ServiceView, roll: u64) {
    let third = match view.traffic_policy {
        TrafficPolicy::Cluster => 0,
        TrafficPolicy::Local => 1,
    };
    let ip = Ipv4Addr::new(10, 0, third, 1 + (roll % POOL) as u8);
    view.annotations
        .insert(ANNOTATION_LOADBALANCER_IPS.to_owned(), ip.to_string());
}

/// No interface (half the time), the other one, or one no node has.
fn set_interface(view: &mut ServiceView, roll: u64) {
    match roll % 8 {
        0..=3 => view.annotations.remove(ANNOTATION_SERVICE_INTERFACE),
        4..=6 => view.annotations.insert(
            ANNOTATION_SERVICE_INTERFACE.to_owned(),
            OTHER_INTERFACE.to_owned(),
        ),
        _ => view.annotations.insert(
            ANNOTATION_SERVICE_INTERFACE.to_owned(),
            UNKNOWN_INTERFACE.to_owned(),
        ),
    };
}

/// A subset of `nodes` (empty one time in eight).
fn ready_nodes(roll: u64, nodes: &[String]) -> BTreeSet<String> {
    let mask = roll % (1 << nodes.len());
    let mask = if (roll / 64).is_multiple_of(8) {
        0
    } else {
        mask
    };
    nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| n.clone())
        .collect()
}
